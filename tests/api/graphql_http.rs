//! GraphQL over HTTP conformance: graphql-http's `serverAudits` (npm, pinned by
//! `tests/graphql-http/package-lock.json`) against the running server, every audit ok, and the
//! negotiation rules the audits do not pin down checked here directly.

use std::{path::PathBuf, time::Duration};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::json;

use crate::{
    common::{Gql, TestApp},
    node::{ensure_installed, run_checks},
};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);
const SPEC: &str = "application/graphql-response+json";

fn audit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/graphql-http")
}

#[tokio::test]
async fn every_graphql_http_server_audit_is_ok() {
    ensure_installed(&audit_dir()).await;
    let app = TestApp::spawn().await;
    let url = app.url("/graphql");
    let passed = run_checks(&audit_dir(), "audit.mjs", &[("URL", &url)], SCRIPT_TIMEOUT).await;
    // graphql-http 1.23 has 61 server audits; a silent run of none would prove nothing.
    assert!(passed >= 40, "only {passed} audits ran");
}

async fn post(app: &TestApp, accept: Option<&str>, token: Option<&str>, body: serde_json::Value) -> Gql {
    let mut request = app.client.post(app.url("/graphql")).json(&body);
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    app.send(request).await
}

fn content_type(response: &Gql) -> &str {
    response.headers[CONTENT_TYPE].to_str().unwrap_or_default()
}

#[tokio::test]
async fn accept_picks_the_media_type_and_the_status_of_request_errors() {
    let app = TestApp::spawn().await;
    let valid = json!({ "query": "{ __typename }" });
    let invalid = json!({ "query": "{ noSuchField }" });

    // Apollo Client's Accept: the specification's type, 200 with data.
    let ok = post(
        &app,
        Some("application/graphql-response+json,application/json;q=0.9"),
        None,
        valid.clone(),
    )
    .await;
    assert_eq!(ok.status.as_u16(), 200);
    assert!(content_type(&ok).starts_with(SPEC), "{}", content_type(&ok));
    assert_eq!(ok.data()["__typename"], "Query");

    // A request error under the specification's type: 400 and no `data` entry at all.
    let spec = post(&app, Some(SPEC), None, invalid.clone()).await;
    assert_eq!(spec.status.as_u16(), 400);
    assert!(content_type(&spec).starts_with(SPEC));
    assert!(spec.body.get("data").is_none(), "{:#}", spec.body);
    assert_eq!(spec.code(), "VALIDATION_ERROR");

    // The same under application/json (and with no Accept): 200, as legacy clients expect.
    for accept in [Some("application/json"), None, Some("*/*")] {
        let legacy = post(&app, accept, None, invalid.clone()).await;
        assert_eq!(legacy.status.as_u16(), 200, "{accept:?}");
        assert!(content_type(&legacy).starts_with("application/json"), "{accept:?}");
        assert!(legacy.body.get("data").is_none());
        assert_eq!(legacy.code(), "VALIDATION_ERROR");
    }

    // A field error is not a request error: it ran, `data` is there (null here, as the
    // field is non-null), and the status is 200 under either type.
    let field_error = post(
        &app,
        Some(SPEC),
        None,
        json!({ "query": "{ unreadNotificationCount }" }),
    )
    .await;
    assert_eq!(field_error.status.as_u16(), 200, "{:#}", field_error.body);
    assert_eq!(field_error.body.get("data"), Some(&serde_json::Value::Null));
    assert_eq!(field_error.code(), "UNAUTHORIZED");

    // Nothing the server can send: 406.
    let html = post(&app, Some("text/html"), None, valid.clone()).await;
    assert_eq!(html.status.as_u16(), 406);

    // GET: queries answer in the negotiated type; mutations are refused in it too.
    let get = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .header(ACCEPT, SPEC)
                .query(&[("query", "{ __typename }")]),
        )
        .await;
    assert_eq!(get.status.as_u16(), 200);
    assert!(content_type(&get).starts_with(SPEC));
    let get_mutation = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .header(ACCEPT, SPEC)
                .query(&[("query", "mutation { signOut }")]),
        )
        .await;
    assert_eq!(get_mutation.status.as_u16(), 405);
    assert!(content_type(&get_mutation).starts_with(SPEC));
}

#[tokio::test]
async fn a_mutation_that_failed_validation_leaves_its_idempotency_key_free() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let send = |query: &'static str| {
        let request = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&user.token)
            .header(ACCEPT, SPEC)
            .header("Idempotency-Key", "availability-1")
            .json(&json!({ "query": query }));
        app.send(request)
    };
    let typo = send("mutation { setAvailability(isAvailable: \"yes\") { id isAvailable } }").await;
    assert_eq!((typo.status.as_u16(), typo.code()), (400, "VALIDATION_ERROR"));
    // The fixed request, with the same key, runs: the failed one never claimed it.
    let fixed = send("mutation { setAvailability(isAvailable: false) { id isAvailable } }").await;
    assert_eq!(fixed.status.as_u16(), 200, "{:#}", fixed.body);
    assert_eq!(fixed.data()["setAvailability"]["isAvailable"], false);
    assert!(fixed.headers.get("idempotent-replayed").is_none());
    let replay = send("mutation { setAvailability(isAvailable: false) { id isAvailable } }").await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert!(content_type(&replay).starts_with(SPEC));
    assert_eq!(replay.body, fixed.body);
}

#[tokio::test]
async fn standard_introspection_passes_the_depth_limit_and_nothing_else_does() {
    let app = TestApp::spawn().await;
    // graphql-js's introspection query reaches 15 levels down `ofType`; so does this one.
    let type_ref = (0..10).fold("name".to_owned(), |inner, _| format!("kind ofType {{ {inner} }}"));
    let introspection = format!("{{ __schema {{ types {{ fields {{ type {{ {type_ref} }} }} }} }} }}");
    let schema = app.gql(&introspection, json!({})).await;
    assert!(schema.data()["__schema"]["types"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));

    // The same selection beside an application field gets the application's limit.
    let mixed = format!("{{ me {{ id }} {} }}", &introspection[1..introspection.len() - 1]);
    let refused = app.gql(&mixed, json!({})).await;
    assert_eq!(refused.code(), "LIMIT_EXCEEDED", "{:#}", refused.body);
    // And introspection has a limit too.
    let type_ref = (0..30).fold("name".to_owned(), |inner, _| format!("ofType {{ {inner} }}"));
    let too_deep = app
        .gql(&format!("{{ __type(name: \"Query\") {{ {type_ref} }} }}"), json!({}))
        .await;
    assert_eq!(too_deep.code(), "LIMIT_EXCEEDED");
}
