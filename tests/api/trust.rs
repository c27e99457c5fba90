//! Trust: peer vouches, identity verification with private documents, and the fee policy
//! that follows from verification, over HTTP.

use gigmarket::order::model::OrderStatus;
use serde_json::{json, Value};

use crate::{
    common::{Gql, TestApp, TestUser},
    orders::{one, Market},
    profiles::PNG,
};

const VOUCH: &str =
    "mutation($i: VouchForInput!) { vouchFor(input: $i) { id skillArea message voucher { username } vouchee { id } } }";
const REMOVE: &str = "mutation($id: ID!) { removeVouch(id: $id) }";
const VOUCHES: &str = "query($id: ID!, $s: String) { user(id: $id) { vouchCount vouchSummary { skillArea count } vouches(skillArea: $s, first: 10) { totalCount edges { node { id skillArea message voucher { username } } } } } }";
const SUBMIT: &str = "mutation($d: [Upload!]!) { submitVerification(documents: $d) { id status user { verificationStatus } documents { fileName contentType sizeBytes url urlExpiresAt } } }";
const REVIEW: &str = "mutation($u: ID!, $a: Boolean!, $n: String) { reviewVerification(userId: $u, approve: $a, note: $n) { id status reviewNote reviewer { id } user { verificationStatus commissionBps } } }";
const ME: &str = "{ me { verificationStatus commissionBps } myVerification { status documents { url } } }";

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

async fn vouch(app: &TestApp, by: &TestUser, input: Value) -> Gql {
    app.gql_as(by, VOUCH, json!({ "i": input })).await
}

async fn notifications(app: &TestApp, user: &TestUser) -> Vec<Value> {
    let r = app
        .gql_as(
            user,
            "{ notifications(first: 50) { edges { node { kind title body data } } } }",
            json!({}),
        )
        .await;
    r.data()["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn a_vouch_is_one_per_member_and_skill_area_and_its_author_takes_it_back() {
    let app = TestApp::spawn().await;
    let (alice, bob, carol) = (app.with_user().await, app.with_user().await, app.with_user().await);

    let first = vouch(
        &app,
        &alice,
        json!({ "userId": bob.id, "skillArea": "  Fire   Safety ", "message": "Ran our pyro show safely." }),
    )
    .await;
    let first = first.data()["vouchFor"].clone();
    assert_eq!(first["skillArea"], "fire safety");
    assert_eq!(first["voucher"]["username"], alice.username.as_str());
    assert_eq!(first["vouchee"]["id"], bob.id.as_str());

    // Vouching again for the same area (any case or spacing) edits the message of that vouch.
    let again = vouch(
        &app,
        &alice,
        json!({ "userId": bob.id, "skillArea": "FIRE SAFETY", "message": "Twice now." }),
    )
    .await;
    assert_eq!(again.data()["vouchFor"]["id"], first["id"]);
    assert_eq!(again.data()["vouchFor"]["message"], "Twice now.");
    let carols = vouch(&app, &carol, json!({ "userId": bob.id, "skillArea": "LED tech" })).await;
    let carols = carols.data()["vouchFor"]["id"].as_str().unwrap().to_owned();
    vouch(&app, &carol, json!({ "userId": bob.id, "skillArea": "fire safety" }))
        .await
        .data();

    // Bob was told once per new vouch, not for the edit.
    let told: Vec<Value> = notifications(&app, &bob).await;
    assert_eq!(told.len(), 3, "{told:?}");
    assert!(told.iter().all(|n| n["kind"] == "SYSTEM"));
    assert_eq!(told[2]["data"]["voucherId"], alice.id.as_str());

    let listed = app.gql(VOUCHES, json!({ "id": bob.id })).await;
    let user = &listed.data()["user"];
    assert_eq!(user["vouchCount"], 3);
    assert_eq!(
        user["vouchSummary"],
        json!([{ "skillArea": "fire safety", "count": 2 }, { "skillArea": "led tech", "count": 1 }])
    );
    assert_eq!(user["vouches"]["totalCount"], 3);
    assert_eq!(
        user["vouches"]["edges"][0]["node"]["voucher"]["username"],
        carol.username.as_str()
    );
    let narrowed = app.gql(VOUCHES, json!({ "id": bob.id, "s": "Fire Safety" })).await;
    assert_eq!(narrowed.data()["user"]["vouches"]["totalCount"], 2);
    assert_eq!(narrowed.data()["user"]["vouches"]["edges"].as_array().unwrap().len(), 2);

    // Pages follow on from their cursor.
    let paged = "query($id: ID!, $after: String) { user(id: $id) { vouches(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }";
    let first_page = app.gql(paged, json!({ "id": bob.id })).await;
    let first_page = &first_page.data()["user"]["vouches"];
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
    let rest = app
        .gql(
            paged,
            json!({ "id": bob.id, "after": first_page["pageInfo"]["endCursor"] }),
        )
        .await;
    let rest = &rest.data()["user"]["vouches"];
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["edges"][0]["node"]["id"], first["id"], "the oldest comes last");

    // Only the author takes a vouch back.
    let refused = app.gql_as(&alice, REMOVE, json!({ "id": carols })).await;
    assert_eq!(refused.code(), "FORBIDDEN");
    let removed = app.gql_as(&carol, REMOVE, json!({ "id": carols })).await;
    assert_eq!(removed.data()["removeVouch"], carols.as_str());
    assert_eq!(
        app.gql_as(&carol, REMOVE, json!({ "id": carols })).await.code(),
        "NOT_FOUND"
    );
    let listed = app.gql(VOUCHES, json!({ "id": bob.id })).await;
    assert_eq!(listed.data()["user"]["vouchCount"], 2);

    // A banned member cannot vouch, and their vouches no longer count.
    app.sql(&format!("UPDATE users SET banned_at = now() WHERE id = '{}'", alice.id))
        .await;
    let banned = vouch(&app, &alice, json!({ "userId": carol.id, "skillArea": "creativity" })).await;
    assert_eq!(banned.code(), "FORBIDDEN");
    let listed = app.gql(VOUCHES, json!({ "id": bob.id })).await;
    assert_eq!(listed.data()["user"]["vouchCount"], 1);
    assert_eq!(listed.data()["user"]["vouches"]["totalCount"], 1);
}

