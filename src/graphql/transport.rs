//! `/graphql` over HTTP: reading requests and writing answers.
//!
//! async-graphql-axum's extractor reads the body itself (so axum's body limit does not
//! apply), accepts batches and any content type. The transport is done here by hand:
//! - `POST` takes `application/json` (or `application/graphql-response+json`) capped at
//!   `GRAPHQL_MAX_BODY_BYTES`, and `multipart/form-data` uploads capped per file and in count;
//!   content types a browser sends without a CORS preflight are refused (CSRF), and multipart
//!   must carry a header that forces a preflight;
//! - `GET` runs queries only: a mutation or subscription answers 405 with `Allow: POST`;
//!   a browser asking for HTML with no query gets GraphiQL (when enabled);
//! - the response is `application/graphql-response+json` or `application/json` as `Accept`
//!   asks (see [`super::media`]): under the first, a request error (nothing ran) answers 400
//!   with no `data`; under the second, 200 as legacy clients expect;
//! - batches are refused; introspection is refused with an error when disabled;
//! - every error leaves with an `extensions.code`.
//!
//! Every refusal before execution is an answer in GraphQL's error shape ([`reject`]).

// Early answers are `Result<_, Response>`: a response is large, but it is built once and moved
// once per request, and boxing it would only add an allocation to every refusal.
#![expect(clippy::result_large_err)]

use std::{collections::BTreeMap, net::SocketAddr};

use async_graphql::{http::MultipartOptions, parser::types::OperationType};
use axum::{
    body::Body,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;

use super::{
    apq,
    documents::Operation,
    errors,
    extensions::idempotency::Refused,
    media::{is_request_error, ResponseMedia},
};
use crate::{
    auth::{self, Auth},
    config::Limits,
    error::{AppError, Code, FieldErrors},
    state::AppState,
};

/// Headers that a browser cannot send cross-origin without a preflight; one of them must be
/// present on multipart requests (the same rule Apollo Server applies).
const PREFLIGHT_HEADERS: &[&str] = &[
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
];

/// How a request came: what the handler needs of it besides the GraphQL request itself.
pub struct Http {
    pub method: Method,
    pub peer: SocketAddr,
    pub headers: HeaderMap,
    /// The media type the answer is sent as.
    pub media: ResponseMedia,
}

/// A failure before execution, answered in GraphQL's error shape.
pub fn reject(media: ResponseMedia, status: StatusCode, code: Code, message: &str) -> Response {
    let mut response = json_response(media, status, &errors::error_body(code, message));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    response
}

/// A body in the negotiated media type.
fn json_response(media: ResponseMedia, status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, media.content_type());
    response
}

/// `Accept` names no type the server can send.
fn not_acceptable() -> Response {
    reject(
        ResponseMedia::Json,
        StatusCode::NOT_ACCEPTABLE,
        Code::ValidationError,
        "Accept must allow application/graphql-response+json or application/json.",
    )
}

/// An `AppError` raised before execution (authentication, the key store), answered with the
/// status its code calls for; an internal cause is logged, never sent.
pub fn app_error_response(media: ResponseMedia, e: AppError) -> Response {
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
    json_response(media, status, &app_error_body(&e))
}

/// The GraphQL error body of an `AppError` raised before execution: its code, and for a
/// validation error the fields it names (`extensions.fields`).
pub fn app_error_body(e: &AppError) -> serde_json::Value {
    let mut body = errors::error_body(e.code(), &e.public_message());
    if let AppError::Validation(fields) = e {
        let named: serde_json::Map<String, serde_json::Value> =
            fields.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
        body["errors"][0]["extensions"]["fields"] = named.into();
    }
    body
}

