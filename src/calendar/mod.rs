//! A freelancer's availability calendar: days they blocked and days booked by orders. A day
//! without a row is free. The primary key (user, day) is what keeps one day from being
//! booked twice, whatever the concurrency.
//!
//! Owns `availability_dates`. Invariants:
//! - a freelancer blocks or frees only their own days, none in the past, at most 366 at a
//!   time; anyone reads a calendar (a banned user's is `NOT_FOUND`);
//! - BOOKED days are written by the order domain in the order's transaction, through
//!   [`model::book_day`] (a direct booking at once, a request when the freelancer accepts it),
//!   and freed by [`model::free_days_of`] when the order is cancelled or declined; freeing a
//!   booked day here is a `CONFLICT`;
//! - no money moves here.

pub mod graphql;
pub mod model;
pub mod service;
