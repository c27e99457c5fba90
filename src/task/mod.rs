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
//! - nearby search returns exactly the OPEN tasks whose public point is within the radius by
//!   great-circle distance, nearest first and by id at the same distance, every one once across
//!   pages (the GiST index `tasks_open_earth_idx` picks the candidates, the haversine decides);
//! - templates prefill a milestone plan from shares of the budget;
//! - IMMEDIATE (first-accept) tasks happen on site and carry an acceptance deadline 5 minutes
//!   to 72 hours ahead; of concurrent accepts exactly one makes an order (the order domain's
//!   `accept_task`), and an OPEN one past its deadline is EXPIRED by the maintenance job,
//!   with its poster told;
//! - an order called off before completion puts its task back to OPEN (or EXPIRED, past a
//!   first-accept deadline); tasks move no money themselves, their orders do.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
pub mod templates;
