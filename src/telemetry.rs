//! Logging and tracing.
//!
//! - Logs: `tracing` to stdout, JSON in production (or with LOG_FORMAT=json), human-readable
//!   otherwise; filtered by RUST_LOG (default `info`). Each HTTP request's lines carry its
//!   `request_id` (the `http` span).
//! - Traces: OpenTelemetry over OTLP/HTTP, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. A trace has the request's `http` span, one
//!   `graphql <operation>` span per operation (the HTTP handler's `graphql` span) and one
//!   `db.statement` span per SQL statement (see `db`), batch loads included. While tracing is
//!   off, statement spans are not even created. (Not an async-graphql extension: registering
//!   any extension puts every field on async-graphql's slower per-field path.)

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
use tracing_subscriber::{fmt, prelude::*, registry::LookupSpan, EnvFilter, Layer};

static SPANS: AtomicBool = AtomicBool::new(false);

/// Whether operation and statement spans are made (an OpenTelemetry exporter is installed).
pub fn spans_enabled() -> bool {
    SPANS.load(Ordering::Relaxed)
}

/// Turns span creation on (`init` does it when OTLP is configured; tests with an in-process
/// exporter do it themselves).
pub fn enable_spans() {
    SPANS.store(true, Ordering::Relaxed);
}

/// Flushes and stops the trace exporter when dropped (at the end of `main`).
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take() {
            if let Err(e) = provider.shutdown() {
                eprintln!("flushing traces at exit failed: {e}");
            }
        }
    }
}

/// The tracing layer that turns spans into OpenTelemetry spans of `provider`'s tracer.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("gigmarket"))
}

fn otlp_provider() -> Option<SdkTracerProvider> {
    let configured = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    if !configured {
        return None;
    }
    let exporter = match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("OTLP trace exporter not started: {e}");
            return None;
        }
    };
    // Batches are exported from a task on the server's Tokio runtime (the HTTP client needs
    // its reactor), not from a thread of their own.
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        exporter,
        opentelemetry_sdk::runtime::Tokio,
    )
    .build();
    Some(
        SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(Resource::builder().with_service_name("gigmarket").build())
            .build(),
    )
}

/// Installs the global subscriber. Reads the environment directly because it runs before the
/// configuration is parsed, so configuration warnings are logged too.
pub fn init() -> Guard {
    let _ = dotenvy::dotenv();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let production = std::env::var("APP_ENV").is_ok_and(|v| v.starts_with("prod"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok(_) => false,
        Err(_) => production,
    };
    let provider = otlp_provider();
    let traces = provider.as_ref().map(otel_layer);
    if provider.is_some() {
        enable_spans();
    }
    let registry = tracing_subscriber::registry().with(traces).with(filter);
    if json {
        let _ = registry.with(fmt::layer().json().flatten_event(true)).try_init();
    } else {
        // Colours only on a terminal: piped or redirected logs stay plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let _ = registry.with(fmt::layer().with_ansi(ansi)).try_init();
    }
    Guard(provider)
}
