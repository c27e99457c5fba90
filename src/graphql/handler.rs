//! `/graphql` over HTTP, from request to answer. [`get`] and [`post`] read the request (the
//! rules are [`super::transport`]'s); [`execute`] runs it in named steps: the persisted
//! query, the parse through the document cache ([`super::documents`]), the transport's
//! admission rules, the refusal of U+0000 in any input ([`super::nul`]), who is asking, the
//! run on the schema the operation calls for, and the answer.
//!
//! [`GraphqlState`], the route's state, holds those schemas: a validating one and its twin
//! that skips validation for requests seen to pass, the same pair with the idempotency
//! extension for mutations sent with an `Idempotency-Key` (only they pay for an extension),
//! and one with a deeper depth limit for standard introspection queries.

// Early answers are `Result<_, Response>`: a response is large, but it is built once and moved
// once per request, and boxing it would only add an allocation to every refusal.
#![expect(clippy::result_large_err)]

use std::{
    net::SocketAddr,
    sync::{atomic::AtomicUsize, Arc},
};

use async_graphql::ValidationMode;
use axum::{
    body::Body,
    extract::{ConnectInfo, FromRef, State},
    http::{HeaderMap, Method, Uri},
    response::Response,
};
use tracing::Instrument;

use super::{
    apq::PersistedQueries,
    context::RequestCtx,
    documents::{DocumentCache, Operation, Prepared, TwinSchema},
    errors,
    extensions::{idempotency::Pending, metrics::OperationClock},
    loader::request_loader,
    media::ResponseMedia,
    transport::{self, Answer, Http},
    AppSchema,
};
use crate::{
    auth::{self, Auth, REFRESH_COOKIE},
    state::AppState,
};

/// The schemas, caches and state of the GraphQL routes.
#[derive(Clone)]
pub struct GraphqlState {
    pub app: AppState,
    /// Queries, subscriptions, and mutations sent without an `Idempotency-Key`.
    pub schema: TwinSchema,
    /// The same schemas with the idempotency extension, for mutations that a signed-in user
    /// sends with an `Idempotency-Key`.
    pub idempotent: TwinSchema,
    /// For operations that select only introspection fields: the depth limit raised so that
    /// standard introspection queries pass (`None` when introspection is disabled).
    pub introspection: Option<AppSchema>,
    pub documents: Arc<DocumentCache>,
    /// Automatic persisted queries by hash.
    pub persisted: Arc<PersistedQueries>,
    /// Open WebSocket connections on this instance.
    pub ws_connections: Arc<AtomicUsize>,
}

impl GraphqlState {
    /// The state of `app`'s GraphQL routes, with these caches.
    pub fn new(app: AppState, documents: DocumentCache, persisted: PersistedQueries) -> Self {
        Self {
            schema: TwinSchema {
                strict: super::build_schema(app.clone()),
                fast: super::build_prevalidated_schema(app.clone()),
            },
            idempotent: TwinSchema {
                strict: super::build_idempotent_schema(app.clone(), ValidationMode::Strict),
                fast: super::build_idempotent_schema(app.clone(), ValidationMode::Fast),
            },
            introspection: super::build_introspection_schema(app.clone()),
            documents: Arc::new(documents),
            persisted: Arc::new(persisted),
            ws_connections: Arc::default(),
            app,
        }
    }
}

impl FromRef<GraphqlState> for AppState {
    fn from_ref(state: &GraphqlState) -> Self {
        state.app.clone()
    }
}

/// `GET /graphql`: GraphiQL for browsers, queries for everyone else.
pub async fn get(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let read = transport::read_get(&state.app, &uri, &headers);
    execute_read(&state, read, method, peer, headers).await
}

/// `POST /graphql`: JSON or multipart.
pub async fn post(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let read = transport::read_post(&state.app.config.limits, &headers, body).await;
    execute_read(&state, read, method, peer, headers).await
}

/// Runs a request the transport read, or sends the answer it gave instead.
async fn execute_read(
    state: &GraphqlState,
    read: Result<(async_graphql::Request, ResponseMedia), Response>,
    method: Method,
    peer: SocketAddr,
    headers: HeaderMap,
) -> Response {
    match read {
        Ok((request, media)) => {
            let http = Http {
                method,
                peer,
                headers,
                media,
            };
            execute(state, request, &http).await
        }
        Err(answer) => answer,
    }
}

/// Runs one request and answers it.
async fn execute(state: &GraphqlState, request: async_graphql::Request, http: &Http) -> Response {
    let (Ok(answer) | Err(answer)) = steps(state, request, http).await;
    answer
}

