//! Gigs: a freelancer's service listing, sold in BASIC / STANDARD / PREMIUM packages.
//!
//! Owns `gigs`, `gig_packages`, `gig_media` and `saved_gigs`. Invariants:
//! - a gig has one to three packages with distinct tiers, one of them BASIC; the gig's
//!   `min_price_cents` and `min_delivery_days` are those of its packages, rewritten in the
//!   transaction that changes them;
//! - only ACTIVE gigs of owners who are not banned are public; the owner (and admins) see
//!   their gigs in every status;
//! - status moves DRAFT → ACTIVE ⇄ PAUSED, and any status → ARCHIVED → DRAFT; only the owner
//!   changes it; `published_at` is set the first time a gig goes ACTIVE;
//! - views are counted in memory and flushed in batches, so reading a gig never writes.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
pub mod views;
