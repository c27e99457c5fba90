//! The admin console: members (list, suspend, restore), deactivating gigs and tasks, the
//! audit log of each, and a walk over every admin field proving non-admins get FORBIDDEN.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::{
    common::{TestApp, PASSWORD},
    orders::{active_gig, one},
    tasks,
    ws::{WsClient, TRANSPORT_WS},
};

const BAN: &str = "mutation($u: ID!, $r: String!) { banUser(userId: $u, reason: $r) { id bannedAt banReason } }";
const UNBAN: &str = "mutation($u: ID!, $r: String!) { unbanUser(userId: $u, reason: $r) { id bannedAt } }";
const ME: &str = "{ me { id } }";
const SIGN_IN: &str = "mutation($i: SignInInput!) { signIn(input: $i) { accessToken } }";
const REFRESH: &str = "mutation($t: String) { refreshSession(refreshToken: $t) { accessToken } }";

#[tokio::test]
async fn a_suspension_closes_live_subscriptions_and_refuses_the_next_request_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.with_admin().await;
    let member = app.with_user().await;

    let mut ws = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&member.token)).await;
    ws.subscribe("n", "subscription { notificationAdded { id } }", json!({}))
        .await;
    assert_eq!(
        app.gql_as(&member, ME, json!({})).await.data()["me"]["id"],
        member.id.as_str()
    );

    let short = app.gql_as(&admin, BAN, json!({ "u": member.id, "r": "x" })).await;
    assert_eq!(short.code(), "VALIDATION_ERROR");
    assert_eq!(short.fields(), ["reason"]);
    let myself = app
        .gql_as(&admin, BAN, json!({ "u": admin.id, "r": "testing myself" }))
        .await;
    assert_eq!(myself.code(), "FORBIDDEN");

    let banned = app
        .gql_as(&admin, BAN, json!({ "u": member.id, "r": "Spam in messages" }))
        .await;
    assert_eq!(banned.data()["banUser"]["banReason"], "Spam in messages");
    assert!(banned.data()["banUser"]["bannedAt"].is_string());

    // The live connection closes although the token has not expired.
    let (code, _) = tokio::time::timeout(std::time::Duration::from_secs(10), ws.expect_close())
        .await
        .expect("the connection closes on suspension");
    assert_eq!(code, 4403);
    // The next request fails; so do refresh and a new connection.
    assert_eq!(app.gql_as(&member, ME, json!({})).await.code(), "FORBIDDEN");
    let refreshed = app.gql(REFRESH, json!({ "t": member.refresh_token })).await;
    assert!(refreshed.body.get("errors").is_some(), "{:#}", refreshed.body);
    let mut again = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    again
        .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", member.token) } }))
        .await;
    assert_eq!(again.expect_close().await.0, 4403);
    let twice = app
        .gql_as(&admin, BAN, json!({ "u": member.id, "r": "Spam in messages" }))
        .await;
    assert_eq!(twice.code(), "CONFLICT");

    // Restored: the old token stays refused only if it was revoked; a new sign-in works.
    let restored = app
        .gql_as(&admin, UNBAN, json!({ "u": member.id, "r": "Appeal accepted" }))
        .await;
    assert_eq!(restored.data()["unbanUser"]["bannedAt"], Value::Null);
    let refreshed = app.gql(REFRESH, json!({ "t": member.refresh_token })).await;
    assert!(refreshed.body.get("errors").is_some(), "revoked sessions stay revoked");
    let signed_in = app
        .gql(SIGN_IN, json!({ "i": { "email": member.email, "password": PASSWORD } }))
        .await;
    let token = signed_in.data()["signIn"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = app.gql_with(Some(&token), ME, json!({})).await;
    assert_eq!(me.data()["me"]["id"], member.id.as_str());
    let not_banned = app
        .gql_as(&admin, UNBAN, json!({ "u": member.id, "r": "Appeal accepted" }))
        .await;
    assert_eq!(not_banned.code(), "CONFLICT");

    let actions = app.audit_actions(&admin, "USER", Some(&member.id)).await;
    assert_eq!(actions, ["UNBAN_USER", "BAN_USER"]);
    let reasons = app
        .texts(&format!(
            "SELECT actor_id::text || ' ' || reason AS value FROM audit_log WHERE target_id = '{}' ORDER BY created_at",
            member.id
        ))
        .await;
    assert_eq!(
        reasons,
        [
            format!("{} Spam in messages", admin.id),
            format!("{} Appeal accepted", admin.id)
        ]
    );
}

