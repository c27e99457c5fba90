//! Peer vouches (seed 003): one member vouches for another's skill in an area.
//!
//! Owns `vouches`. Invariants:
//! - nobody vouches for themself (checked here and by the table);
//! - one vouch per (voucher, vouchee, skill area); skill areas are compared normalised (case
//!   and spacing), and vouching again for the same area replaces the message of the existing
//!   vouch instead of adding a second one (the vouchee is notified once, on the first);
//! - only the voucher removes a vouch;
//! - vouches of banned users are left out of every list and count; banned users cannot vouch
//!   (their requests are refused before they reach a resolver).

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
