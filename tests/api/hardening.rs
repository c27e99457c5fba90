//! Transport and limits: each unsafe default of the stack has a test here.

use serde_json::json;

use crate::common::TestApp;

/// Fragments of internals that must never reach a client.
const LEAKS: &[&str] = &[
    "diesel",
    "async_graphql",
    "tokio",
    "src/",
    ".rs",
    "panicked",
    "SELECT",
    "postgres",
    "Did you mean",
];

fn assert_no_leak(text: &str) {
    for leak in LEAKS {
        assert!(!text.contains(leak), "response leaks {leak:?}: {text}");
    }
}

#[tokio::test]
async fn too_deep_or_too_costly_queries_are_refused_before_any_resolver_runs() {
    // The schema has no cycles yet, so the depth limit is lowered to show it bites.
    let app = TestApp::builder().var("GRAPHQL_MAX_DEPTH", "2").spawn().await;
    let before = app.statements();
    let response = app.gql("{ me { location { lat } } }", json!({})).await;
    assert_eq!(response.code(), "LIMIT_EXCEEDED");
    assert!(response.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("nested too deep"));
    assert_eq!(app.statements(), before);

    let aliases: String = (0..1001)
        .map(|i| format!("a{i}: userByUsername(username: \"x\") {{ id }} "))
        .collect();
    let before = app.statements();
    let response = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(response.code(), "LIMIT_EXCEEDED");
    assert!(response.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("too complex"));
    assert_eq!(app.statements(), before, "no resolver ran, so no statement did");
    assert!(response.body.get("data").is_none_or(|d| d.is_null()));
}

#[tokio::test]
async fn directive_and_recursion_limits_hold() {
    let app = TestApp::spawn().await;
    let directives =
        "{ me @include(if: true) @include(if: true) @include(if: true) @include(if: true) @skip(if: false) { id } }";
    let response = app.gql(directives, json!({})).await;
    assert_eq!(response.code(), "LIMIT_EXCEEDED");

    let nested: String = "{ __typename ".repeat(40) + &"}".repeat(40);
    let response = app.gql(&format!("query {nested}"), json!({})).await;
    assert_ne!(response.status.as_u16(), 500);
    assert!(response.body.get("errors").is_some());
    assert_no_leak(&response.body.to_string());
}

#[tokio::test]
async fn batched_requests_are_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .json(&json!([{ "query": "{ me { id } }" }, { "query": "{ me { id } }" }])),
        )
        .await;
    assert_eq!((response.status.as_u16(), response.code()), (400, "VALIDATION_ERROR"));
    assert!(response.errors()[0]["message"].as_str().unwrap().contains("Batched"));
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = TestApp::spawn().await;
    let query = app
        .send(app.client.get(app.url("/graphql")).query(&[("query", "{ me { id } }")]))
        .await;
    assert_eq!(query.data()["me"], json!(null));

    let mutation = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .query(&[("query", "mutation { requestPasswordReset(email: \"a@b.co\") }")]),
        )
        .await;
    assert_eq!(mutation.status.as_u16(), 405);
    assert_eq!(mutation.headers["allow"], "POST");
    let named = app
        .send(app.client.get(app.url("/graphql")).query(&[
            ("query", "query Q { me { id } } mutation M { signOut }"),
            ("operationName", "M"),
        ]))
        .await;
    assert_eq!(named.status.as_u16(), 405, "{:#}", named.body);
}

#[tokio::test]
async fn content_types_a_browser_sends_without_preflight_are_refused() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": "mutation { signOut }" }).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = app.client.post(app.url("/graphql")).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = app.send(request).await;
        assert!(
            matches!(response.status.as_u16(), 400 | 415),
            "{content_type:?} answered {}",
            response.status
        );
        assert!(response.body.get("data").is_none(), "{content_type:?} executed");
    }
}

