//! SOS alerts (seed 004): a party of an active order raises an alarm with their position;
//! admins are alerted at once (the `sosRaised` subscription and a notification each) and
//! acknowledge and resolve it.
//!
//! Owns `sos_alerts`. Invariants:
//! - only the client or the freelancer of an order raises, and only while the order is
//!   active: PAYMENT_CONFIRMED, IN_PROGRESS, SUBMITTED or REVISION_REQUESTED (the parties may
//!   be meeting or working on site); otherwise `CONFLICT`;
//! - one unresolved alert per user and order (enforced by a partial unique index): raising
//!   again answers the open alert unchanged and alerts nobody twice;
//! - OPEN → ACKNOWLEDGED → RESOLVED (OPEN → RESOLVED allowed); anything else is `CONFLICT`;
//!   every admin step is audit-logged and the raiser notified in the same transaction.

pub mod graphql;
pub mod model;
pub mod service;
