//! Plans: what a user may do per month. `free` posts a few tasks a month, `pro` is unlimited
//! and is sold as a Stripe subscription.
//!
//! Owns `plans`, `user_plans`, `billing_customers` and `subscriptions`. Invariants:
//! - a user's effective plan (`model::of_user`, read by `usage` and by `claim_post`) is
//!   derived, never stored twice: the plan of their subscription while its status is ACTIVE
//!   or TRIALING; otherwise the plan granted in `user_plans` (a manual grant, e.g. by an
//!   operator); otherwise `free`. PAST_DUE, UNPAID, INCOMPLETE*, PAUSED and CANCELED fall
//!   back at once, in the very transaction that records the webhook event, with no second
//!   table to keep in step;
//! - posting is checked under a per-user advisory lock inside the posting transaction, so
//!   two concurrent posts cannot both take the last slot;
//! - a user has at most one Stripe Customer: the create call's idempotency key is made from
//!   the user id and `billing_customers` is keyed by user, so retries, double clicks and
//!   concurrent checkouts create one customer;
//! - a subscription holds Stripe's state as of `state_as_of`, the `created` time of the
//!   newest event applied: an older event is STALE and changes nothing; CANCELED (and
//!   INCOMPLETE_EXPIRED) is final for a subscription id, applied whenever it arrives and
//!   never left; an event about a subscription we do not hold yet (`updated` before
//!   `created`) takes it in when its customer or metadata names our user;
//! - the plan changes only from webhooks, never from the checkout redirect; Stripe is called
//!   outside any transaction (`service::billing`), and `cancelSubscription` writes only the
//!   flag Stripe answered, leaving the ordering of events to `state_as_of`;
//! - the start of a plan, a failed payment and the end of a subscription each notify the
//!   user (PAYMENT) in the transaction of the change.

pub mod graphql;
pub mod model;
pub mod service;
pub mod webhook;
