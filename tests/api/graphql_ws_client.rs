//! The real `graphql-ws` client (from npm, pinned by `tests/ws-client/package-lock.json`)
//! against the server: delivery, authorisation and the close codes as that client sees them.
//! The checks live in `tests/ws-client/check.mjs`; this test starts the server, makes the
//! users and the conversation, and runs the script under Node.

use std::{path::PathBuf, time::Duration};

use serde_json::json;

use crate::{
    common::TestApp,
    node::{ensure_installed, run_checks},
    realtime::conversation,
};

/// Short, so the init-timeout check (4408) costs half a second.
const INIT_TIMEOUT_MS: u64 = 500;
/// Above the script's own global timeout (20 s), so the script reports what hung.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(40);

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ws-client")
}

#[tokio::test]
async fn the_graphql_ws_client_subscribes_and_sees_the_protocol_close_codes() {
    // First, so a slow install cannot age the tokens made below.
    ensure_installed(&client_dir()).await;
    let app = TestApp::builder()
        .var("WS_INIT_TIMEOUT_MS", &INIT_TIMEOUT_MS.to_string())
        .spawn()
        .await;
    let (alice, bob, eve) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let conversation = conversation(&app, &alice, &bob).await;

    let scenario = json!({
        "wsUrl": app.ws_url(),
        "httpUrl": app.base,
        "alice": { "token": alice.token, "username": alice.username },
        "bob": { "token": bob.token, "username": bob.username },
        "eve": { "token": eve.token },
        "conversationId": conversation,
        "initTimeoutMs": INIT_TIMEOUT_MS,
    })
    .to_string();
    run_checks(&client_dir(), "check.mjs", &[("SCENARIO", &scenario)], SCRIPT_TIMEOUT).await;
}
