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
//! - the response is `application/graphql-response+json` or `application/json` as `Accept`
//!   asks (see [`super::media`]): under the first, a request error (nothing ran) answers 400
//!   with no `data`; under the second, 200 as legacy clients expect;
//! - batches are refused; introspection is refused with an error when disabled;
//! - every error leaves with an `extensions.code`.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use async_graphql::{
    http::MultipartOptions,
    parser::types::{BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet},
};
use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use futures_util::TryStreamExt;

use super::{
    context::RequestCtx,
    errors, idempotency,
    loader::request_loader,
    media::{is_request_error, ResponseMedia},
    AppSchema,
};
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
    /// The same schema with async-graphql's `ValidationMode::Fast`, which skips the
    /// validation rules (it still computes complexity and depth and enforces their limits).
    /// Only for requests that [`DocumentCache`] has seen pass `schema`'s full validation.
    pub prevalidated: AppSchema,
    /// For operations that select only introspection fields: the depth limit raised so that
    /// standard introspection queries pass (`None` when introspection is disabled).
    pub introspection: Option<AppSchema>,
    pub documents: Arc<DocumentCache>,
    /// Automatic persisted queries by hash.
    pub persisted: Arc<super::apq::PersistedQueries>,
    /// Open WebSocket connections on this instance.
    pub ws_connections: Arc<std::sync::atomic::AtomicUsize>,
}

/// Parsed documents by query text, each with the requests it has already passed validation
/// for. Clients send the same few queries over and over: cloning a parsed document costs a
/// fraction of parsing it again, and a request known to pass async-graphql's validation
/// rules can run on a schema that skips them ([`GraphqlState::prevalidated`]).
///
/// Bounded in entries and in (estimated) bytes: every document weighs at least
/// `max_bytes / max_entries`, and more when its text is long.
pub struct DocumentCache {
    documents: quick_cache::sync::Cache<String, Arc<CachedDocument>, DocumentWeight>,
}

/// Documents longer than this are parsed every time rather than cached.
const CACHEABLE_QUERY_BYTES: usize = 16 * 1024;

/// How many (operation, variables) shapes one document remembers as validated.
const VALIDATED_SHAPES_PER_DOCUMENT: usize = 8;

/// A shape longer than this (many or large non-string variables) is validated every time.
const CACHEABLE_SHAPE_BYTES: usize = 512;

/// Estimated bytes of a parsed document per byte of its text (positions, names, vectors).
const PARSED_BYTES_PER_TEXT_BYTE: u64 = 32;

/// A cached parse, and the requests on it that passed validation.
pub struct CachedDocument {
    doc: ExecutableDocument,
    validated: std::sync::Mutex<Vec<ValidationKey>>,
}

/// What validation of a parsed document depends on besides the schema: the selected
/// operation, and the variables' values (argument values are checked against their types,
/// and `complexity` expressions read arguments).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ValidationKey {
    operation: Option<String>,
    variables: String,
}

impl ValidationKey {
    /// The key of a request with these variables, or `None` when such requests are
    /// validated every time (uploads, or a shape longer than [`CACHEABLE_SHAPE_BYTES`]).
    ///
    /// A string value of a variable declared `ID`, `ID!`, `String` or `String!` counts only as
    /// "a string": validation requires such a variable to be used where exactly that scalar
    /// is expected, and every string is a valid `ID` or `String`. The only other reader of
    /// the content would be a `complexity` expression, and ours read `first` (an `Int`) only.
    /// Every other value (numbers, enums, lists, input objects, null) is part of the key as
    /// it is, so one id or username makes one key, while `first: 20` and `first: 500` do not.
    fn of(doc: &ExecutableDocument, request: &async_graphql::Request) -> Option<Self> {
        if !request.uploads.is_empty() {
            return None;
        }
        let definitions = selected_operation(doc, request.operation_name.as_deref())
            .map(|op| op.variable_definitions.as_slice())
            .unwrap_or_default();
        let shape: Vec<(&str, VariableShape)> = request
            .variables
            .iter()
            .map(|(name, value)| {
                let any_string = matches!(value, async_graphql::Value::String(_))
                    && definitions.iter().any(|def| {
                        def.node.name.node == *name
                            && matches!(&def.node.var_type.node.base,
                                BaseType::Named(ty) if matches!(ty.as_str(), "ID" | "String"))
                    });
                let shape = if any_string {
                    VariableShape::AnyString
                } else {
                    VariableShape::Value(value)
                };
                (name.as_str(), shape)
            })
            .collect();
        let variables = serde_json::to_string(&shape).ok()?;
        (variables.len() <= CACHEABLE_SHAPE_BYTES).then(|| Self {
            operation: request.operation_name.clone(),
            variables,
        })
    }
}

