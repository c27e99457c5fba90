//! `/graphql` over HTTP.
//!
//! async-graphql-axum's extractor reads the body itself (so axum's body limit does not
//! apply), accepts batches and any content type. This handler does the transport by hand:
//! - `POST` takes `application/json` (or `application/graphql-response+json`) capped at
//!   `GRAPHQL_MAX_BODY_BYTES`, and `multipart/form-data` uploads capped per file and in count;
//!   content types a browser sends without a CORS preflight are refused (CSRF), and multipart
//!   must carry a header that forces a preflight;
//! - `GET` runs queries only: a mutation or subscription answers 405 with `Allow: POST`;
//!   a browser asking for HTML with no query gets GraphiQL (when enabled);
//! - batches are refused; introspection is refused with an error when disabled;
//! - every error leaves with an `extensions.code`.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use async_graphql::{
    http::MultipartOptions,
    parser::types::{DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet},
};
use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;

use super::{context::RequestCtx, errors, idempotency, loader::request_loader, AppSchema};
use crate::{
    auth::{self, Auth, REFRESH_COOKIE},
    error::{AppError, Code},
    http::metrics::record_operation,
    state::AppState,
};

/// Headers that a browser cannot send cross-origin without a preflight; one of them must be
/// present on multipart requests (the same rule Apollo Server applies).
const PREFLIGHT_HEADERS: &[&str] = &[
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
];

/// Both the schema and the state, as the router's state for this route.
#[derive(Clone)]
pub struct GraphqlState {
    pub app: AppState,
    pub schema: AppSchema,
    pub documents: Arc<DocumentCache>,
    /// Open WebSocket connections on this instance.
    pub ws_connections: Arc<std::sync::atomic::AtomicUsize>,
}

/// Parsed documents by query text. Clients send the same few queries over and over, and
/// cloning a parsed document costs a fraction of parsing it again.
pub struct DocumentCache(quick_cache::sync::Cache<String, ExecutableDocument>);

/// Documents longer than this are parsed every time rather than cached.
const CACHEABLE_QUERY_BYTES: usize = 16 * 1024;

impl DocumentCache {
    pub fn new(capacity: usize) -> Self {
        Self(quick_cache::sync::Cache::new(capacity))
    }

    /// Parses `request`'s document, or reuses the cached parse of the same text.
    fn prepare(&self, request: &mut async_graphql::Request) {
        if let Some(doc) = self.0.get(request.query.as_str()) {
            request.set_parsed_query(doc);
            return;
        }
        if request.query.len() <= CACHEABLE_QUERY_BYTES {
            let query = request.query.clone();
            if let Ok(doc) = request.parsed_query() {
                self.0.insert(query, doc.clone());
            }
        }
    }
}