/// The steps of [`execute`]; `Err` is an answer sent instead of running the request.
async fn steps(state: &GraphqlState, mut request: async_graphql::Request, http: &Http) -> Result<Response, Response> {
    let clock = OperationClock::start();
    let app = &state.app;
    state
        .persisted
        .apply(&mut request)
        .map_err(|refusal| transport::persisted_refusal(http.media, refusal))?;
    transport::require_query(http.media, &request)?;

    let prepared = state.documents.prepare(&mut request);
    let operation = Operation::of(&mut request);
    transport::admit(app, http, &operation)?;
    super::nul::refuse_nul(&mut request).map_err(|e| transport::app_error_response(http.media, e))?;

    let auth = transport::authenticate(app, http).await?;
    let idempotency = idempotency(&auth, http, &operation, &request)?;
    let span = span(&operation, &auth);
    let request = with_context(app, http, auth, idempotency.clone(), request);

    let idempotent = idempotency.is_some();
    let mut response = run(state, &operation, prepared, idempotent, request)
        .instrument(span.clone())
        .await;
    if let Some(refused) = idempotency.as_ref().and_then(|key| key.refusal()) {
        return Err(transport::idempotency_refusal(http.media, refused));
    }
    if !response.errors.is_empty() {
        span.record("graphql.errors", response.errors.len());
    }
    errors::finalize(&mut response.errors);
    clock.record(operation.label.as_deref(), response.errors.is_empty());
    Ok(respond(app, http, &response, idempotency.as_deref()).await)
}

/// A mutation sent with an `Idempotency-Key` by a signed-in user runs once per key; a
/// malformed key is refused whatever the operation.
fn idempotency(
    auth: &Auth,
    http: &Http,
    operation: &Operation,
    request: &async_graphql::Request,
) -> Result<Option<Arc<Pending>>, Response> {
    let key = transport::idempotency_key(http)?;
    Ok(match (key, auth) {
        (Some(key), Auth::User(viewer)) if operation.is_mutation() => Some(Pending::new(viewer.id(), key, request)),
        _ => None,
    })
}

/// The operation's span: `graphql` with the operation and the user, named
/// "graphql <operationName>" in traces.
fn span(operation: &Operation, auth: &Auth) -> tracing::Span {
    let user_id = match auth {
        Auth::User(viewer) => Some(viewer.id()),
        _ => None,
    };
    let span = tracing::info_span!(
        "graphql",
        operation = operation.label.as_deref().unwrap_or("-"),
        user = ?user_id,
        otel.name = tracing::field::Empty,
        graphql.errors = tracing::field::Empty,
    );
    if crate::telemetry::spans_enabled() {
        span.record(
            "otel.name",
            format!("graphql {}", operation.label.as_deref().unwrap_or("anonymous")),
        );
    }
    span
}

/// The request with what resolvers read: who is asking and from where, the refresh cookie,
/// the request's loaders, and its idempotency key (for the extension).
fn with_context(
    app: &AppState,
    http: &Http,
    auth: Auth,
    idempotency: Option<Arc<Pending>>,
    request: async_graphql::Request,
) -> async_graphql::Request {
    let request = request
        .data(RequestCtx {
            auth,
            client_addr: Some(transport::client_addr(app, http)),
            refresh_cookie: auth::cookie(&http.headers, REFRESH_COOKIE),
        })
        .data(request_loader(app.db.clone()));
    match idempotency {
        Some(key) => request.data(key),
        None => request,
    }
}

/// Runs the request on the schema its operation calls for: `idempotent` when it carries an
/// idempotency key to claim.
async fn run(
    state: &GraphqlState,
    operation: &Operation,
    prepared: Prepared,
    idempotent: bool,
    request: async_graphql::Request,
) -> async_graphql::Response {
    match &state.introspection {
        Some(schema) if operation.introspection_only => schema.execute(request).await,
        _ if idempotent => state.idempotent.execute(prepared, request).await,
        _ => state.schema.execute(prepared, request).await,
    }
}

/// Serialises the answer, settles its idempotency key, and sends it.
async fn respond(
    app: &AppState,
    http: &Http,
    response: &async_graphql::Response,
    idempotency: Option<&Pending>,
) -> Response {
    let answer = Answer::of(http.media, response);
    if let Some(key) = idempotency {
        let body = answer.as_ref().ok().map(Answer::body);
        key.settle(&app.db, response, body).await;
    }
    match answer {
        Ok(answer) => answer.into_response(http.media, response),
        Err(e) => transport::unserialisable(http.media, e),
    }
}
