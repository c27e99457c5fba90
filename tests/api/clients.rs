//! Real GraphQL clients from npm (pinned by `tests/clients/package-lock.json`) against the
//! server: Apollo Client with apollo-upload-client, urql, graphql-request and the legacy
//! subscriptions-transport-ws. The checks live in `tests/clients/check.mjs`; this test starts
//! the server, makes the users and the conversation, and runs the script under Node.

use std::{path::PathBuf, time::Duration};

use serde_json::json;

use crate::{
    common::TestApp,
    node::{ensure_installed, run_checks},
    realtime::conversation,
};

/// Short, so the check that a legacy subscription outlives keep-alive intervals is quick.
const KEEPALIVE_SECS: u64 = 1;
/// Above the script's own global timeout (40 s), so the script reports what hung.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

#[tokio::test]
async fn apollo_urql_graphql_request_and_the_legacy_ws_client_work_against_the_server() {
    // First, so a slow install cannot age the tokens made below.
    ensure_installed(&client_dir()).await;
    let app = TestApp::builder()
        .var("WS_KEEPALIVE_SECS", &KEEPALIVE_SECS.to_string())
        .spawn()
        .await;
    let (alice, bob, eve) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let conversation = conversation(&app, &alice, &bob).await;

    let scenario = json!({
        "httpUrl": app.base,
        "wsUrl": app.ws_url(),
        "alice": { "id": alice.id, "token": alice.token, "username": alice.username },
        "bob": { "id": bob.id, "token": bob.token, "username": bob.username },
        "eve": { "token": eve.token },
        "conversationId": conversation,
        "keepaliveSecs": KEEPALIVE_SECS,
    })
    .to_string();
    run_checks(&client_dir(), "check.mjs", &[("SCENARIO", &scenario)], SCRIPT_TIMEOUT).await;
}
