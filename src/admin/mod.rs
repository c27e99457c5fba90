//! Administration: every admin action is written to the append-only audit log.

pub mod graphql;
pub mod model;
