//! Stripe's webhook deliveries: verifying one, and applying its event exactly once.
//!
//! [`verify`] runs before anything else looks at a delivery: async-stripe-webhook's verifier
//! (HMAC-SHA256 of `t.payload`, any of several `v1` signatures, 300 s tolerance either way)
//! against each configured secret in turn, so that an old and a new secret both work while
//! one is rolled. Only then is the body read.
//!
//! Objects are read leniently: each handler deserialises `data.object` into a small struct of
//! the fields it needs ([`Verified::object`]), not into async-stripe's full types. Stripe
//! sends objects in the API version of the endpoint, which may be older or newer than the
//! version async-stripe was generated for; a strict parse would refuse a correctly signed
//! event over a field we never read.
//!
//! [`process`] applies a verified event in one transaction whose first statement records its
//! id (`INSERT … ON CONFLICT DO NOTHING`): a redelivery, even a concurrent one, waits for the
//! first and then finds the id taken, so an event has one effect whatever Stripe retries.
//!
//! # Adding a handler (the extension point)
//! Write an `async fn(&AppState, &mut AsyncPgConnection, …) -> AppResult<Outcome>` in the service of
//! the domain the event is about (it runs inside the recording transaction: write, emit
//! events and notify there; never call Stripe from it — work that calls Stripe back goes
//! through the outbox, `payment::outbox`), wrap it in a [`Handler`] that reads its object
//! with [`Verified::object`] (as [`account_updated`] below does), and add a line to
//! `HANDLERS` in `src/http/webhooks.rs` (the table lives with the route, above the domains,
//! so that no domain imports another to be dispatched to). Compare the object's own timestamps or status with what is stored, never
//! arrival order: Stripe does not deliver in order. Types without a handler are recorded as
//! IGNORED and answered 2xx.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use stripe_webhook::{Webhook, WebhookError};

use super::{
    model::{self, NewStripeEvent, Outcome},
    provider::ConnectedAccount,
    service,
};
use crate::{
    error::{AppError, AppResult},
    state::AppState,
};

/// Why a delivery was refused (nothing was recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `STRIPE_WEBHOOK_SECRET` is not set: nothing can be verified.
    NotConfigured,
    /// No `Stripe-Signature` header.
    MissingSignature,
    /// The header is malformed or no `v1` signature matches any secret (a forged, altered or
    /// truncated body, or another endpoint's secret).
    BadSignature,
    /// The signature matches but its timestamp is more than 300 s from now (a replay).
    StaleTimestamp,
    /// Signed by Stripe but not an event we can read (see the log).
    Unreadable,
}

impl Rejection {
    /// The reason, for the response and the log.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::NotConfigured => "Stripe webhooks are not configured on this server.",
            Rejection::MissingSignature => "The Stripe-Signature header is missing.",
            Rejection::BadSignature => "The Stripe-Signature does not match the body.",
            Rejection::StaleTimestamp => "The Stripe-Signature timestamp is outside the 300 s tolerance.",
            Rejection::Unreadable => "The event could not be read.",
        }
    }
}

/// A verified event.
pub struct Verified {
    /// Stripe's event id (`evt_…`).
    pub id: String,
    /// Stripe's event type, e.g. `account.updated`.
    pub event_type: String,
    pub livemode: bool,
    /// Stripe's time of the event.
    pub created: DateTime<Utc>,
    /// The event's `data.object`, as sent.
    pub data: serde_json::Value,
}

impl Verified {
    /// The event's object read as `T` (a struct of the fields a handler needs). An object
    /// that does not fit is an internal error: the delivery answers 500, is logged, and
    /// Stripe retries it.
    pub fn object<T: serde::de::DeserializeOwned>(&self) -> AppResult<T> {
        T::deserialize(&self.data).map_err(|e| {
            AppError::internal(anyhow::anyhow!(
                "Stripe event {} ({}): unexpected object: {e}",
                self.id,
                self.event_type
            ))
        })
    }
}

/// The envelope of an event: what we read of every delivery.
#[derive(serde::Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    livemode: bool,
    data: EnvelopeData,
}

