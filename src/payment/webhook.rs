//! Stripe's webhook deliveries: verifying one, and applying its event exactly once.
//!
//! [`verify`] runs before anything else looks at a delivery: async-stripe-webhook's verifier
//! (HMAC-SHA256 of `t.payload`, any of several `v1` signatures, 300 s tolerance either way)
//! against each configured secret in turn, so that an old and a new secret both work while
//! one is rolled. Only then is the body parsed (by the same call).
//!
//! [`process`] applies a verified event in one transaction whose first statement records its
//! id (`INSERT … ON CONFLICT DO NOTHING`): a redelivery, even a concurrent one, waits for the
//! first and then finds the id taken, so an event has one effect whatever Stripe retries.
//!
//! # Adding a handler (the extension point)
//! Write an `async fn(&mut AsyncPgConnection, …) -> AppResult<Outcome>` in the service of
//! the domain the event is about (it runs inside the recording transaction: write, emit
//! events and notify there; never call Stripe from it — work that calls Stripe back goes
//! through the outbox), wrap it in a [`Handler`] that takes its object out of the
//! [`Verified`] event (as `account_updated` below does), add a line to [`HANDLERS`], and
//! enable the async-stripe-webhook
//! feature of the crate whose object it carries (e.g. `async-stripe-checkout` for
//! `checkout.session.completed`) so that `event.data.object` arrives typed. Compare the
//! object's own timestamps or status with what is stored, never arrival order: Stripe does
//! not deliver in order. Types without a handler are recorded as IGNORED and answered 2xx.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;
use stripe_webhook::{EventObject, Webhook, WebhookError};

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
    /// The object as async-stripe types it; `None` for a type without a handler whose object
    /// async-stripe could not type (see [`verify`]).
    pub object: Option<EventObject>,
}

/// The envelope of an event, read by us when async-stripe cannot type its object.
#[derive(serde::Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    livemode: bool,
}

/// Verifies a delivery's raw body against its `Stripe-Signature` with each secret in turn.
///
/// async-stripe parses the body once the signature and the timestamp have passed, and types
/// the object of every event type it knows, strictly: an object of another API version, or
/// a trimmed one, fails with `BadParse`. That error therefore means "signed by Stripe, object
/// not typed" (a unit test below pins that order). Such an event is still acknowledged and
/// recorded when nobody handles its type; when a handler needs its object, the delivery is
/// refused and logged, and Stripe retries it until we can read it.
pub fn verify(payload: &str, signature: Option<&str>, secrets: &[String]) -> Result<Verified, Rejection> {
    if secrets.is_empty() {
        return Err(Rejection::NotConfigured);
    }
    let signature = signature.ok_or(Rejection::MissingSignature)?;
    for secret in secrets {
        match Webhook::construct_event(payload, signature, secret) {
            Ok(event) => {
                return Ok(Verified {
                    id: event.id.as_str().to_owned(),
                    event_type: event.type_.as_str().to_owned(),
                    livemode: event.livemode,
                    created: DateTime::from_timestamp(event.created, 0).ok_or(Rejection::Unreadable)?,
                    object: Some(event.data.object),
                });
            }
            // Another secret may match.
            Err(WebhookError::BadSignature | WebhookError::BadKey) => continue,
            Err(WebhookError::BadHeader(_)) => return Err(Rejection::BadSignature),
            // Only reached once this secret's signature matched.
            Err(WebhookError::BadTimestamp(_)) => return Err(Rejection::StaleTimestamp),
            Err(WebhookError::BadParse(e)) => return untyped(payload, &e),
        }
    }
    Err(Rejection::BadSignature)
}

/// A signed event whose object async-stripe could not type.
fn untyped(payload: &str, error: &str) -> Result<Verified, Rejection> {
    let Ok(envelope) = serde_json::from_str::<Envelope>(payload) else {
        tracing::error!(error, "a correctly signed Stripe delivery is not an event");
        return Err(Rejection::Unreadable);
    };
    if handler(&envelope.event_type).is_some() {
        tracing::error!(
            error,
            event_id = envelope.id,
            event_type = envelope.event_type,
            "a correctly signed Stripe event we handle does not parse (API version?)"
        );
        return Err(Rejection::Unreadable);
    }
    Ok(Verified {
        id: envelope.id,
        event_type: envelope.event_type,
        livemode: envelope.livemode,
        created: DateTime::from_timestamp(envelope.created, 0).ok_or(Rejection::Unreadable)?,
        object: None,
    })
}

/// A handler of one event type: runs inside the recording transaction.
pub type Handler = for<'a> fn(&'a mut AsyncPgConnection, &'a Verified) -> BoxFuture<'a, AppResult<Outcome>>;

/// Which handler takes which event type. See the module documentation to add one.
pub const HANDLERS: &[(&str, Handler)] = &[("account.updated", account_updated)];

/// The handler of `event_type`, if any.
pub fn handler(event_type: &str) -> Option<Handler> {
    HANDLERS
        .iter()
        .find(|(name, _)| *name == event_type)
        .map(|(_, handler)| *handler)
}

/// What became of a verified event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// The id was already recorded: nothing was done this time.
    pub duplicate: bool,
    /// What processing did (`None` for a duplicate).
    pub outcome: Option<Outcome>,
}

/// Records and applies a verified event once, in one transaction (events and notifications
/// its handler emits go out on commit).
pub async fn process(app: &AppState, verified: &Verified) -> AppResult<Processed> {
    let event_type = verified.event_type.as_str();
    let record = NewStripeEvent {
        id: &verified.id,
        event_type,
        livemode: verified.livemode,
        created: verified.created,
        received_at: Utc::now(),
    };
    let handler = handler(event_type);
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
                Some(handle) => handle(conn, verified).await?,
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
fn account_updated<'a>(conn: &'a mut AsyncPgConnection, verified: &'a Verified) -> BoxFuture<'a, AppResult<Outcome>> {
    Box::pin(async move {
        let Some(EventObject::AccountUpdated(account)) = &verified.object else {
            // `verify` refuses a handled type it could not type; nothing else arrives here.
            return Err(AppError::internal(anyhow::anyhow!(
                "account.updated without an account"
            )));
        };
        let metadata_user = service::metadata_user(account.metadata.as_ref());
        service::apply_account_update(
            conn,
            &ConnectedAccount::from(&**account),
            metadata_user,
            verified.created,
        )
        .await
    })
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
        assert!(matches!(verified.object, Some(EventObject::AccountUpdated(_))));
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

    #[test]
    fn unknown_types_verify_and_have_no_handler() {
        let payload = body("gigmarket.nothing_we_know");
        let header = Webhook::generate_test_header(&payload, SECRET, None);
        let verified = verify(&payload, Some(&header), &secrets(&[SECRET])).unwrap();
        assert!(handler(&verified.event_type).is_none());
        assert!(handler("account.updated").is_some());
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

        // Not handled: acknowledged untyped. Handled but untypeable: refused.
        let verified = verify(&payload, Some(&good), &secrets(&[SECRET])).unwrap();
        assert_eq!(
            (verified.event_type.as_str(), verified.object.is_none()),
            ("customer.created", true)
        );
        let broken = body("account.updated").replace("\"id\":\"acct_1\",", "");
        let header = Webhook::generate_test_header(&broken, SECRET, None);
        assert_eq!(
            verify(&broken, Some(&header), &secrets(&[SECRET])).err(),
            Some(Rejection::Unreadable)
        );
    }
}