#[tokio::test]
async fn vouches_are_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let (alice, bob) = (app.with_user().await, app.with_user().await);
    let anonymous = app
        .gql(VOUCH, json!({ "i": { "userId": bob.id, "skillArea": "creativity" } }))
        .await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");

    let cases = [
        (json!({ "userId": alice.id, "skillArea": "creativity" }), vec!["userId"]),
        (json!({ "userId": bob.id, "skillArea": "x" }), vec!["skillArea"]),
        (
            json!({ "userId": bob.id, "skillArea": "a".repeat(41) }),
            vec!["skillArea"],
        ),
        (
            json!({ "userId": bob.id, "skillArea": "<b>bold</b>" }),
            vec!["skillArea"],
        ),
        (
            json!({ "userId": bob.id, "skillArea": "creativity", "message": "m".repeat(501) }),
            vec!["message"],
        ),
        (
            json!({ "userId": alice.id, "skillArea": "", "message": "m".repeat(501) }),
            vec!["message", "skillArea", "userId"],
        ),
        (
            json!({ "userId": "not-an-id", "skillArea": "creativity" }),
            vec!["userId"],
        ),
    ];
    for (input, fields) in cases {
        let r = vouch(&app, &alice, input.clone()).await;
        assert_eq!(r.code(), "VALIDATION_ERROR", "{input}");
        assert_eq!(r.fields(), fields, "{input}");
    }
    let nobody = vouch(
        &app,
        &alice,
        json!({ "userId": uuid::Uuid::now_v7().to_string(), "skillArea": "creativity" }),
    )
    .await;
    assert_eq!(nobody.code(), "NOT_FOUND");
    assert_eq!(one(&app, "SELECT count(*)::text AS value FROM vouches").await, "0");
}

#[tokio::test]
async fn vouchers_of_a_page_of_vouches_are_loaded_in_batches() {
    let app = TestApp::spawn().await;
    let bob = app.with_user().await;
    for _ in 0..10 {
        let voucher = app.with_user().await;
        vouch(
            &app,
            &voucher,
            json!({ "userId": bob.id, "skillArea": "professionalism" }),
        )
        .await
        .data();
    }
    let query = "query($id: ID!) { user(id: $id) { vouches(first: 20) { edges { node { voucher { username } } } } } }";
    let before = app.statements();
    let r = app.gql(query, json!({ "id": bob.id })).await;
    let statements = app.statements() - before;
    assert_eq!(r.data()["user"]["vouches"]["edges"].as_array().unwrap().len(), 10);
    // One by one it would take the user, the page and 10 voucher lookups.
    assert!(statements < 10, "{statements} statements for a page of 10 vouches");
}