#[derive(serde::Deserialize)]
struct EnvelopeData {
    object: serde_json::Value,
}

/// Verifies a delivery's raw body against its `Stripe-Signature` with each secret in turn,
/// then reads its envelope.
///
/// async-stripe parses the body once the signature and the timestamp have passed, and types
/// the object of every event type it knows, strictly: an object of another API version, or a
/// trimmed one, fails with `BadParse`. That error therefore means "signed by Stripe" (a unit
/// test below pins that order), and such an event is read like any other.
pub fn verify(payload: &str, signature: Option<&str>, secrets: &[String]) -> Result<Verified, Rejection> {
    if secrets.is_empty() {
        return Err(Rejection::NotConfigured);
    }
    let signature = signature.ok_or(Rejection::MissingSignature)?;
    for secret in secrets {
        match Webhook::construct_event(payload, signature, secret) {
            // Signed with this secret; async-stripe's typing does not matter to us.
            Ok(_) | Err(WebhookError::BadParse(_)) => return read(payload),
            // Another secret may match.
            Err(WebhookError::BadSignature | WebhookError::BadKey) => continue,
            Err(WebhookError::BadHeader(_)) => return Err(Rejection::BadSignature),
            // Only reached once this secret's signature matched.
            Err(WebhookError::BadTimestamp(_)) => return Err(Rejection::StaleTimestamp),
        }
    }
    Err(Rejection::BadSignature)
}

/// Reads the envelope of a verified delivery.
fn read(payload: &str) -> Result<Verified, Rejection> {
    let envelope = serde_json::from_str::<Envelope>(payload).map_err(|e| {
        tracing::error!(error = %e, "a correctly signed Stripe delivery is not an event");
        Rejection::Unreadable
    })?;
    Ok(Verified {
        id: envelope.id,
        event_type: envelope.event_type,
        livemode: envelope.livemode,
        created: DateTime::from_timestamp(envelope.created, 0).ok_or(Rejection::Unreadable)?,
        data: envelope.data.object,
    })
}

/// A handler of one event type: runs inside the recording transaction.
/// It gets the app (configuration, for the steps of a transition) beside the connection.
pub type Handler =
    for<'a> fn(&'a AppState, &'a mut AsyncPgConnection, &'a Verified) -> BoxFuture<'a, AppResult<Outcome>>;

/// What became of a verified event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// The id was already recorded: nothing was done this time.
    pub duplicate: bool,
    /// What processing did (`None` for a duplicate).
    pub outcome: Option<Outcome>,
}

/// Records and applies a verified event once, with `handler` (none: recorded as IGNORED), in
/// one transaction (events and notifications the handler emits go out on commit).
pub async fn process(app: &AppState, verified: &Verified, handler: Option<Handler>) -> AppResult<Processed> {
    let event_type = verified.event_type.as_str();
    let record = NewStripeEvent {
        id: &verified.id,
        event_type,
        livemode: verified.livemode,
        created: verified.created,
        received_at: Utc::now(),
    };
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            if !model::record_event_once(conn, &record).await? {
                return Ok(Processed {
                    duplicate: true,
                    outcome: None,
                });
            }
            let outcome = match handler {
                Some(handle) => handle(app, conn, verified).await?,
                None => Outcome::Ignored,
            };
            model::finish_event(conn, record.id, outcome, Utc::now()).await?;
            Ok(Processed {
                duplicate: false,
                outcome: Some(outcome),
            })
        })
        .await
}

/// `account.updated`: a connected account's charges/payouts flags changed.
pub fn account_updated<'a>(
    _app: &'a AppState,
    conn: &'a mut AsyncPgConnection,
    verified: &'a Verified,
) -> BoxFuture<'a, AppResult<Outcome>> {
    Box::pin(async move {
        let account: AccountObject = verified.object()?;
        let metadata_user = service::metadata_user(Some(&account.metadata));
        let state = ConnectedAccount {
            id: account.id,
            charges_enabled: account.charges_enabled,
            payouts_enabled: account.payouts_enabled,
            details_submitted: account.details_submitted,
        };
        service::apply_account_update(conn, &state, metadata_user, verified.created).await
    })
}

