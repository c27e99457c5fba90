//! Prometheus metrics, rendered at `GET /metrics`: GraphQL operations (count and latency by
//! operation name and outcome, recorded by the GraphQL handler's operation clock in
//! `graphql/extensions/metrics.rs`), errors by code, open WebSocket connections and live
//! subscriptions, database pool usage and statements, and the event outbox's lag.

use std::sync::OnceLock;

use axum::{extract::State, http::header, response::IntoResponse};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide recorder once; later calls reuse it (tests build many apps).
pub fn install() -> anyhow::Result<PrometheusHandle> {
    // get_or_init makes concurrent callers wait for the one that installs.
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|e| e.to_string())?;
            Ok(handle)
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))
}

/// Counts one error answered to a client, by its `extensions.code`.
pub fn record_error(code: &str) {
    metrics::counter!("graphql_errors_total", "code" => code.to_owned()).increment(1);
}

/// Keeps `gauge` one higher while alive (open WebSocket connections, live subscriptions).
pub struct Live(&'static str);

impl Live {
    pub fn new(gauge: &'static str) -> Self {
        metrics::gauge!(gauge).increment(1.0);
        Self(gauge)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// `GET /metrics`.
pub async fn render(State(app): State<AppState>) -> impl IntoResponse {
    let status = app.db.status();
    metrics::gauge!("db_pool_connections").set(status.size as f64);
    metrics::gauge!("db_pool_connections_idle").set(status.available as f64);
    metrics::gauge!("db_pool_max_connections").set(status.max_size as f64);
    metrics::gauge!("db_pool_waiting").set(status.waiting as f64);
    metrics::counter!("db_statements_total").absolute(app.db.statements_executed());
    // Outbox lag: events committed but not yet relayed to subscribers.
    match app.db.conn().await {
        Ok(mut conn) => match crate::events::model::pending(&mut conn).await {
            Ok((count, oldest)) => {
                metrics::gauge!("events_pending").set(count as f64);
                let lag = oldest.map_or(0.0, |at| (chrono::Utc::now() - at).as_seconds_f64().max(0.0));
                metrics::gauge!("events_oldest_pending_seconds").set(lag);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: reading the outbox failed"),
        },
        Err(e) => tracing::warn!(error = ?e, "metrics: no database connection for the outbox figures"),
    }
    let body = HANDLE
        .get()
        .and_then(|h| h.as_ref().ok())
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