#[tokio::test]
async fn vouches_of_a_list_of_users_are_loaded_in_batches() {
    let app = TestApp::spawn().await;
    let voucher = app.with_user().await;
    let list = "{ freelancers(filter: { skills: [\"juggling\"] }, first: 20) { edges { node { vouchCount vouchSummary { count } vouches(first: 5) { totalCount edges { node { skillArea voucher { id } } } } } } } }";
    let mut statements = Vec::new();
    for users in [2, 8] {
        while app
            .texts("SELECT id::text AS value FROM users WHERE 'juggling' = ANY(skills)")
            .await
            .len()
            < users
        {
            let user = app.with_user().await;
            app.gql_as(
                &user,
                "mutation { updateProfile(input: { skills: [\"juggling\"] }) { id } }",
                json!({}),
            )
            .await
            .data();
            vouch(&app, &voucher, json!({ "userId": user.id, "skillArea": "juggling" }))
                .await
                .data();
        }
        let before = app.statements();
        let r = app.gql(list, json!({})).await;
        statements.push(app.statements() - before);
        let edges = r.data()["freelancers"]["edges"].as_array().unwrap().clone();
        assert_eq!(edges.len(), users);
        for edge in edges {
            assert_eq!(edge["node"]["vouchCount"], 1);
            assert_eq!(edge["node"]["vouches"]["totalCount"], 1);
            assert_eq!(
                edge["node"]["vouches"]["edges"][0]["node"]["voucher"]["id"],
                voucher.id.as_str()
            );
        }
    }
    assert_eq!(
        statements[0], statements[1],
        "statements for 2 and 8 users: {statements:?}"
    );
}