/// What we read of an Account object.
#[derive(serde::Deserialize)]
struct AccountObject {
    id: String,
    #[serde(default)]
    charges_enabled: bool,
    #[serde(default)]
    payouts_enabled: bool,
    #[serde(default)]
    details_submitted: bool,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_unit";

    fn body(event_type: &str) -> String {
        serde_json::json!({
            "id": "evt_unit_1",
            "object": "event",
            "api_version": super::super::provider::STRIPE_API_VERSION,
            "created": Utc::now().timestamp(),
            "data": { "object": { "id": "acct_1", "object": "account", "charges_enabled": true, "payouts_enabled": false } },
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
        })
        .to_string()
    }

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_signed_event_verifies_with_any_configured_secret() {
        let payload = body("account.updated");
        let header = Webhook::generate_test_header(&payload, SECRET, None);
        let verified = verify(&payload, Some(&header), &secrets(&["whsec_new", SECRET])).unwrap();
        assert_eq!(verified.id, "evt_unit_1");
        assert_eq!(verified.data["id"], "acct_1");
    }

    #[test]
    fn forged_stale_truncated_and_unsigned_deliveries_are_refused() {
        let payload = body("account.updated");
        let all = secrets(&[SECRET]);
        let wrong = Webhook::generate_test_header(&payload, "whsec_other", None);
        assert_eq!(
            verify(&payload, Some(&wrong), &all).err(),
            Some(Rejection::BadSignature)
        );
        let old = Webhook::generate_test_header(&payload, SECRET, Some(Utc::now().timestamp() - 301));
        assert_eq!(
            verify(&payload, Some(&old), &all).err(),
            Some(Rejection::StaleTimestamp)
        );
        let good = Webhook::generate_test_header(&payload, SECRET, None);
        let truncated = &payload[..payload.len() - 10];
        assert_eq!(
            verify(truncated, Some(&good), &all).err(),
            Some(Rejection::BadSignature)
        );
        assert_eq!(verify(&payload, None, &all).err(), Some(Rejection::MissingSignature));
        assert_eq!(
            verify(&payload, Some("garbage"), &all).err(),
            Some(Rejection::BadSignature)
        );
        assert_eq!(verify(&payload, Some(&good), &[]).err(), Some(Rejection::NotConfigured));
    }

    /// `verify` reads async-stripe's `BadParse` as "the signature matched": the crate checks
    /// the signature and the timestamp before it parses. Pinned here for crate upgrades.
    #[test]
    fn async_stripe_parses_only_after_verifying() {
        // A type async-stripe types strictly (a customer), with a trimmed object.
        let payload = body("customer.created");
        let good = Webhook::generate_test_header(&payload, SECRET, None);
        assert!(matches!(
            Webhook::construct_event(&payload, &good, SECRET),
            Err(WebhookError::BadParse(_))
        ));
        let wrong = Webhook::generate_test_header(&payload, "whsec_other", None);
        assert!(matches!(
            Webhook::construct_event(&payload, &wrong, SECRET),
            Err(WebhookError::BadSignature)
        ));
        let stale = Webhook::generate_test_header(&payload, SECRET, Some(Utc::now().timestamp() - 301));
        assert!(matches!(
            Webhook::construct_event(&payload, &stale, SECRET),
            Err(WebhookError::BadTimestamp(_))
        ));

        // Read like any other signed event.
        let verified = verify(&payload, Some(&good), &secrets(&[SECRET])).unwrap();
        assert_eq!(verified.event_type, "customer.created");
        assert_eq!(verified.data["id"], "acct_1");
        // Signed but not an event: refused.
        let broken = "{\"not\":\"an event\"}";
        let header = Webhook::generate_test_header(broken, SECRET, None);
        assert_eq!(
            verify(broken, Some(&header), &secrets(&[SECRET])).err(),
            Some(Rejection::Unreadable)
        );
    }
}
