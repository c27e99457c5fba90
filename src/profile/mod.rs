//! Profiles: the public face of a user. One account acts as client and freelancer.
//!
//! Owns the `users` table. Invariants:
//! - email and username are unique regardless of case (unique indexes on `lower()`);
//! - latitude and longitude are both set or both null, and within WGS84 ranges;
//! - a banned user is invisible to everyone but admins and refused on every request;
//! - email and exact coordinates are shown only to the user themself and to admins;
//!   others see coordinates rounded to about a kilometre;
//! - a user changes only their own profile, availability, location and avatar (an image
//!   judged by its content); the user row itself is created with the account.
//!
//! Rating and stats arrive with the review and order domains.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod ranking;
pub mod service;
