//! Applications: freelancers' proposals to tasks.
//!
//! Owns `applications`. Invariants:
//! - one application per freelancer and task; nobody applies to their own task; only OPEN
//!   tasks take applications;
//! - the applicant withdraws; the poster moves applications between PENDING, REVIEWING,
//!   SHORTLISTED and REJECTED; `acceptApplication` (in the order domain) makes one ACCEPTED,
//!   creates the order and turns the others down; WITHDRAWN, REJECTED and ACCEPTED are final;
//! - the poster sees their task's applications, the applicant sees their own, nobody else
//!   sees any;
//! - NEW_APPLICATION and APPLICATION_STATUS notifications commit with the change.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