/// A failure before execution, answered in GraphQL's error shape.
fn reject(status: StatusCode, code: Code, message: &str) -> Response {
    let mut response = (status, axum::Json(errors::error_body(code, message))).into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

fn app_error_response(e: AppError) -> Response {
    let status = match e.code() {
        Code::Unauthorized => StatusCode::UNAUTHORIZED,
        Code::Forbidden => StatusCode::FORBIDDEN,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    if let AppError::Internal(cause) = &e {
        tracing::error!(error = format!("{cause:#}"), "request failed before execution");
    }
    let mut body = errors::error_body(e.code(), &e.public_message());
    if let AppError::Validation(fields) = &e {
        let named: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        body["errors"][0]["extensions"]["fields"] = named.into();
    }
    (status, axum::Json(body)).into_response()
}

/// `GET /graphql`: GraphiQL for browsers, queries for everyone else.
pub async fn get(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query_string = uri.query().unwrap_or_default();
    if !query_string.contains("query=") {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if wants_html && state.app.config.graphiql {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            return super::playground::page(&state, host);
        }
        return reject(
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "A GET request needs a `query` parameter.",
        );
    }
    if query_string.len() > state.app.config.limits.body_max_bytes {
        return reject(
            StatusCode::URI_TOO_LONG,
            Code::LimitExceeded,
            "The query string is too long.",
        );
    }
    let request = match parse_get(query_string) {
        Ok(request) => request,
        Err(problem) => return reject(StatusCode::BAD_REQUEST, Code::ValidationError, problem),
    };

    execute(state, request, method, peer, headers).await
}

/// Reads GraphQL-over-HTTP GET parameters: `query`, `operationName`, and JSON-encoded
/// `variables` and `extensions`. (async-graphql's own parser expects `operation_name`.)
fn parse_get(query_string: &str) -> Result<async_graphql::Request, &'static str> {
    let mut query = None;
    let mut operation_name = None;
    let mut variables = None;
    let mut extensions = None;
    for (key, value) in url::form_urlencoded::parse(query_string.as_bytes()) {
        let slot = match key.as_ref() {
            "query" => &mut query,
            "operationName" => &mut operation_name,
            "variables" => &mut variables,
            "extensions" => &mut extensions,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err("Each GET parameter may appear once.");
        }
    }
    let mut request = async_graphql::Request::new(query.ok_or("A GET request needs a `query` parameter.")?);
    if let Some(name) = operation_name.filter(|n| !n.is_empty()) {
        request = request.operation_name(name);
    }
    if let Some(raw) = variables.filter(|v| !v.is_empty()) {
        let value: serde_json::Value = serde_json::from_str(&raw).map_err(|_| "`variables` must be a JSON object.")?;
        if !value.is_object() {
            return Err("`variables` must be a JSON object.");
        }
        request = request.variables(async_graphql::Variables::from_json(value));
    }
    if let Some(raw) = extensions.filter(|v| !v.is_empty()) {
        request.extensions = serde_json::from_str(&raw).map_err(|_| "`extensions` must be a JSON object.")?;
    }
    Ok(request)
}

/// `POST /graphql`: JSON or multipart.
pub async fn post(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limits = &state.app.config.limits;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or_default().trim();

    let request = match essence {
        "application/json" | "application/graphql-response+json" => {
            let bytes = match axum::body::to_bytes(body, limits.body_max_bytes).await {
                Ok(bytes) => bytes,
                Err(_) => {
                    return reject(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Code::LimitExceeded,
                        &format!("The request body is larger than {} bytes.", limits.body_max_bytes),
                    )
                }
            };
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                return reject(
                    StatusCode::BAD_REQUEST,
                    Code::ValidationError,
                    "Batched requests are not supported.",
                );
            }
            match serde_json::from_slice::<async_graphql::Request>(&bytes) {
                Ok(request) => request,
                Err(_) => {
                    return reject(
                        StatusCode::BAD_REQUEST,
                        Code::ValidationError,
                        "The body must be a JSON object with a `query` string and optional `variables` and `operationName`.",
                    )
                }
            }
        }
        "multipart/form-data" => {
            if !PREFLIGHT_HEADERS
                .iter()
                .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
            {
                return reject(
                    StatusCode::BAD_REQUEST,
                    Code::Forbidden,
                    "Multipart requests must carry an `Apollo-Require-Preflight` (or `GraphQL-Preflight`) header.",
                );
            }
            let cap = limits.upload_max_bytes.saturating_mul(limits.upload_max_files) + limits.body_max_bytes;
            let stream = http_body_util::Limited::new(body, cap);
            let reader = axum::body::Body::new(stream)
                .into_data_stream()
                .map_err(std::io::Error::other)
                .into_async_read();
            let opts = MultipartOptions::default()
                .max_file_size(limits.upload_max_bytes)
                .max_num_files(limits.upload_max_files);
            match async_graphql::http::receive_body(Some(content_type.as_str()), reader, opts).await {
                // async-graphql sizes the stream from max_num_files but never counts the files.
                Ok(request) if request.uploads.len() > limits.upload_max_files => {
                    return reject(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Code::LimitExceeded,
                        &format!("At most {} files per request.", limits.upload_max_files),
                    )
                }
                Ok(request) => request,
                Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
                    return reject(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Code::LimitExceeded,
                        &format!(
                            "Uploads are limited to {} bytes per file and {} files per request.",
                            limits.upload_max_bytes, limits.upload_max_files
                        ),
                    )
                }
                Err(async_graphql::ParseRequestError::UnsupportedBatch) => {
                    return reject(
                        StatusCode::BAD_REQUEST,
                        Code::ValidationError,
                        "Batched requests are not supported.",
                    )
                }
                Err(e) => {
                    let too_large = e.to_string().contains("length limit");
                    return if too_large {
                        reject(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            Code::LimitExceeded,
                            "The upload is too large.",
                        )
                    } else {
                        reject(
                            StatusCode::BAD_REQUEST,
                            Code::ValidationError,
                            "Malformed multipart request.",
                        )
                    };
                }
            }
        }
        _ => {
            return reject(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::ValidationError,
                "Send GraphQL requests as application/json (or multipart/form-data for uploads).",
            )
        }
    };
    execute(state, request, method, peer, headers).await
}

/// The operation the request selects, if the document names it unambiguously.
fn selected_operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a async_graphql::parser::types::OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next().map(|op| &op.node),
        _ => None,
    }
}

/// Whether a selection set asks for `__schema` or `__type`, looking through fragments.
fn asks_for_introspection(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => matches!(field.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(fragment) => {
            asks_for_introspection(doc, &fragment.node.selection_set.node, depth + 1)
        }
        Selection::FragmentSpread(spread) => doc
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| asks_for_introspection(doc, &f.node.selection_set.node, depth + 1)),
    })
}

