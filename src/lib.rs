//! gigmarket: one GraphQL API server for a freelance and gig marketplace.
//!
//! `build_router` is the one place the HTTP application is assembled; `prepare` readies the
//! database and state it needs and starts the background jobs. This is the wiring (what
//! starts what): the ground floors (`config`, `db`, `state`, `error`) import no domain and
//! no API layer. See the invariants in each domain's `mod.rs`.

// The merged Query/Mutation objects nest deeper than the default limit of 128 allows.
#![recursion_limit = "256"]

pub mod account;
pub mod admin;
pub mod application;
pub mod auth;
pub mod calendar;
pub mod call;
pub mod code_link;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod geocell;
pub mod gig;
pub mod graphql;
pub mod http;
pub mod ledger;
pub mod mail;
pub mod message;
pub mod notification;
pub mod order;
pub mod payment;
pub mod plan;
pub mod profile;
pub mod progress;
pub mod review;
pub mod scheduler;
pub mod seed;
pub mod sos;
pub mod state;
pub mod storage;
pub mod tally;
pub mod task;
pub mod telemetry;
pub mod timesheet;
pub mod validation;
pub mod verification;
pub mod vouch;

use std::time::Duration;

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};

use crate::{
    config::Config,
    error::{Code, INTERNAL_MESSAGE},
    events::relay::Relay,
    graphql::{apq::PersistedQueries, documents::DocumentCache, handler::GraphqlState},
    mail::SmtpRelay,
    state::AppState,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Creates the database if missing, runs migrations, prepares the upload folder and builds
/// the shared state.
/// For serving: also refuses to be a second instance without Redis and starts the background
/// jobs (event relay, view flushes, clean-up, mail).
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    let state = prepare_for_tools(config).await?;
    state.claim_single_instance().await?;
    spawn_background_tasks(&state)?;
    Ok(state)
}

/// Starts the background jobs, in this order: the event relay, the gig view flusher, the
/// scheduler's jobs, and the SMTP relay when configured. All of them use the jobs' pool.
fn spawn_background_tasks(state: &AppState) -> anyhow::Result<()> {
    Relay::new(
        state.jobs_db.clone(),
        state.bus.hub.clone(),
        state.relay_wake.clone(),
        state.config.events_retention,
    )
    .spawn();
    gig::views::spawn_flusher(state.gig_views.clone(), state.jobs_db.clone());
    scheduler::spawn(state.clone());
    if let (Some(url), Some(wake)) = (&state.config.smtp_url, &state.mail_wake) {
        SmtpRelay::new(url, &state.config.mail_from, state.jobs_db.clone(), wake.clone())?.spawn();
        tracing::info!(smtp = %config::redact_url(url), "mail relay started");
    }
    Ok(())
}

/// For commands beside a running server (`seed`, the load generator): the database and state
/// only. No background jobs: a tool's own event relay would publish events into a hub nobody
/// listens to.
pub async fn prepare_for_tools(config: Config) -> anyhow::Result<AppState> {
    db::create_database_if_missing(&config.database_url).await?;
    db::run_migrations(&config.database_url).await?;
    http::metrics::install()?;
    let state = AppState::new(config)?;
    state.storage.ensure_root().await?;
    Ok(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    // The panic's text goes to the log through the panic hook; the client learns nothing.
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(graphql::errors::error_body(Code::InternalError, INTERNAL_MESSAGE)),
    )
        .into_response()
}

fn cors(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("apollo-require-preflight"),
            HeaderName::from_static("x-apollo-operation-name"),
            HeaderName::from_static("graphql-preflight"),
        ])
        .expose_headers([REQUEST_ID])
        .max_age(Duration::from_secs(600))
}

/// Parsed GraphQL documents kept per instance: at most this many, ...
const DOCUMENT_CACHE_ENTRIES: usize = 1024;
/// ... and about this many bytes (estimated; a document weighs at least 32 KiB).
const DOCUMENT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Automatic persisted queries kept per instance: room for about this many, and at most
/// about this many bytes of hashes and query text.
const PERSISTED_QUERY_ENTRIES: usize = 4096;
const PERSISTED_QUERY_BYTES: u64 = 16 * 1024 * 1024;

/// The whole HTTP application.
pub fn build_router(state: AppState) -> Router {
    let graphql_routes = Router::new()
        .route("/graphql", get(graphql::handler::get).post(graphql::handler::post))
        .route("/graphql/ws", get(graphql::ws::upgrade))
        .route("/graphql/playground/{file}", get(graphql::playground::asset))
        .with_state(GraphqlState::new(
            state.clone(),
            DocumentCache::new(DOCUMENT_CACHE_ENTRIES, DOCUMENT_CACHE_BYTES),
            PersistedQueries::new(PERSISTED_QUERY_ENTRIES, PERSISTED_QUERY_BYTES),
        ));

    let uploads = Router::new()
        .nest_service(storage::PUBLIC_PREFIX, ServeDir::new(state.storage.root()))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        ));

    let sidecar = Router::new()
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .route("/metrics", get(http::metrics::render))
        .route(
            &format!("{}/{{*key}}", storage::PRIVATE_PREFIX),
            get(http::private_files::serve),
        )
        .route(
            "/webhooks/stripe",
            post(http::webhooks::stripe).layer(DefaultBodyLimit::max(http::webhooks::MAX_BODY_BYTES)),
        )
        .route(
            "/webhooks/github",
            post(http::github::deliver).layer(DefaultBodyLimit::max(http::github::MAX_BODY_BYTES)),
        )
        .route(
            "/internal/cron/cleanup",
            post(http::cron::cleanup).layer(DefaultBodyLimit::max(http::cron::MAX_BODY_BYTES)),
        )
        .with_state(state.clone());

    Router::new()
        .merge(graphql_routes)
        .merge(sidecar)
        .merge(uploads)
        .layer(axum::middleware::from_fn_with_state(
            http::server::BodyDeadline(state.config.http.body_read),
            http::server::body_deadline,
        ))
        .layer(CompressionLayer::new())
        .layer(cors(&state.config))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