#[tokio::test]
async fn admin_users_lists_and_filters_members() {
    let app = TestApp::spawn().await;
    let admin = app.with_admin().await;
    let a = app.with_user().await;
    let b = app.with_user().await;
    app.gql_as(&admin, BAN, json!({ "u": b.id, "r": "Fraudulent orders" }))
        .await;
    let list = |filter: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let r = app
                .gql_as(
                    admin,
                    "query($f: AdminUserFilter) { adminUsers(filter: $f, first: 50) { totalCount nodes { id email bannedAt } } }",
                    json!({ "f": filter }),
                )
                .await;
            let ids: Vec<String> = r.data()["adminUsers"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| n["id"].as_str().expect("id").to_owned())
                .collect();
            ids
        }
    };
    assert_eq!(
        list(json!(null)).await,
        [b.id.as_str(), a.id.as_str(), admin.id.as_str()]
    );
    assert_eq!(list(json!({ "banned": true })).await, [b.id.as_str()]);
    assert_eq!(
        list(json!({ "banned": false, "role": "MEMBER" })).await,
        [a.id.as_str()]
    );
    assert_eq!(list(json!({ "role": "ADMIN" })).await, [admin.id.as_str()]);
    assert_eq!(
        list(json!({ "search": a.username.to_uppercase() })).await,
        [a.id.as_str()]
    );
    assert_eq!(
        list(json!({ "search": "%" })).await,
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    assert_eq!(
        list(json!({ "verificationStatus": "NONE", "banned": false })).await,
        [a.id.as_str(), admin.id.as_str()]
    );
    let long = app
        .gql_as(
            &admin,
            "query($f: AdminUserFilter) { adminUsers(filter: $f) { totalCount } }",
            json!({ "f": { "search": "x".repeat(201) } }),
        )
        .await;
    assert_eq!(long.fields(), ["filter.search"]);
}

