//! Hourly contracts: an order made from an HOURLY task has terms (an hourly rate, a weekly
//! hour cap, and the weeks its escrow was sized for), and the freelancer's time is logged in
//! weekly timesheets that the client approves — billing the week out of escrow — or disputes.
//!
//! Owns `hourly_terms`, `timesheets` and `time_entries`; the order keeps what escrow its
//! weeks billed (`orders.billed_cents`, set only on hourly orders).
//!
//! Invariants:
//! - a week is an ISO week (Monday start) of the entries' calendar dates as the freelancer
//!   writes them; "today" (no future dates) is judged in the freelancer's profile time zone,
//!   UTC when unset; an entry lies within one day and shares no minute with another entry of
//!   that day;
//! - only the freelancer logs, edits and deletes time, only while the order is IN_PROGRESS
//!   (or REVISION_REQUESTED) and only in weeks OPEN or DISPUTED; only the client approves or
//!   disputes a SUBMITTED week; admins see timesheets but act on none; anyone else gets
//!   NOT_FOUND;
//! - a week holds at most the weekly cap (`LIMIT_EXCEEDED`), and everything logged and not yet
//!   billed costs at most what the escrow still holds (`LIMIT_EXCEEDED`), so billing never
//!   overdraws escrow;
//! - every change locks the order row first, then the week: concurrent logging cannot pass the
//!   cap, and a week is billed exactly once (the ledger movement is keyed by the week too);
//! - approving bills the week in its transaction: its price leaves escrow for the freelancer's
//!   available balance less the fee fixed on the order at funding, `orders.billed_cents`
//!   grows by it, and the order's history row, `ORDER_UPDATED` and the other party's
//!   notification are written with it;
//! - a SUBMITTED week the client has not answered within `TIMESHEET_REVIEW_WINDOW_HOURS` is
//!   approved by the scheduler (`approveTimesheets`), the same way, once across instances.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod rules;
pub mod service;