#[tokio::test]
async fn the_body_is_capped_before_parsing() {
    let app = TestApp::builder().var("GRAPHQL_MAX_BODY_BYTES", "4096").spawn().await;
    let padding = "x".repeat(10_000);
    let response = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .json(&json!({ "query": "{ me { id } }", "variables": { "pad": padding } })),
        )
        .await;
    assert_eq!((response.status.as_u16(), response.code()), (413, "LIMIT_EXCEEDED"));
}

#[tokio::test]
async fn production_refuses_introspection_graphiql_and_suggestions() {
    let app = TestApp::builder().production().spawn().await;
    let introspection = app.gql("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(introspection.code(), "FORBIDDEN");
    assert!(introspection.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("Introspection is disabled"));
    let via_fragment = app
        .gql(
            "query { ...F } fragment F on Query { __type(name: \"User\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(via_fragment.code(), "FORBIDDEN");

    let typo = app.gql("{ mee { id } }", json!({})).await;
    assert_eq!(typo.code(), "VALIDATION_ERROR");
    assert_no_leak(&typo.body.to_string());

    let page = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    // No GraphiQL in production, and HTML is not a type the endpoint answers in.
    assert_eq!(page.status(), 406);
    assert!(!page.text().await.unwrap().contains("<html"));

    let user = app.with_user().await;
    let signed_in = app
        .gql(
            "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }",
            json!({ "i": { "email": user.email, "password": crate::common::PASSWORD } }),
        )
        .await;
    assert!(signed_in.set_cookies().iter().all(|c| c.contains("; Secure")));
}

#[tokio::test]
async fn development_serves_graphiql_and_introspection() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
    let introspection = app.gql("{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(introspection.data()["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn no_error_leaks_internals() {
    let app = TestApp::builder().production().spawn().await;
    let cases = [
        json!({ "query": "{ user(id: \"not-a-uuid\") { id } }" }),
        json!({ "query": "{ user(id: 5) { id } }" }),
        json!({ "query": "query($id: ID!) { user(id: $id) { id } }", "variables": { "id": { "$ne": 1 } } }),
        json!({ "query": "{ nope }" }),
        json!({ "query": "{ me { id " }),
        json!({ "query": "mutation { signIn(input: { email: \"'; DROP TABLE users; --\", password: \"x\" }) { accessToken } }" }),
        json!({ "query": 42 }),
        json!({}),
    ];
    for case in cases {
        let response = app.send(app.client.post(app.url("/graphql")).json(&case)).await;
        let text = response.body.to_string();
        assert_no_leak(&text);
        for error in response.errors() {
            assert!(
                error["extensions"]["code"].is_string(),
                "every error has a code: {text}"
            );
        }
    }
    let garbage = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(garbage.code(), "VALIDATION_ERROR");
    assert_no_leak(&garbage.body.to_string());
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,authorization")
            .send()
    };
    let allowed = preflight("http://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://app.example.com"
    );
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let denied = preflight("http://evil.example.com").await.unwrap();
    assert!(denied.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn health_readiness_metrics_and_request_ids() {
    let app = TestApp::spawn().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("x-request-id").is_some());
    let ready: serde_json::Value = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], "ok");

    app.send(
        app.client
            .post(app.url("/graphql"))
            .json(&json!({ "query": "query MetricsProbe { me { id } }", "operationName": "MetricsProbe" })),
    )
    .await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("graphql_operations_total{operation=\"MetricsProbe\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("graphql_operation_duration_seconds_bucket{operation=\"MetricsProbe\""));
    assert!(metrics.contains("db_pool_max_connections 4"));
}

#[tokio::test]
async fn multipart_requests_are_capped_in_file_count() {
    let app = TestApp::builder().var("UPLOAD_MAX_FILES", "1").spawn().await;
    let user = app.with_user().await;
    let operations =
        json!({ "query": "mutation($f: Upload!) { uploadAvatar(file: $f) { id } }", "variables": { "f": null } });
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{ "0": ["variables.f"], "1": ["variables.f"] }"#)
        .part("0", reqwest::multipart::Part::bytes(vec![1u8; 10]).file_name("a.png"))
        .part("1", reqwest::multipart::Part::bytes(vec![2u8; 10]).file_name("b.png"));
    let response = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .bearer_auth(&user.token)
                .header("graphql-preflight", "1")
                .multipart(form),
        )
        .await;
    assert!(matches!(response.status.as_u16(), 400 | 413), "{}", response.status);
    assert!(
        matches!(response.code(), "LIMIT_EXCEEDED" | "VALIDATION_ERROR"),
        "{:#}",
        response.body
    );
    assert!(response.body.get("data").is_none());
}

