//! Plans: what a user may do per month. `free` posts a few tasks a month, `pro` is unlimited.
//!
//! Owns `plans` and `user_plans`. A user without a `user_plans` row is on `free`. Posting is
//! checked under a per-user advisory lock inside the posting transaction, so two concurrent
//! posts cannot both take the last slot. Paid upgrades arrive with Stripe billing.

pub mod graphql;
pub mod model;
pub mod service;
