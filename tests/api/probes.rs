//! What probing the API as an attacker found (issue 20), each with the proof it is closed:
//! U+0000 in any string input, access tokens outliving their revoked session, and clients
//! that send a request's body (or headers) slowly or never.

use std::collections::HashMap;

use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    admin::{is_object, placeholder, schema_types, type_text},
    common::{redis_url, TestApp, PASSWORD},
    ws::{WsClient, TRANSPORT_WS},
};

/// A string with U+0000 inside.
const NUL: &str = "a\u{0}b";

/// The named type under `ty`'s NON_NULL and LIST wrappers.
fn named(ty: &Value) -> &str {
    match ty["kind"].as_str() {
        Some("NON_NULL" | "LIST") => named(&ty["ofType"]),
        _ => ty["name"].as_str().unwrap_or_default(),
    }
}

/// Whether a value of `ty` is written as a string: String, ID and the custom scalars.
fn takes_string(ty: &Value, types: &HashMap<String, Value>) -> bool {
    let name = named(ty);
    types[name]["kind"] == "SCALAR" && !matches!(name, "Int" | "Float" | "Boolean")
}

/// Every place in a value of `ty` that takes a string, as the input field names leading to
/// it (empty: the value itself). Input objects are followed three levels down.
fn string_paths(ty: &Value, types: &HashMap<String, Value>, depth: usize) -> Vec<Vec<String>> {
    if takes_string(ty, types) {
        return vec![vec![]];
    }
    let full = &types[named(ty)];
    if full["kind"] != "INPUT_OBJECT" || depth >= 3 {
        return Vec::new();
    }
    let mut paths = Vec::new();
    for field in full["inputFields"].as_array().into_iter().flatten() {
        for rest in string_paths(&field["type"], types, depth + 1) {
            let mut path = vec![field["name"].as_str().unwrap_or_default().to_owned()];
            path.extend(rest);
            paths.push(path);
        }
    }
    paths
}

