//! Notifications: what happened that a user should know about.
//!
//! Owns `notifications`. Created by other domains' services through [`service::notify`],
//! inside their transaction, which also emits `NOTIFICATION_ADDED` on the user's topic.
//! Only the recipient reads or marks a notification.

pub mod graphql;
pub mod model;
pub mod service;
