//! `gigmarket seed`: demo accounts that work, created once.

use serde_json::json;

use crate::common::TestApp;

#[tokio::test]
async fn demo_accounts_are_created_once_and_can_sign_in() {
    let app = TestApp::spawn().await;
    assert_eq!(gigmarket::seed::demo(&app.state).await.expect("seed"), 4);
    assert_eq!(
        gigmarket::seed::demo(&app.state).await.expect("seed again"),
        0,
        "idempotent"
    );

    let ada = app
        .gql(
            "{ userByUsername(username: \"ada\") { headline skills location { lat } isAdmin } }",
            json!({}),
        )
        .await;
    let ada = &ada.data()["userByUsername"];
    assert_eq!(ada["skills"], json!(["Rust", "PostgreSQL", "GraphQL"]));
    assert!(ada["location"]["lat"].is_number());

    let signed_in = app
        .gql(
            "mutation($i: SignInInput!) { signIn(input: $i) { user { username isAdmin } } }",
            json!({ "i": { "email": "moderator@example.com", "password": gigmarket::seed::DEMO_PASSWORD } }),
        )
        .await;
    assert_eq!(
        signed_in.data()["signIn"]["user"],
        json!({ "username": "moderator", "isAdmin": true })
    );

    assert_eq!(
        gigmarket::seed::load_users(&app.state, "lu_", 30, "password")
            .await
            .expect("load users"),
        30
    );
    assert_eq!(
        app.texts("SELECT username AS value FROM users WHERE username LIKE 'lu\\_%'")
            .await
            .len(),
        30
    );
}