/// One variable in a [`ValidationKey`]: serialised as `"AnyString"` or `{"Value": …}`, so that
/// "some string" can never be confused with a value (`null` included).
#[derive(serde::Serialize)]
enum VariableShape<'a> {
    AnyString,
    Value(&'a async_graphql::Value),
}

impl CachedDocument {
    fn passed(&self, key: &ValidationKey) -> bool {
        self.validated.lock().is_ok_and(|validated| validated.contains(key))
    }

    fn remember(&self, key: ValidationKey) {
        if let Ok(mut validated) = self.validated.lock() {
            if validated.len() < VALIDATED_SHAPES_PER_DOCUMENT && !validated.contains(&key) {
                validated.push(key);
            }
        }
    }
}

/// Weighs a cached document by an estimate of its bytes, at least `floor`.
#[derive(Clone)]
struct DocumentWeight {
    floor: u64,
}

impl quick_cache::Weighter<String, Arc<CachedDocument>> for DocumentWeight {
    fn weight(&self, query: &String, _: &Arc<CachedDocument>) -> u64 {
        let shapes = (VALIDATED_SHAPES_PER_DOCUMENT * CACHEABLE_SHAPE_BYTES) as u64;
        (query.len() as u64 * (1 + PARSED_BYTES_PER_TEXT_BYTE) + shapes).max(self.floor)
    }
}

/// A request whose document came from the cache, and how it relates to validation.
pub struct Prepared {
    document: Option<(Arc<CachedDocument>, ValidationKey)>,
}

impl Prepared {
    /// Whether an identical request (same document, operation and variable shape) has
    /// passed the full validation before, so this one may run on the schema that skips it.
    pub fn prevalidated(&self) -> bool {
        self.document.as_ref().is_some_and(|(doc, key)| doc.passed(key))
    }

    /// Records the outcome of running the request on the fully validating schema. A
    /// response with data passed validation: async-graphql answers a request that fails
    /// validation (or parsing, or operation selection) with errors and `data: null`, while
    /// an executed operation always yields an object. A `null` data from execution itself
    /// is merely not remembered.
    pub fn ran_validated(self, response: &async_graphql::Response) {
        if response.data != async_graphql::Value::Null {
            if let Some((doc, key)) = self.document {
                doc.remember(key);
            }
        }
    }
}

impl DocumentCache {
    /// A cache of at most `max_entries` documents and about `max_bytes` bytes.
    pub fn new(max_entries: usize, max_bytes: u64) -> Self {
        let floor = (max_bytes / max_entries.max(1) as u64).max(1);
        Self {
            documents: quick_cache::sync::Cache::with_weighter(max_entries, max_bytes, DocumentWeight { floor }),
        }
    }