/// A GraphQL multipart request with `files` as the list variable `d`.
fn with_files(query: &str, files: &[(&[u8], &str, &str)]) -> reqwest::multipart::Form {
    let nulls: Vec<Value> = files.iter().map(|_| Value::Null).collect();
    let operations = json!({ "query": query, "variables": { "d": nulls } }).to_string();
    let map: serde_json::Map<String, Value> = (0..files.len())
        .map(|i| (i.to_string(), json!([format!("variables.d.{i}")])))
        .collect();
    let mut form = reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", Value::Object(map).to_string());
    for (i, (bytes, name, mime)) in files.iter().enumerate() {
        form = form.part(
            i.to_string(),
            reqwest::multipart::Part::bytes(bytes.to_vec())
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    form
}

async fn submit(app: &TestApp, user: Option<&TestUser>, files: &[(&[u8], &str, &str)]) -> Gql {
    let mut request = app
        .client
        .post(app.url("/graphql"))
        .header("apollo-require-preflight", "true")
        .multipart(with_files(SUBMIT, files));
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    app.send(request).await
}

async fn review(app: &TestApp, admin: &TestUser, user: &TestUser, approve: bool, note: Option<&str>) -> Gql {
    app.gql_as(admin, REVIEW, json!({ "u": user.id, "a": approve, "n": note }))
        .await
}

/// Submits a PDF for `user` and has `admin` approve it.
async fn verify(app: &TestApp, admin: &TestUser, user: &TestUser) {
    submit(app, Some(user), &[(PDF, "id.pdf", "application/pdf")])
        .await
        .data();
    review(app, admin, user, true, None).await.data();
}

#[tokio::test]
async fn verification_documents_stay_private_and_admins_review_them_on_the_record() {
    let app = TestApp::spawn().await;
    let (member, stranger, admin) = (app.with_user().await, app.with_user().await, app.with_admin().await);

    assert_eq!(
        submit(&app, None, &[(PDF, "id.pdf", "application/pdf")]).await.code(),
        "UNAUTHORIZED"
    );
    for files in [
        vec![(&b"just some words"[..], "id.txt", "text/plain")],
        vec![(
            &b"<html><script>alert(1)</script></html>"[..],
            "id.pdf",
            "application/pdf",
        )],
        vec![(PDF, "id.pdf", "application/pdf"); 6],
        vec![],
    ] {
        let refused = submit(&app, Some(&member), &files).await;
        assert_eq!(refused.code(), "VALIDATION_ERROR", "{:#}", refused.body);
        assert_eq!(refused.fields(), ["documents"]);
    }
    assert_eq!(
        app.gql_as(&member, ME, json!({})).await.data()["me"]["verificationStatus"],
        "NONE"
    );

    let submitted = submit(
        &app,
        Some(&member),
        &[
            (PDF, "../../college-id.pdf", "application/pdf"),
            (PNG, "gov-id.png", "image/png"),
        ],
    )
    .await;
    let request = submitted.data()["submitVerification"].clone();
    assert_eq!(request["status"], "PENDING");
    assert_eq!(request["user"]["verificationStatus"], "PENDING");
    let documents = request["documents"].as_array().unwrap();
    assert_eq!(documents.len(), 2);
    assert_eq!(documents[0]["fileName"], "college-id.pdf");
    assert_eq!(documents[0]["contentType"], "application/pdf");
    assert_eq!(documents[1]["contentType"], "image/png");

    // The file is in the private folder only, and served only through its signed link.
    let url = documents[0]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/private/verification/", app.base)), "{url}");
    let key = url
        .trim_start_matches(&format!("{}/private/", app.base))
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert!(app.private_dir.join(&key).exists());
    let public = app
        .client
        .get(app.url(&format!("/uploads/{key}")))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 404, "never under the public uploads route");
    let served = app.client.get(&url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/pdf");
    assert_eq!(served.headers()["cache-control"], "private, no-store");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PDF);
    for forged in [
        url.replace("signature=", "signature=0"),
        url.split('?').next().unwrap().to_owned(),
        url.replace("expires=", "expires=9"),
        url.replace(&key, "verification/00000000000000000000000000000000.pdf"),
    ] {
        let refused = app.client.get(&forged).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{forged}");
    }

    // Nobody else reaches the request.
    let theirs = app.gql_as(&stranger, ME, json!({})).await;
    assert_eq!(theirs.data()["myVerification"], Value::Null);
    let queue = "query($s: VerificationStatus) { verificationRequests(status: $s) { totalCount edges { node { user { id } documents { url } } } } }";
    assert_eq!(
        app.gql_as(&stranger, queue, json!({ "s": "PENDING" })).await.code(),
        "FORBIDDEN"
    );
    let pending = app.gql_as(&admin, queue, json!({ "s": "PENDING" })).await;
    let pending = &pending.data()["verificationRequests"];
    assert_eq!(pending["totalCount"], 1);
    assert_eq!(pending["edges"][0]["node"]["user"]["id"], member.id.as_str());
    assert_eq!(pending["edges"][0]["node"]["documents"].as_array().unwrap().len(), 2);

    // One request at a time.
    let twice = submit(&app, Some(&member), &[(PDF, "id.pdf", "application/pdf")]).await;
    assert_eq!(twice.code(), "CONFLICT");

    // Reviews: admins only, never their own, a reason for a rejection.
    assert_eq!(review(&app, &stranger, &member, true, None).await.code(), "FORBIDDEN");
    assert_eq!(review(&app, &admin, &admin, true, None).await.code(), "FORBIDDEN");
    let no_reason = review(&app, &admin, &member, false, None).await;
    assert_eq!(no_reason.code(), "VALIDATION_ERROR");
    assert_eq!(no_reason.fields(), ["note"]);
    let rejected = review(&app, &admin, &member, false, Some("The photo is unreadable.")).await;
    let rejected = &rejected.data()["reviewVerification"];
    assert_eq!(rejected["status"], "REJECTED");
    assert_eq!(rejected["reviewNote"], "The photo is unreadable.");
    assert_eq!(rejected["reviewer"]["id"], admin.id.as_str());
    assert_eq!(rejected["user"]["verificationStatus"], "REJECTED");
    assert_eq!(review(&app, &admin, &member, true, None).await.code(), "CONFLICT");
    let told = notifications(&app, &member).await;
    assert_eq!(told[0]["kind"], "SYSTEM");
    assert!(told[0]["body"].as_str().unwrap().contains("unreadable"), "{told:?}");

    // A rejected member submits again; approval makes them VERIFIED for good.
    submit(&app, Some(&member), &[(PNG, "new.png", "image/png")])
        .await
        .data();
    let approved = review(&app, &admin, &member, true, Some("Clear scans.")).await;
    assert_eq!(
        approved.data()["reviewVerification"]["user"]["verificationStatus"],
        "VERIFIED"
    );
    assert_eq!(
        approved.data()["reviewVerification"]["user"]["commissionBps"],
        800,
        "without the verification policy the rate stays the default"
    );
    let again = submit(&app, Some(&member), &[(PDF, "id.pdf", "application/pdf")]).await;
    assert_eq!(again.code(), "CONFLICT");
    let mine = app.gql_as(&member, ME, json!({})).await;
    assert_eq!(mine.data()["myVerification"]["status"], "VERIFIED");

    assert_eq!(
        app.audit_actions(&admin, "USER", Some(&member.id)).await,
        ["verification.approve", "verification.reject"]
    );
}

/// The platform fee of a completed order: `feeBps` and the fee the ledger booked.
async fn fee_of(m: &Market, order: &str) -> (i64, i64) {
    let r = m
        .app
        .gql_as(
            &m.client,
            "query($id: ID!) { order(id: $id) { feeBps } }",
            json!({ "id": order }),
        )
        .await;
    let bps = r.data()["order"]["feeBps"].as_i64().unwrap();
    let booked = one(
        &m.app,
        &format!(
            "SELECT e.amount_cents::text AS value FROM ledger_entries e \
             JOIN ledger_accounts a ON a.id = e.account_id \
             JOIN ledger_transactions t ON t.id = e.transaction_id \
             WHERE t.order_id = '{order}' AND a.kind = 'PLATFORM_FEES'"
        ),
    )
    .await;
    (bps, booked.parse().unwrap())
}

async fn own_rate(app: &TestApp, user: &TestUser) -> i64 {
    let r = app.gql_as(user, ME, json!({})).await;
    r.data()["me"]["commissionBps"].as_i64().unwrap()
}

#[tokio::test]
async fn with_verification_commission_the_fee_fixed_at_funding_follows_verification() {
    let app = TestApp::builder().var("VERIFICATION_COMMISSION", "true").spawn().await;
    let m = Market::with(app).await;

    // Never submitted: unverified, 50%.
    assert_eq!(own_rate(&m.app, &m.freelancer).await, 5_000);
    let funded_unverified = m.drive(OrderStatus::PaymentConfirmed).await;
    let completed = m.drive(OrderStatus::Completed).await;
    assert_eq!(fee_of(&m, &completed).await, (5_000, 5_000));

    verify(&m.app, &m.admin, &m.freelancer).await;
    assert_eq!(own_rate(&m.app, &m.freelancer).await, 1_000);
    let completed = m.drive(OrderStatus::Completed).await;
    assert_eq!(fee_of(&m, &completed).await, (1_000, 1_000));

    // An order funded before the verification keeps the rate fixed when it was funded.
    for (action, by_client) in [
        ("mutation($id: ID!) { startWork(orderId: $id) { status } }", false),
        (
            "mutation($id: ID!) { submitWork(input: { orderId: $id, message: \"Done.\" }) { status } }",
            false,
        ),
        ("mutation($id: ID!) { approveWork(orderId: $id) { status } }", true),
    ] {
        let actor = if by_client { &m.client } else { &m.freelancer };
        m.app
            .gql_as(actor, action, json!({ "id": funded_unverified }))
            .await
            .data();
    }
    assert_eq!(fee_of(&m, &funded_unverified).await, (5_000, 5_000));
}

#[tokio::test]
async fn without_verification_commission_everyone_pays_the_default_fee() {
    let m = Market::new().await;
    assert_eq!(own_rate(&m.app, &m.freelancer).await, 800);
    let completed = m.drive(OrderStatus::Completed).await;
    assert_eq!(fee_of(&m, &completed).await, (800, 800));

    verify(&m.app, &m.admin, &m.freelancer).await;
    assert_eq!(own_rate(&m.app, &m.freelancer).await, 800);
    let completed = m.drive(OrderStatus::Completed).await;
    assert_eq!(fee_of(&m, &completed).await, (800, 800));
}
