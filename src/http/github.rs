//! `POST /webhooks/github`: GitHub's deliveries for the repositories orders link. The raw
//! body (at most [`MAX_BODY_BYTES`], else 413) is verified against `X-Hub-Signature-256`
//! before anything reads it: no secret configured answers 503, a missing or malformed
//! signature 400, a wrong one 401 — and none of them records anything. A verified delivery
//! without `X-GitHub-Event`/`X-GitHub-Delivery`, or whose payload is not what its event
//! promises, answers 400. Otherwise it is recorded and applied once (`code_link::webhook`)
//! and answered 200 when that transaction commits, whether it was new, a redelivery, a
//! `ping` or an event nobody handles. A failure while applying answers 500 and records
//! nothing, so GitHub's redelivery can try again.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use super::{body_refused, refuse};
use crate::{
    code_link::{
        github::{self, Rejection},
        webhook,
    },
    error::{Code, INTERNAL_MESSAGE},
    state::AppState,
};

/// Largest delivery accepted. GitHub caps payloads at 25 MB, but the events handled here are
/// a few KiB (a pull request with a long description stays far below this).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const EVENT_HEADER: &str = "x-github-event";
const DELIVERY_HEADER: &str = "x-github-delivery";
/// Longest delivery id or event name taken (GitHub's are a GUID and a short word).
const HEADER_MAX: usize = 100;

/// Handles one delivery.
pub async fn deliver(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            tracing::warn!(status = %rejection.status(), "GitHub webhook body refused");
            return body_refused(rejection);
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(rejection) = github::verify(
        app.config.github_webhook_secret.as_deref(),
        &body,
        header(SIGNATURE_HEADER),
    ) {
        return rejected(rejection);
    }
    let named = |name: &str| {
        header(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= HEADER_MAX)
    };
    let (Some(event), Some(id)) = (named(EVENT_HEADER), named(DELIVERY_HEADER)) else {
        return rejected(Rejection::MissingHeader);
    };
    let delivery = match webhook::read(id, event, &body) {
        Ok(delivery) => delivery,
        Err(rejection) => return rejected(rejection),
    };
    match webhook::process(&app, &delivery).await {
        Ok(processed) => {
            let outcome = processed.outcome.map(|o| o.as_str());
            tracing::info!(
                delivery = id,
                event,
                action = delivery.action.as_deref(),
                duplicate = processed.duplicate,
                outcome,
                "GitHub delivery"
            );
            (
                StatusCode::OK,
                Json(json!({ "received": true, "duplicate": processed.duplicate, "outcome": outcome })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(
                delivery = id,
                event,
                error = e.log_text(),
                "applying a GitHub delivery failed"
            );
            refuse(StatusCode::INTERNAL_SERVER_ERROR, Code::InternalError, INTERNAL_MESSAGE)
        }
    }
}

fn rejected(rejection: Rejection) -> Response {
    tracing::warn!(reason = rejection.reason(), "GitHub webhook refused");
    let (status, code) = match rejection {
        Rejection::NotConfigured => (StatusCode::SERVICE_UNAVAILABLE, Code::ProviderNotConfigured),
        Rejection::BadSignature => (StatusCode::UNAUTHORIZED, Code::Unauthorized),
        Rejection::MalformedSignature | Rejection::MissingHeader | Rejection::Unreadable => {
            (StatusCode::BAD_REQUEST, Code::ValidationError)
        }
    };
    refuse(status, code, rejection.reason())
}
