//! Accounts: credentials, sessions and password recovery.
//!
//! Owns `credentials`, `refresh_tokens`, `password_reset_tokens` and `sign_in_failures`.
//! Invariants:
//! - passwords are stored only as argon2id PHC strings; tokens only as SHA-256 digests;
//! - a refresh token is used at most once: using it rotates it within its family, and
//!   presenting an already-used token revokes the whole family (theft detection);
//! - unknown email and wrong password get the same answer in the same time;
//! - failed sign-ins are counted per account and per address; past the limit every attempt,
//!   right or wrong, answers `RATE_LIMITED` until the window slides;
//! - `requestPasswordReset` answers true whether or not the account exists;
//! - only admins suspend and restore members ([`moderation`]), never themselves; a
//!   suspension revokes every session and closes live connections in its transaction.

pub mod graphql;
pub mod model;
pub mod moderation;
pub mod service;
