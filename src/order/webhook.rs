//! Stripe's webhook events about orders' payments, read leniently (the few fields each needs)
//! and handed to the order service inside the webhook's recording transaction. Registered in
//! `HANDLERS` of `src/http/webhooks.rs`.

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use serde::Deserialize;
use uuid::Uuid;

use super::{
    model::PaymentStage,
    service::{self, CardDispute, FailedPayment, Payment},
};
use crate::{
    error::AppResult,
    payment::{
        model::Outcome,
        provider::{ORDER_METADATA_KEY, STAGE_METADATA_KEY},
        webhook::Verified,
    },
    state::AppState,
};

/// Defines a webhook [`Handler`](crate::payment::webhook::Handler): `$name` reads the
/// event's object as `$ty` (leniently, see `Verified::object`) and runs `$body` with it.
macro_rules! handler {
    ($(#[$doc:meta])* $name:ident($app:ident, $conn:ident, $object:ident: $ty:ty) $body:block) => {
        $(#[$doc])*
        pub fn $name<'a>(
            $app: &'a AppState,
            $conn: &'a mut AsyncPgConnection,
            verified: &'a Verified,
        ) -> BoxFuture<'a, AppResult<Outcome>> {
            Box::pin(async move {
                let $object: $ty = verified.object()?;
                $body
            })
        }
    };
}

/// Our order id in a Stripe object's metadata (or its `client_reference_id`).
fn order_of(metadata: &HashMap<String, String>, reference: Option<&str>) -> Option<Uuid> {
    metadata
        .get(ORDER_METADATA_KEY)
        .map(String::as_str)
        .or(reference)?
        .parse()
        .ok()
}

/// The payment stage a Stripe object's metadata names (`None`: not named, or unknown).
fn stage_of(metadata: &HashMap<String, String>) -> Option<PaymentStage> {
    metadata.get(STAGE_METADATA_KEY).and_then(|s| PaymentStage::parse(s))
}

/// What we read of a Checkout Session.
#[derive(Deserialize)]
struct SessionObject {
    #[serde(default)]
    payment_status: String,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    amount_total: i64,
    #[serde(default)]
    currency: String,
}

handler! {
    /// `checkout.session.completed`: paid now (cards), or later (`payment_status` unpaid: a
    /// delayed method, whose `payment_intent.succeeded` funds the order).
    checkout_session_completed(app, conn, session: SessionObject) {
        let Some(order_id) = order_of(&session.metadata, session.client_reference_id.as_deref()) else {
            return Ok(Outcome::Unmatched);
        };
        let Some(payment_intent) = session.payment_intent.as_deref() else {
            return Ok(Outcome::Unmatched);
        };
        if session.payment_status != "paid" {
            return Ok(Outcome::Ignored);
        }
        let payment = Payment {
            order_id,
            payment_intent,
            amount_cents: session.amount_total,
            currency: &session.currency,
            stage: stage_of(&session.metadata),
        };
        service::provider_paid(app, conn, &payment).await
    }
}

/// What we read of a PaymentIntent.
#[derive(Deserialize)]
struct PaymentIntentObject {
    id: String,
    #[serde(default)]
    metadata: HashMap<String, String>,
    #[serde(default)]
    amount_received: i64,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    last_payment_error: Option<PaymentError>,
}

#[derive(Deserialize)]
struct PaymentError {
    #[serde(default)]
    message: Option<String>,
}

handler! {
    /// `payment_intent.succeeded`: the order's payment arrived.
    payment_intent_succeeded(app, conn, intent: PaymentIntentObject) {
        let Some(order_id) = order_of(&intent.metadata, None) else {
            return Ok(Outcome::Unmatched);
        };
        let payment = Payment {
            order_id,
            payment_intent: &intent.id,
            amount_cents: intent.amount_received,
            currency: &intent.currency,
            stage: stage_of(&intent.metadata),
        };
        service::provider_paid(app, conn, &payment).await
    }
}

handler! {
    /// `payment_intent.payment_failed`: an attempt to pay the order failed.
    payment_intent_failed(_app, conn, intent: PaymentIntentObject) {
        let Some(order_id) = order_of(&intent.metadata, None) else {
            return Ok(Outcome::Unmatched);
        };
        let message = intent.last_payment_error.and_then(|e| e.message);
        let failed = FailedPayment {
            order_id,
            payment_intent: &intent.id,
            stage: stage_of(&intent.metadata),
            message: message.as_deref(),
        };
        service::provider_payment_failed(conn, &failed).await
    }
}

/// What we read of a Charge.
#[derive(Deserialize)]
struct ChargeObject {
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    refunded: bool,
}

handler! {
    /// `charge.refunded`: (part of) a payment went back to the card.
    charge_refunded(app, conn, charge: ChargeObject) {
        let Some(payment_intent) = charge.payment_intent.as_deref() else {
            return Ok(Outcome::Unmatched);
        };
        service::provider_refunded(app, conn, payment_intent, charge.refunded).await
    }
}

/// What we read of a Dispute.
#[derive(Deserialize)]
struct DisputeObject {
    id: String,
    #[serde(default)]
    payment_intent: Option<String>,
    #[serde(default)]
    reason: String,
}

handler! {
    /// `charge.dispute.created`: the card issuer disputes a payment.
    charge_dispute_created(app, conn, dispute: DisputeObject) {
        let Some(payment_intent) = dispute.payment_intent.as_deref() else {
            return Ok(Outcome::Unmatched);
        };
        let card = CardDispute {
            stripe_dispute_id: &dispute.id,
            payment_intent,
            reason: if dispute.reason.is_empty() {
                "general"
            } else {
                &dispute.reason
            },
        };
        service::provider_dispute(app, conn, &card).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_comes_from_metadata_then_the_reference() {
        let id = Uuid::now_v7();
        let ours = HashMap::from([(ORDER_METADATA_KEY.to_owned(), id.to_string())]);
        assert_eq!(order_of(&ours, Some("junk")), Some(id));
        assert_eq!(order_of(&HashMap::new(), Some(&id.to_string())), Some(id));
        assert_eq!(order_of(&HashMap::new(), None), None);
        assert_eq!(order_of(&HashMap::new(), Some("not-a-uuid")), None);
    }
}