fn client_addr(app: &AppState, peer: SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
    if app.config.trust_proxy_headers {
        if let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
    }
    peer.ip()
}

async fn execute(
    state: GraphqlState,
    mut request: async_graphql::Request,
    method: Method,
    peer: SocketAddr,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let app = &state.app;

    let operation_name = request.operation_name.clone();
    state.documents.prepare(&mut request);
    let mut is_mutation = false;
    if let Ok(doc) = request.parsed_query() {
        let op = selected_operation(doc, operation_name.as_deref());
        is_mutation = op.is_some_and(|op| op.ty == OperationType::Mutation);
        if method == Method::GET && op.is_some_and(|op| op.ty != OperationType::Query) {
            return reject(
                StatusCode::METHOD_NOT_ALLOWED,
                Code::ValidationError,
                "Only queries can be sent with GET; send mutations and subscriptions with POST.",
            );
        }
        if !app.config.introspection && op.is_some_and(|op| asks_for_introspection(doc, &op.selection_set.node, 0)) {
            return reject(
                StatusCode::BAD_REQUEST,
                Code::Forbidden,
                "Introspection is disabled on this server.",
            );
        }
    }

    let token = auth::presented_token(&headers);
    let auth = match auth::authenticate(app, token.as_deref()).await {
        Ok(auth) => auth,
        Err(e) => return app_error_response(e),
    };
    let user_id = match &auth {
        Auth::User(viewer) => Some(viewer.id()),
        _ => None,
    };
    // A mutation sent with an Idempotency-Key by a signed-in user runs once per key.
    let idempotency = match idempotency::key_from(&headers) {
        Err(message) => {
            let mut fields = crate::error::FieldErrors::new();
            fields.add("Idempotency-Key", message);
            return app_error_response(AppError::Validation(fields));
        }
        Ok(Some(key)) if is_mutation => user_id.map(|user| (user, key)),
        Ok(_) => None,
    };
    if let Some((user, key)) = &idempotency {
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        let hash = idempotency::request_hash(operation_name.as_deref(), &request.query, &variables);
        match idempotency::claim(&app.db, *user, key, &hash).await {
            Ok(idempotency::Claim::Fresh) => {}
            Ok(idempotency::Claim::Replay(body)) => {
                let mut http = Response::new(Body::from(body));
                http.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                http.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return http;
            }
            Ok(idempotency::Claim::Mismatch) => {
                return reject(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Code::Conflict,
                    "This Idempotency-Key was used for a different request; use a new key.",
                )
            }
            Ok(idempotency::Claim::InProgress) => {
                return reject(
                    StatusCode::CONFLICT,
                    Code::Conflict,
                    "A request with this Idempotency-Key is still running; retry shortly.",
                )
            }
            Err(e) => return app_error_response(e),
        }
    }

    let operation = operation_name;
    let span = tracing::info_span!("graphql", operation = operation.as_deref().unwrap_or("-"), user = ?user_id);

    let request = request
        .data(RequestCtx {
            auth,
            client_addr: Some(client_addr(app, peer, &headers)),
            refresh_cookie: auth::cookie(&headers, REFRESH_COOKIE),
        })
        .data(request_loader(app.db.clone()));

    let mut response = tracing::Instrument::instrument(state.schema.execute(request), span).await;
    errors::finalize(&mut response.errors);
    record_operation(operation.as_deref(), response.errors.is_empty(), started.elapsed());

    // Sized for a typical page up front rather than grown from serde_json's 128 bytes.
    let mut body = Vec::with_capacity(8 * 1024);
    let body = match serde_json::to_writer(&mut body, &response) {
        Ok(()) => body,
        Err(e) => {
            tracing::error!(error = %e, "serialising a response");
            if let Some((user, key)) = &idempotency {
                let _ = idempotency::release(&app.db, *user, key).await;
            }
            return reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                Code::InternalError,
                crate::error::INTERNAL_MESSAGE,
            );
        }
    };
    if let Some((user, key)) = &idempotency {
        let failed_here = response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|ext| ext.get("code"))
                .is_some_and(|code| *code == async_graphql::Value::from(Code::InternalError.as_str()))
        });
        let stored = if failed_here {
            idempotency::release(&app.db, *user, key).await
        } else {
            idempotency::finish(&app.db, *user, key, &String::from_utf8_lossy(&body)).await
        };
        // The mutation ran; only the replay record is missing. Log it and answer.
        if let Err(AppError::Internal(cause)) = stored {
            tracing::error!(error = format!("{cause:#}"), "storing an idempotent answer");
        }
    }
    let mut http = Response::new(Body::from(body));
    http.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in response.http_headers.iter() {
        http.headers_mut().append(name.clone(), value.clone());
    }
    http
}
