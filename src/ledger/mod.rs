//! The double-entry ledger: every money movement is one transaction of signed entries that
//! sum to zero, written in the database transaction of the change that causes it.
//!
//! Accounts: per user and currency `USER_AVAILABLE` (withdrawable) and `USER_PENDING`
//! (released earnings still clearing); per currency `PLATFORM_ESCROW`, `PLATFORM_FEES` and
//! `EXTERNAL` (money outside the platform: it goes negative as money comes in). The database
//! enforces what matters on its own: entries and transactions are append-only, each
//! transaction balances in one currency at commit, no account but `EXTERNAL` goes below zero,
//! and each idempotency key moves money once.
//!
//! Only the order domain moves money (funding, release, refund on its transitions, and the
//! clearing of released earnings) and, for hourly orders, the timesheet domain (billing an
//! approved week out of escrow); no request writes entries directly. A user reads only
//! their own balances and entries.

pub mod graphql;
pub mod model;
pub mod policy;
pub mod service;
