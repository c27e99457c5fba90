//! Administration: every admin action is written to the append-only audit log.
//!
//! Owns `audit_log`. Invariants:
//! - everything here answers admins only; the actions themselves (settling an order,
//!   reviewing a verification, acknowledging and resolving an SOS alert) are carried out by
//!   the domain they concern, under that domain's rules;
//! - each admin action writes its audit entry (admin, target, reason, states before and
//!   after) in the transaction of the change, through [`model::record`]; the database refuses
//!   to update, delete or truncate the log;
//! - settling an order moves its escrow: COMPLETED releases it to the freelancer less the
//!   fee, CANCELLED refunds the client (see [`crate::order`]).

pub mod graphql;
pub mod model;
pub mod service;
