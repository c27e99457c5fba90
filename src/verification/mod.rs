//! Identity verification (seed 004): members submit documents, admins review them.
//!
//! Owns `verification_requests` and `verification_documents`; sets `users.verification_status`
//! through the profile model. Invariants:
//! - a member submits while their status is NONE or REJECTED; while PENDING or VERIFIED a
//!   submission is a `CONFLICT` (the database also keeps one PENDING request per user);
//! - documents are PNG, JPEG, WebP or PDF judged by content, stored in the private store and
//!   shown only to their owner and admins, through short-lived signed links;
//! - only an admin reviews, never their own request; a rejection says why; every review is
//!   audit-logged and the member notified in the same transaction;
//! - the commission a member pays follows from their status under the fee policy
//!   ([`crate::ledger::policy`]); it is fixed on an order when the order is funded.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
