//! Orders: the contract between a client and a freelancer, its strict state machine
//! ([`machine`]), milestones, deliveries, board, start/end codes, and the money each
//! transition moves through the [`crate::ledger`].

pub mod codes;
pub mod graphql;
pub mod loaders;
pub mod machine;
pub mod model;
pub mod service;
