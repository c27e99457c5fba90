//! The REST sidecar next to GraphQL: health, readiness, metrics and signed private files.

pub mod health;
pub mod metrics;
pub mod private_files;
