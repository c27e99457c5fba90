//! Tasks: work a client posts, for freelancers to apply to.
//!
//! Owns `tasks` and `task_invites`. Invariants:
//! - only OPEN tasks of posters who are not banned are public; the poster sees theirs in
//!   every status;
//! - publishing (posting OPEN, or publishing a draft) counts against the poster's plan in the
//!   same transaction, and answers `LIMIT_EXCEEDED` with nothing written past the limit;
//! - the poster edits a task while it is DRAFT or OPEN and cancels it before it is assigned;
//! - exact coordinates and the address are shown to the poster only; everyone else sees a
//!   point about 200 m away, the same one on every read (so averaging reads reveals nothing);
//! - templates prefill a milestone plan from shares of the budget.
//!
//! IMMEDIATE mode, nearby search and first-accept arrive with the location issue; the
//! columns exist now.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
pub mod templates;