/// The server caches parsed documents and remembers which requests on them passed
/// validation; a cached document must still be validated against each request's variables.
#[tokio::test]
async fn a_cached_document_is_still_validated_against_new_variables() {
    let app = TestApp::spawn().await;
    let query = "query Gig($id: ID!) { gig(id: $id) { id title } }";
    for _ in 0..3 {
        let id = uuid::Uuid::new_v4().to_string();
        let found = app.gql(query, json!({ "id": id })).await;
        assert_eq!(found.data()["gig"], json!(null), "no such gig, no error");
    }
    // A boolean is no ID: a validation error, with no data, however often it is sent.
    for _ in 0..2 {
        let wrong = app.gql(query, json!({ "id": true })).await;
        assert!(
            wrong.errors()[0]["message"]
                .as_str()
                .unwrap()
                .contains("Invalid value for argument"),
            "{:#}",
            wrong.body
        );
        assert!(wrong.body.get("data").is_none_or(|d| d.is_null()));
    }
    // `null` for a non-null variable is no string either.
    let null = app.gql(query, json!({ "id": null })).await;
    assert!(!null.errors().is_empty(), "{:#}", null.body);
    assert!(null.body.get("data").is_none_or(|d| d.is_null()));
    let missing = app.gql(query, json!({})).await;
    assert!(!missing.errors().is_empty(), "a required variable left out");

    // A document that fails validation fails it every time, with the same answer.
    let unknown = "{ gigs(first: 1) { totalCount nope } }";
    let first = app.gql(unknown, json!({})).await;
    let again = app.gql(unknown, json!({})).await;
    assert!(!first.errors().is_empty());
    assert_eq!(first.body, again.body);
}

#[tokio::test]
async fn a_cached_document_serves_each_operation_and_variable_shape_on_its_own() {
    let app = TestApp::spawn().await;
    let document = "query Count { gigs(first: 1) { totalCount } } \
                    query Page($first: Int) { gigs(first: $first) { totalCount edges { cursor node { id title startingPriceCents owner { username fullName } packages { tier priceCents deliveryDays } } } } }";
    let run = |operation: Option<&str>, variables: serde_json::Value| {
        let mut body = json!({ "query": document, "variables": variables });
        if let Some(name) = operation {
            body["operationName"] = json!(name);
        }
        app.send(app.client.post(app.url("/graphql")).json(&body))
    };
    for _ in 0..2 {
        assert_eq!(run(Some("Count"), json!({})).await.data()["gigs"]["totalCount"], 0);
        assert_eq!(
            run(Some("Page"), json!({ "first": 1 })).await.data()["gigs"]["edges"],
            json!([])
        );
    }
    let unnamed = run(None, json!({})).await;
    assert!(unnamed.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("Operation name required"));
    let unknown = run(Some("Other"), json!({})).await;
    assert!(unknown.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("Unknown operation"));
    // Validated with `first: 1`, the same operation is checked again for other values.
    let not_an_int = run(Some("Page"), json!({ "first": "one" })).await;
    assert!(not_an_int.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("Invalid value for argument"));
    let too_costly = run(Some("Page"), json!({ "first": 100 })).await;
    assert_eq!(too_costly.code(), "LIMIT_EXCEEDED", "{:#}", too_costly.body);
}
