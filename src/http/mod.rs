//! The REST sidecar next to GraphQL: health, readiness and metrics.

pub mod health;
pub mod metrics;
