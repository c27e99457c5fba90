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
