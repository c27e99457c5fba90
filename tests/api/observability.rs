//! What operators see: `/metrics` figures for errors, WebSocket use and the outbox.

use std::time::Duration;

use serde_json::json;

use crate::{
    common::TestApp,
    ws::{WsClient, TRANSPORT_WS},
};

/// The value of the first sample of `name` whose labels contain `labels`.
fn sample(metrics: &str, name: &str, labels: &str) -> Option<f64> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_count_errors_by_code_live_sockets_and_subscriptions_and_the_outbox() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let bad = app.gql(r#"{ task(id: "not-a-uuid") { id } }"#, json!({})).await;
    assert_eq!(bad.code(), "VALIDATION_ERROR");
    let denied = app.gql("{ myOrders { totalCount } }", json!({})).await;
    assert_eq!(denied.code(), "UNAUTHORIZED");

    let mut ws = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&user.token)).await;
    ws.subscribe("n", "subscription { notificationAdded { id } }", json!({}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let text = metrics(&app).await;
    for code in ["VALIDATION_ERROR", "UNAUTHORIZED"] {
        let count = sample(&text, "graphql_errors_total", &format!("code=\"{code}\""));
        assert!(count.is_some_and(|n| n >= 1.0), "{code} errors counted:\n{text}");
    }
    // Other tests run servers in this process too: at least ours is counted.
    assert!(sample(&text, "ws_connections", "").is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        sample(&text, "ws_subscriptions", "").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(sample(&text, "events_pending", "").is_some(), "{text}");
    assert!(sample(&text, "events_oldest_pending_seconds", "").is_some(), "{text}");
}

#[tokio::test]
async fn a_trace_of_one_request_shows_the_operation_span_with_its_sql_spans() {
    use opentelemetry::trace::{SpanId, SpanKind};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use tracing_subscriber::prelude::*;

    // An in-process exporter; the server runs on this test's thread, under this subscriber.
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(gigmarket::telemetry::otel_layer(&provider)),
    );
    gigmarket::telemetry::enable_spans();

    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let probe = "query TraceProbe { me { username } tasks(first: 3) { edges { node { title poster { username } } } } }";
    let answer = app.gql_as(&user, probe, json!({})).await;
    assert_eq!(answer.data()["me"]["username"], user.username.as_str());
    // The request's span closes once its response has been written out.
    tokio::time::sleep(Duration::from_millis(200)).await;
    provider.force_flush().expect("flush");

    let spans = exporter.get_finished_spans().expect("spans");
    let operation = spans
        .iter()
        .find(|s| s.name == "graphql TraceProbe")
        .unwrap_or_else(|| {
            panic!(
                "no operation span in {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    let statements: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "db.statement" && s.parent_span_id == operation.span_context.span_id())
        .collect();
    assert!(!statements.is_empty(), "the operation span has SQL spans under it");
    for statement in &statements {
        assert_eq!(statement.span_context.trace_id(), operation.span_context.trace_id());
        assert_eq!(statement.span_kind, SpanKind::Client);
        let text = statement
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "db.statement")
            .map(|kv| kv.value.to_string())
            .unwrap_or_default();
        assert!(text.starts_with("SELECT") || text.starts_with("WITH"), "{text}");
    }
    // The operation belongs to the request's `http` span (the one that carries its request id).
    let mut ancestors = Vec::new();
    let mut parent = operation.parent_span_id;
    while parent != SpanId::INVALID {
        let Some(span) = spans.iter().find(|s| s.span_context.span_id() == parent) else {
            break;
        };
        ancestors.push(span.name.to_string());
        parent = span.parent_span_id;
    }
    assert_eq!(ancestors.last().map(String::as_str), Some("http"), "{ancestors:?}");
}
