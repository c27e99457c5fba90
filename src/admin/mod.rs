//! Administration: every admin action is written to the append-only audit log.
//!
//! Invariants:
//! - Only admins (`users.is_admin`) reach any operation here; the guard is `ctx.admin()`.
//! - The audit log is append-only: entries are inserted in the same transaction as the
//!   action they record (by the acting domain) and never updated or deleted.
//! - An admin override of an order moves money like the transition it forces (release on
//!   COMPLETED, refund on CANCELLED), through the order domain and the ledger.

pub mod graphql;
pub mod model;
pub mod service;