/// Reads a `GET /graphql`: the request and the media type to answer in, or the answer
/// itself (GraphiQL for a browser, or a refusal).
pub fn read_get(
    app: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(async_graphql::Request, ResponseMedia), Response> {
    let query_string = uri.query().unwrap_or_default();
    if !query_string.contains("query=") && !query_string.contains("extensions=") {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if wants_html && app.config.graphiql {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            return Err(super::playground::page(host));
        }
    }
    let Some(media) = ResponseMedia::negotiate(headers) else {
        return Err(not_acceptable());
    };
    if query_string.len() > app.config.limits.body_max_bytes {
        return Err(reject(
            media,
            StatusCode::URI_TOO_LONG,
            Code::LimitExceeded,
            "The query string is too long.",
        ));
    }
    match parse_get(query_string) {
        Ok(request) => Ok((request, media)),
        Err(problem) => Err(reject(media, StatusCode::BAD_REQUEST, Code::ValidationError, problem)),
    }
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
    if query.is_none() && extensions.is_none() {
        return Err("A GET request needs a `query` parameter.");
    }
    // Without `query`, `extensions` may name a persisted query (see `apq`).
    let mut request = async_graphql::Request::new(query.unwrap_or_default());
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

/// Reads a `POST /graphql`, JSON or multipart: the request and the media type to answer
/// in, or a refusal.
pub async fn read_post(
    limits: &Limits,
    headers: &HeaderMap,
    body: Body,
) -> Result<(async_graphql::Request, ResponseMedia), Response> {
    let Some(media) = ResponseMedia::negotiate(headers) else {
        return Err(refuse_unread(body, limits.body_max_bytes, not_acceptable()).await);
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let request = match essence {
        "application/json" | "application/graphql-response+json" => read_json(media, limits, body).await,
        "multipart/form-data" => read_multipart(media, limits, headers, &content_type, body).await,
        _ => {
            let refusal = reject(
                media,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::ValidationError,
                "Send GraphQL requests as application/json (or multipart/form-data for uploads).",
            );
            Err(refuse_unread(body, limits.body_max_bytes, refusal).await)
        }
    }?;
    Ok((request, media))
}

/// A JSON body: one request object (batches are refused), at most `body_max_bytes`.
async fn read_json(media: ResponseMedia, limits: &Limits, body: Body) -> Result<async_graphql::Request, Response> {
    let Ok(bytes) = axum::body::to_bytes(body, limits.body_max_bytes).await else {
        return Err(reject(
            media,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::LimitExceeded,
            &format!("The request body is larger than {} bytes.", limits.body_max_bytes),
        ));
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "Batched requests are not supported.",
        ));
    }
    serde_json::from_slice::<async_graphql::Request>(&bytes).map_err(|_| {
        reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "The body must be a JSON object with a `query` string and optional `variables` and `operationName`.",
        )
    })
}

/// A multipart upload (the GraphQL multipart request specification): only with a header
/// that forces a CORS preflight, capped per file and in count.
async fn read_multipart(
    media: ResponseMedia,
    limits: &Limits,
    headers: &HeaderMap,
    content_type: &str,
    body: Body,
) -> Result<async_graphql::Request, Response> {
    let cap = limits.upload_max_bytes.saturating_mul(limits.upload_max_files) + limits.body_max_bytes;
    if !PREFLIGHT_HEADERS
        .iter()
        .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
    {
        let refusal = reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::Forbidden,
            "Multipart requests must carry an `Apollo-Require-Preflight` (or `GraphQL-Preflight`) header.",
        );
        return Err(refuse_unread(body, cap, refusal).await);
    }
    let stream = http_body_util::Limited::new(body, cap);
    let reader = axum::body::Body::new(stream)
        .into_data_stream()
        .map_err(std::io::Error::other)
        .into_async_read();
    let opts = MultipartOptions::default()
        .max_file_size(limits.upload_max_bytes)
        .max_num_files(limits.upload_max_files);
    match async_graphql::http::receive_body(Some(content_type), reader, opts).await {
        // async-graphql sizes the stream from max_num_files but never counts the files.
        Ok(request) if request.uploads.len() > limits.upload_max_files => Err(reject(
            media,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::LimitExceeded,
            &format!("At most {} files per request.", limits.upload_max_files),
        )),
        Ok(request) => Ok(request),
        Err(async_graphql::ParseRequestError::PayloadTooLarge) => Err(reject(
            media,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::LimitExceeded,
            &format!(
                "Uploads are limited to {} bytes per file and {} files per request.",
                limits.upload_max_bytes, limits.upload_max_files
            ),
        )),
        Err(async_graphql::ParseRequestError::UnsupportedBatch) => Err(reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "Batched requests are not supported.",
        )),
        Err(e) if e.to_string().contains("length limit") => Err(reject(
            media,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::LimitExceeded,
            "The upload is too large.",
        )),
        Err(_) => Err(reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "Malformed multipart request.",
        )),
    }
}

/// Answers a POST refused before its body was read, after reading (and dropping) up to
/// `cap` bytes of that body: a server that answers and closes while the client is still
/// sending makes many clients (Node's fetch among them) fail with EPIPE, never seeing the
/// answer. Past `cap` the connection is closed regardless.
async fn refuse_unread(body: Body, cap: usize, refusal: Response) -> Response {
    let mut chunks = body.into_data_stream();
    let mut read = 0usize;
    while read <= cap {
        match futures_util::StreamExt::next(&mut chunks).await {
            Some(Ok(chunk)) => read += chunk.len(),
            Some(Err(_)) | None => break,
        }
    }
    refusal
}

/// The answer to an automatic persisted query that cannot go on.
pub fn persisted_refusal(media: ResponseMedia, refusal: apq::Refusal) -> Response {
    match refusal {
        apq::Refusal::NotFound => {
            // Apollo's protocol: the client sends the query with its hash next.
            let body = serde_json::json!({ "errors": [{
                "message": "PersistedQueryNotFound",
                "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" },
            }] });
            json_response(media, media.request_error_status(), &body)
        }
        apq::Refusal::Malformed(message) => reject(media, StatusCode::BAD_REQUEST, Code::ValidationError, message),
        apq::Refusal::HashMismatch => reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "The query's SHA-256 does not match extensions.persistedQuery.sha256Hash.",
        ),
    }
}

