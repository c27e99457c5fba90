//! `GET /private/{key}?expires=…&signature=…`: a private file (a verification document)
//! through a link GraphQL signed for a viewer it had authorised. Anything else is refused
//! without saying whether the file exists.

use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use crate::state::AppState;

/// The query of a signed link.
#[derive(Debug, Deserialize)]
pub struct Signed {
    expires: Option<i64>,
    signature: Option<String>,
}

fn refused() -> Response {
    (StatusCode::FORBIDDEN, "This link is invalid or has expired.").into_response()
}

/// Serves the file when the link is valid and unexpired.
pub async fn serve(State(app): State<AppState>, Path(key): Path<String>, Query(signed): Query<Signed>) -> Response {
    let (Some(expires), Some(signature)) = (signed.expires, signed.signature) else {
        return refused();
    };
    if !app.storage.verify_link(&key, expires, &signature, chrono::Utc::now()) {
        return refused();
    }
    match app.storage.read_private(&key).await {
        Ok(Some(file)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(file.content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
                (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; sandbox"),
                ),
                (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            ],
            file.bytes,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "Not found.").into_response(),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "reading a private file");
            (StatusCode::INTERNAL_SERVER_ERROR, crate::error::INTERNAL_MESSAGE).into_response()
        }
    }
}
