//! Messaging: conversations between users, with read receipts, typing signals and the
//! contact-detail safety filter.
//!
//! Owns `conversations`, `conversation_participants` and `messages`. Invariants:
//! - only participants read, write, mark read or subscribe;
//! - a two-party conversation is unique per pair (`direct_key`), so get-or-create is safe
//!   under concurrency;
//! - a message's `body` is what participants see (masked while the parties share no order);
//!   `original_body` keeps the unmasked text for moderation when the filter changed it;
//! - sending commits the message, the `MESSAGE_ADDED` event and any `NEW_MESSAGE`
//!   notifications for offline participants in one transaction.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod safety;
pub mod service;
