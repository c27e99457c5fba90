//! The REST sidecar next to GraphQL: health, readiness, metrics, signed private files, the
//! payment provider's and GitHub's webhooks and the external cron's route; and the server's connection
//! loop with its read timeouts ([`server`]).

pub mod cron;
pub mod github;
pub mod health;
pub mod metrics;
pub mod private_files;
pub mod server;
pub mod webhooks;

use axum::{
    extract::rejection::BytesRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::error::Code;

/// A refusal of a sidecar route: `status` with `{"error": {"code", "message"}}`.
pub(crate) fn refuse(status: StatusCode, code: Code, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "code": code.as_str(), "message": message } })),
    )
        .into_response()
}

/// A body that could not be read: 413 when over the route's limit, 400 otherwise.
pub(crate) fn body_refused(rejection: BytesRejection) -> Response {
    let status = rejection.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        Code::LimitExceeded
    } else {
        Code::ValidationError
    };
    refuse(status, code, &rejection.body_text())
}
