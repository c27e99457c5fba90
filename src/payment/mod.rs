//! Money through a payment provider (Stripe): Connect payout accounts for freelancers and
//! the webhook events Stripe sends about them. (Manual payment proofs live in `order`; the
//! ledger in `ledger`.)
//!
//! Owns `payout_accounts`, `stripe_events` and `provider_calls` (the outbox of calls to
//! Stripe, [`outbox`]). Invariants:
//! - Stripe is reached only through [`provider`], and never inside a database transaction;
//!   without `STRIPE_SECRET_KEY` every operation that needs it answers
//!   `PROVIDER_NOT_CONFIGURED`, and everything else works as before;
//! - a user has at most one connected account: the create call's idempotency key is made
//!   from the user id and the row is keyed by user, so retries, double clicks and
//!   concurrent calls create one account;
//! - a webhook delivery is verified (signature, 300 s tolerance, any configured secret)
//!   before anything reads it; a refused one changes nothing;
//! - each Stripe event id is recorded once, in the transaction that applies it: a
//!   redelivery, concurrent or late, has no second effect ([`webhook::process`]);
//! - Stripe's state is applied by the object's own time, not by arrival order: an older
//!   `account.updated` never overwrites a newer state;
//! - money leaves the platform through Stripe only from the outbox: a transfer or refund is
//!   written with its ledger movement in the change's transaction and made afterwards, with
//!   one idempotency key for all its retries; one given up returns its amount to the user's
//!   balance through the ledger;
//! - every event type is acknowledged (2xx) once verified; types without a handler are
//!   recorded as IGNORED. Handlers are registered in `HANDLERS` of `src/http/webhooks.rs`.

pub mod calls;
pub mod graphql;
pub mod model;
pub mod outbox;
pub mod provider;
pub mod service;
pub mod webhook;