/// A value of `ty` carrying [`NUL`] at `path` (placeholders elsewhere).
fn with_nul(ty: &Value, path: &[String], types: &HashMap<String, Value>) -> Value {
    match ty["kind"].as_str() {
        Some("NON_NULL") => with_nul(&ty["ofType"], path, types),
        Some("LIST") => json!([with_nul(&ty["ofType"], path, types)]),
        _ => match path.split_first() {
            None => json!(NUL),
            Some((field, rest)) => {
                let mut object = placeholder(ty, types);
                let field_type = types[named(ty)]["inputFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|f| f["name"] == field.as_str())
                    .map(|f| f["type"].clone())
                    .unwrap_or_default();
                object[field.as_str()] = with_nul(&field_type, rest, types);
                object
            }
        },
    }
}

/// One probe: a document calling `field` with [`NUL`] in one place, its variables, and the
/// field name the refusal must give.
struct Probe {
    document: String,
    variables: Value,
    expected: String,
}

/// Probes for every string-taking place of every argument of `field` (of root type
/// `operation`): through a variable, and for a top-level string argument also as a literal.
fn probes(operation: &str, field: &Value, types: &HashMap<String, Value>) -> Vec<Probe> {
    let name = field["name"].as_str().unwrap_or_default();
    let args = field["args"].as_array().cloned().unwrap_or_default();
    let selection = if is_object(&field["type"], types) {
        " { __typename }"
    } else {
        ""
    };
    let mut out = Vec::new();
    for (target, arg) in args.iter().enumerate() {
        for path in string_paths(&arg["type"], types, 0) {
            let expected = path
                .last()
                .cloned()
                .unwrap_or_else(|| arg["name"].as_str().unwrap_or_default().to_owned());
            let literal = path.is_empty() && !type_text(&arg["type"]).contains('[');
            for as_literal in [false, true] {
                if as_literal && !literal {
                    continue;
                }
                let mut declared = Vec::new();
                let mut call = Vec::new();
                let mut variables = serde_json::Map::new();
                for (i, a) in args.iter().enumerate() {
                    let arg_name = a["name"].as_str().unwrap_or_default();
                    if i == target && as_literal {
                        call.push(format!("{arg_name}: \"a\\u0000b\""));
                        continue;
                    }
                    if i != target && a["type"]["kind"] != "NON_NULL" {
                        continue;
                    }
                    declared.push(format!("$v{i}: {}", type_text(&a["type"])));
                    call.push(format!("{arg_name}: $v{i}"));
                    let value = if i == target {
                        with_nul(&a["type"], &path, types)
                    } else {
                        placeholder(&a["type"], types)
                    };
                    variables.insert(format!("v{i}"), value);
                }
                let header = if declared.is_empty() {
                    String::new()
                } else {
                    format!("({})", declared.join(", "))
                };
                out.push(Probe {
                    document: format!("{operation}{header} {{ {name}({}){selection} }}", call.join(", ")),
                    variables: Value::Object(variables),
                    expected: expected.clone(),
                });
            }
        }
    }
    out
}

#[tokio::test]
async fn nul_in_any_string_argument_of_any_operation_is_a_validation_error_naming_the_field() {
    let app = TestApp::spawn().await;
    let member = app.with_user().await;
    let types = schema_types(&app).await;
    let mut checked = 0;
    for (root, operation) in [("Query", "query"), ("Mutation", "mutation")] {
        for field in types[root]["fields"].as_array().expect("fields") {
            for probe in probes(operation, field, &types) {
                let r = app.gql_as(&member, &probe.document, probe.variables.clone()).await;
                let text = r.body.to_string();
                assert!(!text.contains("INTERNAL_ERROR"), "{}: {text}", probe.document);
                assert_eq!(
                    r.code(),
                    "VALIDATION_ERROR",
                    "{} {} → {text}",
                    probe.document,
                    probe.variables
                );
                assert!(
                    r.fields().contains(&probe.expected),
                    "{} names {:?}, not {}",
                    probe.document,
                    r.fields(),
                    probe.expected
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 50, "only {checked} string arguments found");

    // Subscriptions, over WebSocket: each refused with an `error` message naming the field.
    let mut ws = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&member.token)).await;
    let mut subscriptions = 0;
    for field in types["Subscription"]["fields"].as_array().expect("fields") {
        for (i, probe) in probes("subscription", field, &types).into_iter().enumerate() {
            let id = format!("{}-{i}", field["name"].as_str().unwrap_or_default());
            ws.subscribe(&id, &probe.document, probe.variables).await;
            let answer = ws.expect_json().await;
            assert_eq!(
                (answer["type"].as_str(), answer["id"].as_str()),
                (Some("error"), Some(id.as_str())),
                "{answer}"
            );
            let error = &answer["payload"][0];
            assert_eq!(
                error["extensions"]["code"], "VALIDATION_ERROR",
                "{}: {answer}",
                probe.document
            );
            assert!(
                error["extensions"]["fields"].get(&probe.expected).is_some(),
                "{}: {answer}",
                probe.document
            );
            subscriptions += 1;
        }
    }
    assert!(subscriptions >= 1, "no subscription takes a string");
}

#[tokio::test]
async fn postgres_refusing_nul_is_a_validation_error_too() {
    use diesel_async::RunQueryDsl;

    let app = TestApp::spawn().await;
    let mut conn = app.state.db.conn().await.expect("connection");
    let refused = diesel::sql_query("SELECT $1::text AS value")
        .bind::<diesel::sql_types::Text, _>(NUL)
        .execute(&mut conn)
        .await
        .expect_err("PostgreSQL refuses U+0000 in text");
    let error = gigmarket::error::AppError::from(refused);
    assert_eq!(error.code(), gigmarket::error::Code::ValidationError, "{error:?}");
}

const ME: &str = "{ me { id } }";
const REFRESH: &str = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }";
const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }";

