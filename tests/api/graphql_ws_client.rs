//! The real `graphql-ws` client (from npm, pinned by `tests/ws-client/package-lock.json`)
//! against the server: delivery, authorisation and the close codes as that client sees them.
//! The checks live in `tests/ws-client/check.mjs`; this test starts the server, makes the
//! users and the conversation, and runs the script under Node.

use std::{path::PathBuf, process::Output, time::Duration};

use serde_json::json;
use tokio::process::Command;

use crate::{common::TestApp, realtime::conversation};

/// Short, so the init-timeout check (4408) costs half a second.
const INIT_TIMEOUT_MS: u64 = 500;
/// Above the script's own global timeout (20 s), so the script reports what hung.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(40);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ws-client")
}

fn report(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `program args…` in the client folder, with a time limit and a clear message when the
/// program is not installed.
async fn run(program: &str, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(client_dir()).kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output();
    match tokio::time::timeout(limit, output).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{program}` is not installed or not on PATH: this test needs Node.js 20+ and npm \
             (Debian: apt-get install nodejs npm; `bash .ci/run` installs them)"
        ),
        Ok(Err(e)) => panic!("could not run `{program} {}`: {e}", args.join(" ")),
        Err(_) => panic!("`{program} {}` did not finish within {limit:?}", args.join(" ")),
    }
}

/// Installs the locked client packages unless `node_modules` already matches the lockfile
/// (npm rewrites `node_modules/.package-lock.json` on every install).
async fn ensure_client_installed() {
    let dir = client_dir();
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    if matches!((installed, locked), (Some(installed), Some(locked)) if installed >= locked) {
        return;
    }
    let output = run("npm", &["ci", "--no-audit", "--no-fund"], &[], INSTALL_TIMEOUT).await;
    assert!(
        output.status.success(),
        "`npm ci` in {} failed (is the npm registry reachable?): {}",
        dir.display(),
        report(&output)
    );
}

#[tokio::test]
async fn the_graphql_ws_client_subscribes_and_sees_the_protocol_close_codes() {
    // First, so a slow install cannot age the tokens made below.
    ensure_client_installed().await;
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
    let output = run("node", &["check.mjs"], &[("SCENARIO", &scenario)], SCRIPT_TIMEOUT).await;
    assert!(output.status.success(), "check.mjs failed: {}", report(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().last().is_some_and(|l| l.ends_with(" passed, 0 failed")),
        "no summary line: {}",
        report(&output)
    );
    // One line per check, for `--nocapture`.
    print!("{stdout}");
}
