//! The REST sidecar next to GraphQL: health, readiness, metrics, signed private files and
//! the payment provider's webhooks.

pub mod health;
pub mod metrics;
pub mod private_files;
pub mod webhooks;