#[tokio::test]
async fn deactivated_gigs_and_tasks_leave_public_view_and_their_owners_cannot_bring_them_back() {
    let app = TestApp::spawn().await;
    let admin = app.with_admin().await;
    let owner = app.with_user().await;
    let gig = active_gig(&app, &owner).await;
    let task = tasks::post(&app, &owner, tasks::task("Build a scraper")).await;
    let in_feed = |id: String| {
        let app = &app;
        async move {
            let r = app.gql("{ gigs(first: 50) { nodes { id } } }", json!({})).await;
            r.data()["gigs"]["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .any(|n| n["id"] == id.as_str())
        }
    };
    assert!(in_feed(gig.clone()).await);

    let deactivated = app
        .gql_as(
            &admin,
            "mutation($id: ID!) { deactivateGig(id: $id, reason: \"Counterfeit goods\") { id status } }",
            json!({ "id": gig }),
        )
        .await;
    assert_eq!(deactivated.data()["deactivateGig"]["status"], "PAUSED");
    assert!(!in_feed(gig.clone()).await);
    let back = app
        .gql_as(
            &owner,
            "mutation($id: ID!) { setGigStatus(id: $id, status: ACTIVE) { status } }",
            json!({ "id": gig }),
        )
        .await;
    assert_eq!(back.code(), "FORBIDDEN");
    assert!(back.body.to_string().contains("Counterfeit goods"));
    let again = app
        .gql_as(
            &admin,
            "mutation($id: ID!) { deactivateGig(id: $id, reason: \"Counterfeit goods\") { id } }",
            json!({ "id": gig }),
        )
        .await;
    assert_eq!(again.code(), "CONFLICT");

    let task_off = app
        .gql_as(
            &admin,
            "mutation($id: ID!) { deactivateTask(id: $id, reason: \"Asks for illegal work\") { id status } }",
            json!({ "id": task }),
        )
        .await;
    assert_eq!(task_off.data()["deactivateTask"]["status"], "CANCELLED");
    let open = app.gql("{ tasks(first: 50) { nodes { id } } }", json!({})).await;
    assert!(!open.body.to_string().contains(&task));

    let notices = app
        .texts(&format!(
            "SELECT kind || ' ' || title AS value FROM notifications WHERE user_id = '{}' ORDER BY created_at",
            owner.id
        ))
        .await;
    assert!(
        notices.contains(&"GIG_UPDATE Your gig was deactivated".to_owned()),
        "{notices:?}"
    );
    assert!(
        notices.contains(&"SYSTEM Your task was deactivated".to_owned()),
        "{notices:?}"
    );
    assert_eq!(app.audit_actions(&admin, "GIG", Some(&gig)).await, ["DEACTIVATE_GIG"]);
    assert_eq!(
        app.audit_actions(&admin, "TASK", Some(&task)).await,
        ["DEACTIVATE_TASK"]
    );
    let data = one(
        &app,
        &format!("SELECT data::text AS value FROM audit_log WHERE target_id = '{gig}'"),
    )
    .await;
    assert!(data.contains("\"before\": {\"status\": \"ACTIVE\"}"), "{data}");
}

/// Every type of the schema by name, as introspection describes it (kind, enum values,
/// input fields, fields with their arguments and types).
pub(crate) async fn schema_types(app: &TestApp) -> HashMap<String, Value> {
    let schema = app
        .gql(
            "{ __schema { types { name kind enumValues { name } inputFields { name type { ...T } } fields { name args { name type { ...T } } type { ...T } } } } } \
             fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }",
            json!({}),
        )
        .await;
    schema.data()["__schema"]["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| (t["name"].as_str().unwrap_or_default().to_owned(), t.clone()))
        .collect()
}

/// A value of GraphQL type `ty` (introspection JSON) good enough to reach the resolver.
pub(crate) fn placeholder(ty: &Value, types: &HashMap<String, Value>) -> Value {
    match ty["kind"].as_str() {
        Some("NON_NULL") => placeholder(&ty["ofType"], types),
        Some("LIST") => json!([placeholder(&ty["ofType"], types)]),
        _ => {
            let name = ty["name"].as_str().unwrap_or_default();
            let full = &types[name];
            match full["kind"].as_str() {
                Some("ENUM") => full["enumValues"][0]["name"].clone(),
                Some("INPUT_OBJECT") => {
                    let mut object = serde_json::Map::new();
                    for field in full["inputFields"].as_array().into_iter().flatten() {
                        if field["type"]["kind"] == "NON_NULL" {
                            object.insert(
                                field["name"].as_str().unwrap_or_default().to_owned(),
                                placeholder(&field["type"], types),
                            );
                        }
                    }
                    Value::Object(object)
                }
                _ => match name {
                    "ID" => json!(uuid::Uuid::now_v7().to_string()),
                    "Int" => json!(1),
                    "Float" => json!(1.0),
                    "Boolean" => json!(true),
                    _ => json!("a placeholder text"),
                },
            }
        }
    }
}

#[tokio::test]
async fn every_admin_field_and_mutation_answers_forbidden_to_members() {
    let app = TestApp::spawn().await;
    let member = app.with_user().await;
    let types = schema_types(&app).await;
    // The admin operations: the fields the admin console's own types declare.
    let admin_fields = gigmarket::admin::graphql::field_names().await;
    assert!(admin_fields.len() >= 10, "{admin_fields:?}");
    let mut checked = 0;
    for (root, operation) in [("Query", "query"), ("Mutation", "mutation")] {
        for field in types[root]["fields"].as_array().expect("fields") {
            let name = field["name"].as_str().unwrap_or_default();
            if !admin_fields.iter().any(|f| f == name) {
                continue;
            }
            let mut args = Vec::new();
            let mut variables = serde_json::Map::new();
            for (i, arg) in field["args"].as_array().expect("args").iter().enumerate() {
                if arg["type"]["kind"] != "NON_NULL" {
                    continue;
                }
                args.push(format!("{}: $v{i}", arg["name"].as_str().unwrap_or_default()));
                variables.insert(format!("v{i}"), placeholder(&arg["type"], &types));
            }
            let declared: Vec<String> = field["args"]
                .as_array()
                .expect("args")
                .iter()
                .enumerate()
                .filter(|(_, a)| a["type"]["kind"] == "NON_NULL")
                .map(|(i, a)| format!("$v{i}: {}", type_text(&a["type"])))
                .collect();
            let header = if declared.is_empty() {
                String::new()
            } else {
                format!("({})", declared.join(", "))
            };
            let call = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let selection = if is_object(&field["type"], &types) {
                " { __typename }"
            } else {
                ""
            };
            let document = format!("{operation}{header} {{ {name}{call}{selection} }}");
            let variables = Value::Object(variables);
            let r = app.gql_as(&member, &document, variables.clone()).await;
            assert_eq!(r.code(), "FORBIDDEN", "{name}: {document} → {:#}", r.body);
            let anonymous = app.gql(&document, variables).await;
            assert!(
                anonymous.body.get("errors").is_some(),
                "{name} answers anonymous callers"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, admin_fields.len(), "every admin field is in the schema");
}

/// Whether a field of type `ty` needs a selection set.
pub(crate) fn is_object(ty: &Value, types: &HashMap<String, Value>) -> bool {
    match ty["kind"].as_str() {
        Some("NON_NULL" | "LIST") => is_object(&ty["ofType"], types),
        _ => matches!(
            types[ty["name"].as_str().unwrap_or_default()]["kind"].as_str(),
            Some("OBJECT" | "INTERFACE" | "UNION")
        ),
    }
}

/// The GraphQL type text of an introspected type (`[ID!]!`).
pub(crate) fn type_text(ty: &Value) -> String {
    match ty["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", type_text(&ty["ofType"])),
        Some("LIST") => format!("[{}]", type_text(&ty["ofType"])),
        _ => ty["name"].as_str().unwrap_or_default().to_owned(),
    }
}
