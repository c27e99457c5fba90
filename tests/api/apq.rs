//! Automatic persisted queries (Apollo's protocol) over POST and GET.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::TestApp;

const QUERY: &str = "query Templates { taskTemplates { key } }";

fn hash(query: &str) -> String {
    format!("{:x}", Sha256::digest(query.as_bytes()))
}

fn persisted(hash: &str) -> serde_json::Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

#[tokio::test]
async fn a_hash_only_request_answers_after_registration_and_an_unknown_hash_is_not_found() {
    let app = TestApp::spawn().await;
    let post = |body: serde_json::Value| app.send(app.client.post(app.url("/graphql")).json(&body));

    let unknown = post(json!({ "extensions": persisted(&hash(QUERY)) })).await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.errors()[0]["message"], "PersistedQueryNotFound");
    assert_eq!(unknown.code(), "PERSISTED_QUERY_NOT_FOUND");

    let registered = post(json!({ "query": QUERY, "extensions": persisted(&hash(QUERY)) })).await;
    assert!(registered.data()["taskTemplates"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));

    let by_hash = post(json!({ "extensions": persisted(&hash(QUERY)), "operationName": "Templates" })).await;
    assert_eq!(by_hash.data(), registered.data());

    // GET: the hash in `extensions`, no `query` parameter.
    let extensions = persisted(&hash(QUERY)).to_string();
    let get = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .query(&[("extensions", extensions.as_str())]),
        )
        .await;
    assert_eq!(get.data(), registered.data());
    let other = "{ taskTemplates { name } }";
    let extensions = persisted(&hash(other)).to_string();
    let missing = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .query(&[("extensions", extensions.as_str())]),
        )
        .await;
    assert_eq!(missing.code(), "PERSISTED_QUERY_NOT_FOUND");
    let register_by_get = app
        .send(
            app.client
                .get(app.url("/graphql"))
                .query(&[("query", other), ("extensions", extensions.as_str())]),
        )
        .await;
    assert!(register_by_get.data()["taskTemplates"].is_array());

    // A query whose hash is not the one sent is refused and not registered.
    let lying = post(json!({ "query": "{ me { id } }", "extensions": persisted(&hash(QUERY)) })).await;
    assert_eq!(lying.status, 400);
    assert_eq!(lying.code(), "VALIDATION_ERROR");
    let malformed =
        post(json!({ "extensions": { "persistedQuery": { "version": 3, "sha256Hash": hash(QUERY) } } })).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.code(), "VALIDATION_ERROR");
}