/// Refuses a request that has no query (nor a persisted one).
pub fn require_query(media: ResponseMedia, request: &async_graphql::Request) -> Result<(), Response> {
    if request.query.is_empty() {
        return Err(reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "The request has no query.",
        ));
    }
    Ok(())
}

/// Refuses what the transport does not run: a mutation or subscription sent with `GET`, and
/// introspection when it is disabled.
pub fn admit(app: &AppState, http: &Http, operation: &Operation) -> Result<(), Response> {
    let media = http.media;
    if http.method == Method::GET && operation.ty.is_some_and(|ty| ty != OperationType::Query) {
        return Err(reject(
            media,
            StatusCode::METHOD_NOT_ALLOWED,
            Code::ValidationError,
            "Only queries can be sent with GET; send mutations and subscriptions with POST.",
        ));
    }
    if !app.config.introspection && operation.asks_for_introspection {
        // A request error like a validation failure: 200 under application/json.
        return Err(reject(
            media,
            media.request_error_status(),
            Code::Forbidden,
            "Introspection is disabled on this server.",
        ));
    }
    Ok(())
}

/// Who sent the request: the access token it presents (header or cookie), checked.
pub async fn authenticate(app: &AppState, http: &Http) -> Result<Auth, Response> {
    let token = auth::presented_token(&http.headers);
    auth::authenticate(app, token.as_deref())
        .await
        .map_err(|e| app_error_response(http.media, e))
}

/// The `Idempotency-Key` header's key; a malformed one is refused, naming the header.
pub fn idempotency_key(http: &Http) -> Result<Option<String>, Response> {
    super::extensions::idempotency::key_from(&http.headers).map_err(|message| {
        let mut fields = FieldErrors::new();
        fields.add("Idempotency-Key", message);
        app_error_response(http.media, AppError::Validation(fields))
    })
}

/// The answer to a mutation whose `Idempotency-Key` was not free: the first answer again,
/// or a conflict.
pub fn idempotency_refusal(media: ResponseMedia, refused: Refused) -> Response {
    match refused {
        Refused::Replay(body) => {
            let mut http = Response::new(Body::from(body));
            http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
            http.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            http
        }
        Refused::Mismatch => reject(
            media,
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::Conflict,
            "This Idempotency-Key was used for a different request; use a new key.",
        ),
        Refused::InProgress => reject(
            media,
            StatusCode::CONFLICT,
            Code::Conflict,
            "A request with this Idempotency-Key is still running; retry shortly.",
        ),
        Refused::Failed(e) => app_error_response(media, e),
    }
}

/// The client's address: the first `X-Forwarded-For` hop behind a trusted proxy, else the
/// peer.
pub fn client_addr(app: &AppState, http: &Http) -> std::net::IpAddr {
    if app.config.trust_proxy_headers {
        if let Some(ip) = http
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
        {
            return ip;
        }
    }
    http.peer.ip()
}

/// An executed request's answer, serialised: a request error has no `data` entry at all
/// (the specification's shape; under `application/graphql-response+json` it also answers
/// 4xx).
pub struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    /// Serialises `response` (its errors already coded) as sent under `media`.
    pub fn of(media: ResponseMedia, response: &async_graphql::Response) -> serde_json::Result<Self> {
        let request_error = is_request_error(response);
        // Sized for a typical page up front rather than grown from serde_json's 128 bytes.
        let mut body = Vec::with_capacity(8 * 1024);
        if request_error {
            let shape = RequestErrorBody {
                errors: &response.errors,
                extensions: &response.extensions,
            };
            serde_json::to_writer(&mut body, &shape)?;
        } else {
            serde_json::to_writer(&mut body, response)?;
        }
        let status = if request_error {
            media.request_error_status()
        } else {
            StatusCode::OK
        };
        Ok(Self { status, body })
    }

    /// The body as sent.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The HTTP response, with the headers resolvers set on `response`.
    pub fn into_response(self, media: ResponseMedia, response: &async_graphql::Response) -> Response {
        let mut http = Response::new(Body::from(self.body));
        *http.status_mut() = self.status;
        http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
        for (name, value) in response.http_headers.iter() {
            http.headers_mut().append(name.clone(), value.clone());
        }
        http
    }
}

/// The answer when a response cannot be serialised.
pub fn unserialisable(media: ResponseMedia, e: serde_json::Error) -> Response {
    tracing::error!(error = %e, "serialising a response");
    reject(
        media,
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::InternalError,
        crate::error::INTERNAL_MESSAGE,
    )
}

/// A request error as sent: errors (and extensions), no `data`.
#[derive(serde::Serialize)]
struct RequestErrorBody<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}
