//! `POST /webhooks/stripe`: Stripe's deliveries. The raw body (at most [`MAX_BODY_BYTES`],
//! else 413) is verified against `Stripe-Signature` before anything reads it; a refused
//! delivery answers 400 (503 when no webhook secret is configured) and changes nothing. A
//! verified event is recorded and applied once (`payment::webhook`) and answered 200 as soon
//! as that transaction commits, whether it was new, a redelivery, or of a type nobody
//! handles. A failure while applying answers 500 and records nothing, so Stripe retries.

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
    error::{Code, INTERNAL_MESSAGE},
    order,
    payment::{
        self,
        webhook::{self, Handler, Rejection},
    },
    plan,
    state::AppState,
};

/// Which handler takes which Stripe event type; every other type is acknowledged and
/// recorded as IGNORED. Each handler lives in the domain its object is about (see
/// `payment::webhook` to write one).
pub const HANDLERS: &[(&str, Handler)] = &[
    ("account.updated", payment::webhook::account_updated),
    ("checkout.session.completed", order::webhook::checkout_session_completed),
    ("payment_intent.succeeded", order::webhook::payment_intent_succeeded),
    ("payment_intent.payment_failed", order::webhook::payment_intent_failed),
    ("charge.refunded", order::webhook::charge_refunded),
    ("charge.dispute.created", order::webhook::charge_dispute_created),
    ("customer.subscription.created", plan::webhook::subscription_changed),
    ("customer.subscription.updated", plan::webhook::subscription_changed),
    ("customer.subscription.deleted", plan::webhook::subscription_deleted),
    ("invoice.paid", plan::webhook::invoice_paid),
    ("invoice.payment_failed", plan::webhook::invoice_payment_failed),
];

/// The handler of `event_type`, if any.
pub fn handler(event_type: &str) -> Option<Handler> {
    HANDLERS
        .iter()
        .find(|(name, _)| *name == event_type)
        .map(|(_, handler)| *handler)
}

/// Largest delivery accepted. Stripe's events are a few KiB; the largest objects (an invoice
/// with many lines) stay far below this.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

const SIGNATURE_HEADER: &str = "stripe-signature";

/// Handles one delivery.
pub async fn stripe(State(app): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            tracing::warn!(status = %rejection.status(), "Stripe webhook body refused");
            return body_refused(rejection);
        }
    };
    // Not UTF-8 cannot be what Stripe signed.
    let Ok(payload) = std::str::from_utf8(&body) else {
        return rejected(Rejection::BadSignature);
    };
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let verified = match webhook::verify(payload, signature, &app.config.payments.stripe_webhook_secrets) {
        Ok(verified) => verified,
        Err(rejection) => return rejected(rejection),
    };
    let (id, kind) = (verified.id.as_str(), verified.event_type.as_str());
    match webhook::process(&app, &verified, handler(kind)).await {
        Ok(processed) => {
            let outcome = processed.outcome.map(|o| o.as_str());
            tracing::info!(
                event_id = id,
                event_type = kind,
                duplicate = processed.duplicate,
                outcome,
                "Stripe event"
            );
            (
                StatusCode::OK,
                Json(json!({ "received": true, "duplicate": processed.duplicate, "outcome": outcome })),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(
                event_id = id,
                event_type = kind,
                error = e.log_text(),
                "applying a Stripe event failed"
            );
            refuse(StatusCode::INTERNAL_SERVER_ERROR, Code::InternalError, INTERNAL_MESSAGE)
        }
    }
}

fn rejected(rejection: Rejection) -> Response {
    tracing::warn!(reason = rejection.reason(), "Stripe webhook refused");
    match rejection {
        Rejection::NotConfigured => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::ProviderNotConfigured,
            rejection.reason(),
        ),
        _ => refuse(StatusCode::BAD_REQUEST, Code::ValidationError, rejection.reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_type_has_at_most_one_handler_and_unknown_types_none() {
        for (i, (name, _)) in HANDLERS.iter().enumerate() {
            assert!(HANDLERS[i + 1..].iter().all(|(other, _)| other != name), "{name} twice");
        }
        assert!(handler("account.updated").is_some());
        assert!(handler("gigmarket.nothing_we_know").is_none());
    }
}