    /// Cached documents.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// Parses `request`'s document, or reuses the cached parse of the same text.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Prepared {
        let cached = match self.documents.get(request.query.as_str()) {
            Some(cached) => {
                request.set_parsed_query(cached.doc.clone());
                Some(cached)
            }
            None if request.query.len() <= CACHEABLE_QUERY_BYTES => {
                let query = request.query.clone();
                match request.parsed_query() {
                    Ok(doc) => {
                        let cached = Arc::new(CachedDocument {
                            doc: doc.clone(),
                            validated: Default::default(),
                        });
                        self.documents.insert(query, cached.clone());
                        Some(cached)
                    }
                    Err(_) => None,
                }
            }
            None => None,
        };
        Prepared {
            document: cached.and_then(|cached| {
                let key = ValidationKey::of(&cached.doc, request)?;
                Some((cached, key))
            }),
        }
    }
}

/// A failure before execution, answered in GraphQL's error shape.
fn reject(media: ResponseMedia, status: StatusCode, code: Code, message: &str) -> Response {
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

fn app_error_response(media: ResponseMedia, e: AppError) -> Response {
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
    json_response(media, status, &body)
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
    if !query_string.contains("query=") && !query_string.contains("extensions=") {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if wants_html && state.app.config.graphiql {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            return super::playground::page(&state, host);
        }
    }
    let Some(media) = ResponseMedia::negotiate(&headers) else {
        return not_acceptable();
    };
    if query_string.len() > state.app.config.limits.body_max_bytes {
        return reject(
            media,
            StatusCode::URI_TOO_LONG,
            Code::LimitExceeded,
            "The query string is too long.",
        );
    }
    let request = match parse_get(query_string) {
        Ok(request) => request,
        Err(problem) => return reject(media, StatusCode::BAD_REQUEST, Code::ValidationError, problem),
    };

    execute(state, request, method, peer, headers, media).await
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

/// `POST /graphql`: JSON or multipart.
pub async fn post(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limits = &state.app.config.limits;
    let Some(media) = ResponseMedia::negotiate(&headers) else {
        return refuse_unread(body, limits.body_max_bytes, not_acceptable()).await;
    };
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
                        media,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Code::LimitExceeded,
                        &format!("The request body is larger than {} bytes.", limits.body_max_bytes),
                    )
                }
            };
            if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                return reject(
                    media,
                    StatusCode::BAD_REQUEST,
                    Code::ValidationError,
                    "Batched requests are not supported.",
                );
            }
            match serde_json::from_slice::<async_graphql::Request>(&bytes) {
                Ok(request) => request,
                Err(_) => {
                    return reject(
                        media,
                        StatusCode::BAD_REQUEST,
                        Code::ValidationError,
                        "The body must be a JSON object with a `query` string and optional `variables` and `operationName`.",
                    )
                }
            }
        }
        "multipart/form-data" => {
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
                return refuse_unread(body, cap, refusal).await;
            }
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
                        media,
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Code::LimitExceeded,
                        &format!("At most {} files per request.", limits.upload_max_files),
                    )
                }
                Ok(request) => request,
                Err(async_graphql::ParseRequestError::PayloadTooLarge) => {
                    return reject(
                        media,
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
                        media,
                        StatusCode::BAD_REQUEST,
                        Code::ValidationError,
                        "Batched requests are not supported.",
                    )
                }
                Err(e) => {
                    let too_large = e.to_string().contains("length limit");
                    return if too_large {
                        reject(
                            media,
                            StatusCode::PAYLOAD_TOO_LARGE,
                            Code::LimitExceeded,
                            "The upload is too large.",
                        )
                    } else {
                        reject(
                            media,
                            StatusCode::BAD_REQUEST,
                            Code::ValidationError,
                            "Malformed multipart request.",
                        )
                    };
                }
            }
        }
        _ => {
            let refusal = reject(
                media,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::ValidationError,
                "Send GraphQL requests as application/json (or multipart/form-data for uploads).",
            );
            return refuse_unread(body, limits.body_max_bytes, refusal).await;
        }
    };
    execute(state, request, method, peer, headers, media).await
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