#[tokio::test]
async fn a_reused_refresh_token_ends_its_sessions_live_access_tokens_and_connections_at_once() {
    let app = TestApp::builder().var("REDIS_URL", &redis_url()).spawn().await;
    let member = app.with_user().await;
    // A second sign-in of the same member: another session, which must outlive the first.
    let other = app
        .gql(SIGN_IN, json!({ "i": { "email": member.email, "password": PASSWORD } }))
        .await;
    let other = other.data()["signIn"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    let mut ws = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&member.token)).await;
    ws.subscribe("n", "subscription { notificationAdded { id } }", json!({}))
        .await;

    // Rotating once is normal use: the new access token belongs to the same session.
    let rotated = app.gql(REFRESH, json!({ "t": member.refresh_token })).await;
    let rotated = rotated.data()["refreshSession"]["accessToken"]
        .as_str()
        .expect("rotated token")
        .to_owned();
    assert_eq!(
        app.gql_as(&member, ME, json!({})).await.data()["me"]["id"],
        member.id.as_str()
    );

    // The used refresh token comes back (stolen, or replayed): the session is revoked.
    let reused = app.gql(REFRESH, json!({ "t": member.refresh_token })).await;
    assert_eq!(reused.code(), "UNAUTHORIZED", "{:#}", reused.body);

    // Its access tokens are refused on their next request, though they have not expired.
    assert_eq!(app.gql_as(&member, ME, json!({})).await.code(), "UNAUTHORIZED");
    assert_eq!(app.gql_with(Some(&rotated), ME, json!({})).await.code(), "UNAUTHORIZED");
    // Its live connection closes.
    let (code, _) = tokio::time::timeout(std::time::Duration::from_secs(10), ws.expect_close())
        .await
        .expect("the connection closes on revocation");
    assert_eq!(code, 4403);
    // A new connection with its token is refused.
    let mut again = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    again
        .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", member.token) } }))
        .await;
    assert_eq!(again.expect_close().await.0, 4403);
    // Another instance refuses it too: the revoked sessions are shared through the database.
    let sibling = app.sibling().await;
    let elsewhere = app
        .send(
            app.client
                .post(format!("{}/graphql", sibling.base))
                .bearer_auth(&member.token)
                .json(&json!({ "query": ME })),
        )
        .await;
    assert_eq!(elsewhere.code(), "UNAUTHORIZED");

    // The member's other session is untouched.
    assert_eq!(
        app.gql_with(Some(&other), ME, json!({})).await.data()["me"]["id"],
        member.id.as_str()
    );
}

/// The host and port `app` listens on.
fn address(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Opens a connection, sends `head`, and reads until the answer's head arrives or the
/// server closes the connection; answers what it read. `sent` is told once `head` is out.
async fn probe_connection(addr: &str, head: &[u8], sent: Option<tokio::sync::mpsc::Sender<()>>) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head).await.expect("write");
    if let Some(sent) = sent {
        let _ = sent.send(()).await;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    // A guard against hanging forever, not a timing assertion: no answer at all fails.
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer and the connection stays open");
    String::from_utf8_lossy(&answer).into_owned()
}

/// A request that announces a large body and sends 20 bytes of it.
const SLOW_BODY: &[u8] = b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
Content-Length: 99999999\r\n\r\n{\"query\": \"{ me { i";

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408_and_stalled_headers_close_the_connection() {
    let app = TestApp::builder()
        .var("HTTP_BODY_READ_TIMEOUT_MS", "500")
        .var("HTTP_HEADER_READ_TIMEOUT_MS", "500")
        .spawn()
        .await;
    let addr = address(&app);
    let answer = probe_connection(&addr, SLOW_BODY, None).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A sidecar route answers 408 the same way.
    let webhook = b"POST /webhooks/stripe HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{";
    let answer = probe_connection(&addr, webhook, None).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // Headers that never end: the connection is closed (hyper may say 408 first).
    let answer = probe_connection(&addr, b"GET /healthz HTTP/1.1\r\nHost: loc", None).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A body that arrives in time is served as before.
    let me = app.gql(ME, json!({})).await;
    assert_eq!(me.data()["me"], Value::Null);
}

#[tokio::test]
async fn a_thousand_stalled_bodies_do_not_stop_other_requests() {
    const STALLED: usize = 1000;
    let app = TestApp::builder()
        .var("HTTP_BODY_READ_TIMEOUT_MS", "5000")
        .spawn()
        .await;
    let addr = address(&app);
    let (sent, mut all_sent) = tokio::sync::mpsc::channel(STALLED);
    let stalled: Vec<_> = (0..STALLED)
        .map(|_| {
            let (addr, sent) = (addr.clone(), sent.clone());
            tokio::spawn(async move { probe_connection(&addr, SLOW_BODY, Some(sent)).await })
        })
        .collect();
    drop(sent);
    for _ in 0..STALLED {
        all_sent.recv().await.expect("every stalled client sent its head");
    }

    // While they hold their connections, normal requests are answered.
    let health = app.client.get(app.url("/healthz")).send().await.expect("healthz");
    assert!(health.status().is_success(), "{}", health.status());
    let me = app.gql(ME, json!({})).await;
    assert_eq!(me.data()["me"], Value::Null);

    for task in stalled {
        let answer = task.await.expect("stalled client");
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}
