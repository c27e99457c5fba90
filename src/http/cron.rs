//! `POST /internal/cron/cleanup`: an external cron's way to run every scheduled job once
//! (the in-process scheduler runs them anyway; see `crate::scheduler`).
//!
//! The caller proves itself with `Authorization: Bearer <CRON_SECRET>`, compared in
//! constant time. Anything else answers 401 with a JSON error and runs nothing: a missing
//! header, another scheme, a wrong secret, and also a server without `CRON_SECRET` (the
//! route is then closed to everyone; no request could be authorised). No body is expected:
//! one over [`MAX_BODY_BYTES`] answers 413.
//!
//! The jobs run one after the other, in a task of their own (a caller that hangs up does not
//! cut a job short), and the answer reports each:
//! `{"jobs": {"releaseEscrow": {"ok": true, "released": 1, …}, "providerCalls": {"ok": true,
//! "skipped": true}, "purgeSentMail": {"ok": false, "error": "…"}}, "tookMs": 12}`.
//! `skipped` means that the job was already running (on another instance). The status is 200
//! unless a job failed (500, same body), so that `curl --fail` in a cron notices.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{body_refused, refuse};
use crate::{
    error::{Code, INTERNAL_MESSAGE},
    scheduler,
    state::AppState,
};

/// Largest body accepted; none is expected.
pub const MAX_BODY_BYTES: usize = 1024;

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotConfigured,
    MissingHeader,
    WrongScheme,
    WrongSecret,
}

impl Refusal {
    fn message(self) -> &'static str {
        match self {
            Refusal::NotConfigured => "The cron route is closed: CRON_SECRET is not set on this server.",
            Refusal::MissingHeader => "Send Authorization: Bearer <CRON_SECRET>.",
            Refusal::WrongScheme => "The Authorization header must use the Bearer scheme.",
            Refusal::WrongSecret => "The bearer token is not this server's CRON_SECRET.",
        }
    }
}

/// Whether `authorization` carries `secret` as a bearer token. Both sides are hashed first,
/// so the comparison takes the same time whatever the token's length and content.
pub fn authorize(secret: Option<&str>, authorization: Option<&HeaderValue>) -> Result<(), Refusal> {
    let secret = secret.ok_or(Refusal::NotConfigured)?;
    let value = authorization.ok_or(Refusal::MissingHeader)?;
    let value = value.to_str().map_err(|_| Refusal::WrongScheme)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(Refusal::WrongScheme)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::WrongScheme);
    }
    let given = Sha256::digest(token.trim().as_bytes());
    let expected = Sha256::digest(secret.as_bytes());
    if bool::from(given.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(Refusal::WrongSecret)
    }
}

/// Handles one call.
pub async fn cleanup(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let secret = app.config.payments.cron_secret.as_deref();
    if let Err(refusal) = authorize(secret, headers.get(header::AUTHORIZATION)) {
        tracing::warn!(?refusal, "cron call refused");
        let mut response = refuse(StatusCode::UNAUTHORIZED, Code::Unauthorized, refusal.message());
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    if let Err(rejection) = body {
        return body_refused(rejection);
    }
    let report = match tokio::spawn(async move { scheduler::run_all(&app).await }).await {
        Ok(report) => report,
        Err(e) => {
            tracing::error!(error = %e, "the cron run did not finish");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, Code::InternalError, INTERNAL_MESSAGE);
        }
    };
    let jobs: serde_json::Map<String, Value> = report
        .jobs
        .iter()
        .map(|(name, outcome)| ((*name).to_owned(), outcome.to_json()))
        .collect();
    let took_ms = u64::try_from(report.took.as_millis()).unwrap_or(u64::MAX);
    let status = if report.jobs.iter().any(|(_, outcome)| outcome.failed()) {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    tracing::info!(took_ms, %status, "cron run");
    (status, Json(json!({ "jobs": jobs, "tookMs": took_ms }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).unwrap()
    }

    #[test]
    fn only_the_configured_secret_as_a_bearer_passes() {
        let secret = Some("s3cret-cron-token");
        assert_eq!(authorize(secret, Some(&header("Bearer s3cret-cron-token"))), Ok(()));
        assert_eq!(authorize(secret, Some(&header("bearer s3cret-cron-token"))), Ok(()));
        assert_eq!(authorize(secret, None), Err(Refusal::MissingHeader));
        assert_eq!(
            authorize(secret, Some(&header("Basic s3cret-cron-token"))),
            Err(Refusal::WrongScheme)
        );
        for scheme_only in ["s3cret-cron-token", "Bearer ", "Bearer"] {
            assert_eq!(
                authorize(secret, Some(&header(scheme_only))),
                Err(Refusal::WrongScheme),
                "{scheme_only}"
            );
        }
        for wrong in [
            "Bearer s3cret-cron-tokeN",
            "Bearer s3cret-cron-token-and-more",
            "Bearer s3",
            "Bearer  x",
        ] {
            assert_eq!(
                authorize(secret, Some(&header(wrong))),
                Err(Refusal::WrongSecret),
                "{wrong}"
            );
        }
    }

    #[test]
    fn without_a_secret_nothing_passes() {
        assert_eq!(authorize(None, Some(&header("Bearer "))), Err(Refusal::NotConfigured));
        assert_eq!(authorize(None, Some(&header("Bearer x"))), Err(Refusal::NotConfigured));
        assert_eq!(authorize(None, None), Err(Refusal::NotConfigured));
    }
}
