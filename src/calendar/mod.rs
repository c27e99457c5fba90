//! A freelancer's availability calendar: days they blocked and days booked by orders. A day
//! without a row is free. The primary key (user, day) is what keeps one day from being
//! booked twice, whatever the concurrency.

pub mod graphql;
pub mod model;
pub mod service;
