//! Logging: `tracing` to stdout, JSON in production (or with LOG_FORMAT=json), human-readable
//! otherwise; filtered by RUST_LOG (default `info`).

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the global subscriber. Reads the environment directly because it runs before the
/// configuration is parsed, so configuration warnings are logged too.
pub fn init() {
    let _ = dotenvy::dotenv();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let production = std::env::var("APP_ENV").is_ok_and(|v| v.starts_with("prod"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok(_) => false,
        Err(_) => production,
    };
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        let _ = registry.with(fmt::layer().json().flatten_event(true)).try_init();
    } else {
        let _ = registry.with(fmt::layer()).try_init();
    }
}