/// Whether every field a selection set selects at its level is an introspection field
/// (`__schema`, `__type`, `__typename`), looking through fragments.
fn only_introspection(doc: &ExecutableDocument, set: &SelectionSet, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    set.items.iter().all(|item| match &item.node {
        Selection::Field(field) => field.node.name.node.starts_with("__"),
        Selection::InlineFragment(fragment) => only_introspection(doc, &fragment.node.selection_set.node, depth + 1),
        Selection::FragmentSpread(spread) => doc
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| only_introspection(doc, &f.node.selection_set.node, depth + 1)),
    })
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
    media: ResponseMedia,
) -> Response {
    let started = Instant::now();
    let app = &state.app;

    match state.persisted.apply(&mut request) {
        Ok(()) => {}
        Err(super::apq::Refusal::NotFound) => {
            // Apollo's protocol: the client sends the query with its hash next.
            let body = serde_json::json!({ "errors": [{
                "message": "PersistedQueryNotFound",
                "extensions": { "code": "PERSISTED_QUERY_NOT_FOUND" },
            }] });
            return json_response(media, media.request_error_status(), &body);
        }
        Err(super::apq::Refusal::Malformed(message)) => {
            return reject(media, StatusCode::BAD_REQUEST, Code::ValidationError, message)
        }
        Err(super::apq::Refusal::HashMismatch) => {
            return reject(
                media,
                StatusCode::BAD_REQUEST,
                Code::ValidationError,
                "The query's SHA-256 does not match extensions.persistedQuery.sha256Hash.",
            )
        }
    }
    if request.query.is_empty() {
        return reject(
            media,
            StatusCode::BAD_REQUEST,
            Code::ValidationError,
            "The request has no query.",
        );
    }
    let operation_name = request.operation_name.clone();
    let prepared = state.documents.prepare(&mut request);
    let mut is_mutation = false;
    let mut introspection_only = false;
    // For metrics and traces: the operationName, or the name of a document's only operation.
    let mut label = operation_name.clone();
    if let Ok(doc) = request.parsed_query() {
        if let (None, DocumentOperations::Multiple(named)) = (&label, &doc.operations) {
            if named.len() == 1 {
                label = named.keys().next().map(|name| name.to_string());
            }
        }
        let op = selected_operation(doc, operation_name.as_deref());
        is_mutation = op.is_some_and(|op| op.ty == OperationType::Mutation);
        introspection_only =
            op.is_some_and(|op| op.ty == OperationType::Query && only_introspection(doc, &op.selection_set.node, 0));
        if method == Method::GET && op.is_some_and(|op| op.ty != OperationType::Query) {
            return reject(
                media,
                StatusCode::METHOD_NOT_ALLOWED,
                Code::ValidationError,
                "Only queries can be sent with GET; send mutations and subscriptions with POST.",
            );
        }
        if !app.config.introspection && op.is_some_and(|op| asks_for_introspection(doc, &op.selection_set.node, 0)) {
            // A request error like a validation failure: 200 under application/json.
            return reject(
                media,
                media.request_error_status(),
                Code::Forbidden,
                "Introspection is disabled on this server.",
            );
        }
    }

    let token = auth::presented_token(&headers);
    let auth = match auth::authenticate(app, token.as_deref()).await {
        Ok(auth) => auth,
        Err(e) => return app_error_response(media, e),
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
            return app_error_response(media, AppError::Validation(fields));
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
                http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
                http.headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return http;
            }
            Ok(idempotency::Claim::Mismatch) => {
                return reject(
                    media,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Code::Conflict,
                    "This Idempotency-Key was used for a different request; use a new key.",
                )
            }
            Ok(idempotency::Claim::InProgress) => {
                return reject(
                    media,
                    StatusCode::CONFLICT,
                    Code::Conflict,
                    "A request with this Idempotency-Key is still running; retry shortly.",
                )
            }
            Err(e) => return app_error_response(media, e),
        }
    }

    let operation = label;
    let span = tracing::info_span!(
        "graphql",
        operation = operation.as_deref().unwrap_or("-"),
        user = ?user_id,
        otel.name = tracing::field::Empty,
        graphql.errors = tracing::field::Empty,
    );
    if crate::telemetry::spans_enabled() {
        // The operation's span in traces: "graphql <operationName>".
        span.record(
            "otel.name",
            format!("graphql {}", operation.as_deref().unwrap_or("anonymous")),
        );
    }

    let request = request
        .data(RequestCtx {
            auth,
            client_addr: Some(client_addr(app, peer, &headers)),
            refresh_cookie: auth::cookie(&headers, REFRESH_COOKIE),
        })
        .data(request_loader(app.db.clone()));

    let mut response = if let Some(schema) = state.introspection.as_ref().filter(|_| introspection_only) {
        tracing::Instrument::instrument(schema.execute(request), span.clone()).await
    } else if prepared.prevalidated() {
        tracing::Instrument::instrument(state.prevalidated.execute(request), span.clone()).await
    } else {
        let response = tracing::Instrument::instrument(state.schema.execute(request), span.clone()).await;
        prepared.ran_validated(&response);
        response
    };
    if !response.errors.is_empty() {
        span.record("graphql.errors", response.errors.len());
    }
    errors::finalize(&mut response.errors);
    record_operation(operation.as_deref(), response.errors.is_empty(), started.elapsed());

    // A request error has no `data` entry at all (the specification's shape; under
    // application/graphql-response+json it also answers 4xx).
    let request_error = is_request_error(&response);
    let status = if request_error {
        media.request_error_status()
    } else {
        StatusCode::OK
    };
    // Sized for a typical page up front rather than grown from serde_json's 128 bytes.
    let mut body = Vec::with_capacity(8 * 1024);
    let written = if request_error {
        serde_json::to_writer(
            &mut body,
            &RequestErrorBody {
                errors: &response.errors,
                extensions: &response.extensions,
            },
        )
    } else {
        serde_json::to_writer(&mut body, &response)
    };
    let body = match written {
        Ok(()) => body,
        Err(e) => {
            tracing::error!(error = %e, "serialising a response");
            if let Some((user, key)) = &idempotency {
                let _ = idempotency::release(&app.db, *user, key).await;
            }
            return reject(
                media,
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
        // Nothing ran when the request failed validation: the key stays free for a fixed one.
        let stored = if failed_here || request_error {
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
    *http.status_mut() = status;
    http.headers_mut().insert(header::CONTENT_TYPE, media.content_type());
    for (name, value) in response.http_headers.iter() {
        http.headers_mut().append(name.clone(), value.clone());
    }
    http
}

/// A request error as sent: errors (and extensions), no `data`.
#[derive(serde::Serialize)]
struct RequestErrorBody<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, variables: serde_json::Value) -> async_graphql::Request {
        async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(variables))
    }

    fn key(query: &str, variables: serde_json::Value) -> Option<ValidationKey> {
        let mut request = request(query, variables);
        let doc = request.parsed_query().ok()?.clone();
        ValidationKey::of(&doc, &request)
    }

    #[test]
    fn ids_and_strings_share_a_key_other_values_do_not() {
        let query = "query($id: ID!, $name: String, $first: Int, $sort: GigSort) { a: gig(id: $id) { id } }";
        let one = key(
            query,
            serde_json::json!({ "id": "a", "name": "x", "first": 1, "sort": "NEWEST" }),
        );
        let other = key(
            query,
            serde_json::json!({ "id": "b", "name": "y", "first": 1, "sort": "NEWEST" }),
        );
        assert!(one.is_some());
        assert_eq!(one, other, "string contents of ID and String variables");
        for changed in [
            serde_json::json!({ "id": 7, "name": "x", "first": 1, "sort": "NEWEST" }),
            serde_json::json!({ "id": "a", "name": null, "first": 1, "sort": "NEWEST" }),
            serde_json::json!({ "id": "a", "name": "x", "first": 2, "sort": "NEWEST" }),
            serde_json::json!({ "id": "a", "name": "x", "first": 1, "sort": "OLDEST" }),
            serde_json::json!({ "id": "a", "name": "x", "first": 1 }),
            serde_json::json!({ "id": "a", "name": "x", "first": 1, "sort": "NEWEST", "extra": "z" }),
        ] {
            assert_ne!(one, key(query, changed.clone()), "{changed}");
        }
        // A string for a variable of another type (an enum here) is part of the key.
        let enum_key = |sort: &str| key("query($s: GigSort) { a }", serde_json::json!({ "s": sort }));
        assert_ne!(enum_key("NEWEST"), enum_key("BOGUS"));
        // Undeclared variables are never abstracted.
        let loose = |v: &str| key("{ a }", serde_json::json!({ "v": v }));
        assert_ne!(loose("1"), loose("2"));
    }

    #[test]
    fn the_operation_name_is_part_of_the_key() {
        let query = "query A($id: ID) { a } query B($id: ID) { b }";
        let named = |name: &str| {
            let mut request = request(query, serde_json::json!({ "id": "x" })).operation_name(name);
            let doc = request.parsed_query().ok()?.clone();
            ValidationKey::of(&doc, &request)
        };
        assert!(named("A").is_some());
        assert_ne!(named("A"), named("B"));
    }

    #[test]
    fn large_variables_are_validated_every_time() {
        let query = "query($first: Int, $tags: [String!]) { a }";
        let tags: Vec<String> = (0..200).map(|i| format!("tag{i}")).collect();
        assert!(key(query, serde_json::json!({ "first": 1 })).is_some());
        assert_eq!(key(query, serde_json::json!({ "tags": tags })), None);
    }

    #[test]
    fn the_cache_is_bounded_in_entries_and_bytes() {
        let cache = DocumentCache::new(4, 4 * 64 * 1024);
        for i in 0..50 {
            let mut request = request(&format!("{{ a{i}: gig(id: \"x\") {{ id }} }}"), serde_json::json!({}));
            cache.prepare(&mut request);
            assert!(request.parsed_query().is_ok());
        }
        assert!(cache.len() <= 4, "{} entries", cache.len());

        // Long documents weigh more: only a few fit, however many are sent.
        let cache = DocumentCache::new(1000, 1024 * 1024);
        for i in 0..50 {
            let fields: String = (0..300).map(|f| format!("f{f} ")).collect();
            let mut request = request(&format!("{{ a{i}: gig {{ {fields} }} }}"), serde_json::json!({}));
            cache.prepare(&mut request);
        }
        assert!(cache.documents.weight() <= 1024 * 1024);
        assert!(cache.len() < 20, "{} entries", cache.len());
    }

    #[test]
    fn remembered_shapes_are_bounded_per_document() {
        let cache = DocumentCache::new(16, 16 * 64 * 1024);
        let query = "query($first: Int) { a }";
        let data = async_graphql::Response::new(
            async_graphql::Value::from_json(serde_json::json!({ "a": 1 })).unwrap_or_default(),
        );
        for first in 0..(VALIDATED_SHAPES_PER_DOCUMENT as i32 + 5) {
            let mut req = request(query, serde_json::json!({ "first": first }));
            let prepared = cache.prepare(&mut req);
            assert!(!prepared.prevalidated());
            prepared.ran_validated(&data);
            let mut again = request(query, serde_json::json!({ "first": first }));
            let remembered = cache.prepare(&mut again).prevalidated();
            assert_eq!(
                remembered,
                (first as usize) < VALIDATED_SHAPES_PER_DOCUMENT,
                "first: {first}"
            );
        }
        // A failed validation (errors, no data) is not remembered.
        let failed = async_graphql::Response::from_errors(vec![async_graphql::ServerError::new("invalid", None)]);
        let mut req = request("query($id: ID) { b }", serde_json::json!({ "id": "x" }));
        cache.prepare(&mut req).ran_validated(&failed);
        let mut again = request("query($id: ID) { b }", serde_json::json!({ "id": "x" }));
        assert!(!cache.prepare(&mut again).prevalidated());
    }
}
