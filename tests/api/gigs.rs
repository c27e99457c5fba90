//! Gigs: lifecycle, ownership, visibility, search and filters, saves, media, views, and the
//! feed's fixed statement count.

use serde_json::{json, Value};

use crate::common::{TestApp, TestUser};

const CREATE: &str = "mutation($i: CreateGigInput!) { createGig(input: $i) { id status startingPriceCents fastestDeliveryDays packages { tier priceCents } } }";
const STATUS: &str = "mutation($id: ID!, $s: GigStatus!) { setGigStatus(id: $id, status: $s) { status publishedAt } }";
const GIG: &str =
    "query($id: ID!) { gig(id: $id) { id title status owner { username } packages { tier } isSaved viewsCount } }";
const FEED: &str = "query($f: GigFilter, $s: GigSort, $first: Int, $after: String) { gigs(filter: $f, sort: $s, first: $first, after: $after) { totalCount edges { cursor node { id title startingPriceCents owner { username } packages { tier priceCents deliveryDays } } } pageInfo { hasNextPage endCursor } } }";

fn gig_input(title: &str, category: &str, tags: &[&str], basic_price: i64, days: i32) -> Value {
    json!({
        "title": title,
        "description": format!("{title}: a thorough description of what is delivered, how and when."),
        "category": category,
        "tags": tags,
        "packages": [
            { "tier": "BASIC", "title": "Basic", "priceCents": basic_price, "deliveryDays": days, "revisions": 1 },
            { "tier": "PREMIUM", "title": "Premium", "priceCents": basic_price * 3, "deliveryDays": days + 5, "revisions": 3 },
        ],
    })
}

async fn active_gig(app: &TestApp, owner: &TestUser, input: Value) -> String {
    let created = app.gql_as(owner, CREATE, json!({ "i": input })).await;
    let id = created.data()["createGig"]["id"].as_str().unwrap().to_owned();
    app.gql_as(owner, STATUS, json!({ "id": id, "s": "ACTIVE" }))
        .await
        .data();
    id
}

#[tokio::test]
async fn a_gig_is_created_as_draft_published_by_its_owner_and_only_then_public() {
    let app = TestApp::spawn().await;
    let (owner, stranger) = (app.with_user().await, app.with_user().await);
    let created = app
        .gql_as(
            &owner,
            CREATE,
            json!({ "i": gig_input("Rust API development", "development", &["rust"], 15000, 4) }),
        )
        .await;
    let gig = &created.data()["createGig"];
    assert_eq!(gig["status"], "DRAFT");
    assert_eq!(
        (gig["startingPriceCents"].as_i64(), gig["fastestDeliveryDays"].as_i64()),
        (Some(15000), Some(4))
    );
    let id = gig["id"].as_str().unwrap().to_owned();

    assert_eq!(
        app.gql_as(&stranger, GIG, json!({ "id": id })).await.data()["gig"],
        json!(null),
        "drafts are private"
    );
    assert_eq!(
        app.gql_as(&owner, GIG, json!({ "id": id })).await.data()["gig"]["status"],
        "DRAFT"
    );

    let published = app.gql_as(&owner, STATUS, json!({ "id": id, "s": "ACTIVE" })).await;
    assert!(published.data()["setGigStatus"]["publishedAt"].is_string());
    let public = app.gql(GIG, json!({ "id": id })).await;
    assert_eq!(public.data()["gig"]["owner"]["username"], owner.username.as_str());
    assert_eq!(
        public.data()["gig"]["packages"],
        json!([{ "tier": "BASIC" }, { "tier": "PREMIUM" }])
    );

    let not_yours = app.gql_as(&stranger, STATUS, json!({ "id": id, "s": "PAUSED" })).await;
    assert_eq!(not_yours.code(), "FORBIDDEN");
    let skip = app.gql_as(&owner, STATUS, json!({ "id": id, "s": "DRAFT" })).await;
    assert_eq!(skip.code(), "CONFLICT", "ACTIVE cannot go back to DRAFT");
    app.gql_as(&owner, STATUS, json!({ "id": id, "s": "PAUSED" }))
        .await
        .data();
    assert_eq!(
        app.gql(GIG, json!({ "id": id })).await.data()["gig"],
        json!(null),
        "paused gigs leave the catalogue"
    );

    let update =
        "mutation($id: ID!, $i: UpdateGigInput!) { updateGig(id: $id, input: $i) { title startingPriceCents } }";
    let hijack = app
        .gql_as(
            &stranger,
            update,
            json!({ "id": id, "i": { "title": "Stolen gig title here" } }),
        )
        .await;
    assert_eq!(
        hijack.code(),
        "NOT_FOUND",
        "a paused gig of someone else does not exist for you"
    );
    let changed = app
        .gql_as(
            &owner,
            update,
            json!({ "id": id, "i": { "title": "Rust and GraphQL APIs", "packages": [
            { "tier": "BASIC", "title": "Basic", "priceCents": 9000, "deliveryDays": 2 } ] } }),
        )
        .await;
    assert_eq!(
        changed.data()["updateGig"],
        json!({ "title": "Rust and GraphQL APIs", "startingPriceCents": 9000 })
    );

    let delete = "mutation($id: ID!) { deleteGig(id: $id) }";
    assert_eq!(
        app.gql_as(&stranger, delete, json!({ "id": id })).await.code(),
        "NOT_FOUND"
    );
    assert_eq!(
        app.gql_as(&owner, delete, json!({ "id": id })).await.data()["deleteGig"],
        id.as_str()
    );
    assert_eq!(
        app.gql_as(&owner, GIG, json!({ "id": id })).await.data()["gig"],
        json!(null)
    );
}

#[tokio::test]
async fn gig_input_is_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let owner = app.with_user().await;
    let tags: Vec<String> = (0..11).map(|i| format!("tag{i}")).collect();
    let bad = json!({ "i": {
        "title": "short", "description": "too short", "category": "x", "currency": "dollars",
        "tags": tags,
        "packages": [
            { "tier": "STANDARD", "title": "S", "priceCents": 100, "deliveryDays": 0, "revisions": 500 },
        ],
    } });
    let response = app.gql_as(&owner, CREATE, bad).await;
    assert_eq!(response.code(), "VALIDATION_ERROR");
    let mut fields = response.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "category",
            "currency",
            "description",
            "packages",
            "packages.0.deliveryDays",
            "packages.0.priceCents",
            "packages.0.revisions",
            "packages.0.title",
            "tags",
            "title"
        ]
    );
    assert!(app.texts("SELECT id::text AS value FROM gigs").await.is_empty());
    assert_eq!(
        app.gql(
            CREATE,
            json!({ "i": gig_input("Anonymous gig title", "design", &[], 1000, 1) })
        )
        .await
        .code(),
        "UNAUTHORIZED"
    );
}

#[tokio::test]
async fn search_finds_words_ranked_and_each_filter_narrows() {
    let app = TestApp::spawn().await;
    let owner = app.with_user().await;
    let rust = active_gig(
        &app,
        &owner,
        gig_input("Rust backend services", "development", &["rust", "api"], 20000, 5),
    )
    .await;
    let logo = active_gig(
        &app,
        &owner,
        gig_input("Minimal logo design", "design", &["logo"], 5000, 2),
    )
    .await;
    // "rust" only as a tag here, in the title and tags of the first gig: the first ranks higher.
    let both = active_gig(
        &app,
        &owner,
        gig_input(
            "Logo design for open source crates",
            "design",
            &["logo", "rust"],
            8000,
            3,
        ),
    )
    .await;
    let _draft = app
        .gql_as(
            &owner,
            CREATE,
            json!({ "i": gig_input("Rust draft never published", "development", &["rust"], 1000, 1) }),
        )
        .await;

    let ids = |response: &crate::common::Gql| -> Vec<String> {
        response.data()["gigs"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = app
        .gql(FEED, json!({ "f": { "search": "rust" }, "s": "RELEVANCE" }))
        .await;
    assert_eq!(ids(&search)[0], rust, "title and tag match outranks a weaker match");
    assert_eq!(ids(&search).len(), 2, "drafts are not found");
    assert_eq!(search.data()["gigs"]["totalCount"], 2);

    assert_eq!(
        ids(&app.gql(FEED, json!({ "f": { "category": "design" } })).await).len(),
        2
    );
    assert_eq!(
        ids(&app.gql(FEED, json!({ "f": { "tags": ["logo", "rust"] } })).await),
        std::slice::from_ref(&both)
    );
    assert_eq!(ids(&app.gql(FEED, json!({ "f": { "priceMax": 8000 } })).await).len(), 2);
    assert_eq!(
        ids(&app.gql(FEED, json!({ "f": { "priceMin": 10000 } })).await),
        std::slice::from_ref(&rust)
    );
    assert_eq!(
        ids(&app.gql(FEED, json!({ "f": { "maxDeliveryDays": 2 } })).await),
        std::slice::from_ref(&logo)
    );
    assert!(
        ids(&app.gql(FEED, json!({ "f": { "minRating": 4.5 } })).await).is_empty(),
        "no reviews yet"
    );
    assert_eq!(
        ids(&app.gql(FEED, json!({ "s": "PRICE_LOW" })).await),
        [logo.clone(), both.clone(), rust.clone()]
    );
    assert_eq!(
        ids(&app.gql(FEED, json!({ "s": "PRICE_HIGH" })).await),
        [rust.clone(), both.clone(), logo.clone()]
    );
    assert_eq!(ids(&app.gql(FEED, json!({})).await), [both, logo, rust], "newest first");

    let invalid = app
        .gql(
            FEED,
            json!({ "f": { "priceMin": 500, "priceMax": 100, "minRating": 9 } }),
        )
        .await;
    let mut fields = invalid.fields();
    fields.sort();
    assert_eq!(fields, ["filter.minRating", "filter.priceMax"]);
}

#[tokio::test]
async fn pages_follow_stable_cursors_in_every_sort() {
    let app = TestApp::spawn().await;
    let owner = app.with_user().await;
    let mut all = Vec::new();
    for i in 0..7 {
        all.push(
            active_gig(
                &app,
                &owner,
                gig_input(
                    &format!("Service number {i} for you"),
                    "writing",
                    &[],
                    1000 + (i % 3) * 500,
                    3,
                ),
            )
            .await,
        );
    }
    for sort in ["NEWEST", "PRICE_LOW", "PRICE_HIGH", "RATING"] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let page = app.gql(FEED, json!({ "s": sort, "first": 3, "after": after })).await;
            let gigs = &page.data()["gigs"];
            for edge in gigs["edges"].as_array().unwrap() {
                seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
            }
            if gigs["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = gigs["pageInfo"]["endCursor"].clone();
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 7, "{sort}: every gig exactly once across pages: {seen:?}");
    }
    let bad = app.gql(FEED, json!({ "after": "garbage" })).await;
    assert_eq!(bad.fields(), ["after"]);
    let too_big = app.gql("{ gigs(first: 101) { totalCount } }", json!({})).await;
    assert_eq!(too_big.fields(), ["first"]);
    let too_costly = app.gql(FEED, json!({ "first": 100 })).await;
    assert_eq!(
        too_costly.code(),
        "LIMIT_EXCEEDED",
        "100 gigs with their relations exceed the complexity budget"
    );
}

#[tokio::test]
async fn the_feed_runs_the_same_statements_for_one_gig_or_twenty() {
    let app = TestApp::spawn().await;
    let query = "{ gigs(first: 20) { edges { node { id title owner { id username fullName avatarUrl } packages { tier priceCents deliveryDays } } } } }";
    let mut costs = Vec::new();
    for target in [1usize, 20] {
        while app
            .texts("SELECT id::text AS value FROM gigs WHERE status = 'ACTIVE'")
            .await
            .len()
            < target
        {
            let owner = app.with_user().await;
            active_gig(
                &app,
                &owner,
                gig_input("A gig from a separate owner", "misc", &[], 2000, 3),
            )
            .await;
        }
        let before = app.statements();
        let response = app.gql(query, json!({})).await;
        let returned = response.data()["gigs"]["edges"].as_array().unwrap().len();
        costs.push((returned, app.statements() - before));
    }
    assert_eq!(costs[0].0, 1);
    assert_eq!(costs[1].0, 20);
    assert_eq!(costs[0].1, costs[1].1, "statements for 1 vs 20 gigs: {costs:?}");
    assert!(costs[1].1 <= 2, "a page with owners and packages: {costs:?}");
}

#[tokio::test]
async fn a_gig_by_id_with_its_owner_and_packages_is_two_statements() {
    let app = TestApp::spawn().await;
    let owner = app.with_user().await;
    let id = active_gig(&app, &owner, gig_input("A gig looked up by id", "misc", &[], 2000, 3)).await;
    let query = "query($id: ID!) { gig(id: $id) { id owner { username } packages { tier priceCents } } }";
    app.gql(query, json!({ "id": id })).await;
    let before = app.statements();
    let response = app.gql(query, json!({ "id": id })).await;
    assert_eq!(app.statements() - before, 2, "the gig with its owner, and its packages");
    let gig = &response.data()["gig"];
    assert_eq!(gig["owner"]["username"], owner.username.as_str());
    assert_eq!(gig["packages"][0]["priceCents"], 2000, "cheapest first");
    // Without packages asked for, they are not read.
    let before = app.statements();
    app.gql(
        "query($id: ID!) { gig(id: $id) { id owner { username } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(app.statements() - before, 1);
}

#[tokio::test]
async fn gigs_of_banned_owners_leave_the_catalogue() {
    let app = TestApp::spawn().await;
    let owner = app.with_user().await;
    let id = active_gig(&app, &owner, gig_input("Soon to be hidden gig", "misc", &[], 2000, 3)).await;
    assert_eq!(
        app.gql(FEED, json!({})).await.data()["gigs"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.sql(&format!("UPDATE users SET banned_at = now() WHERE id = '{}'", owner.id))
        .await;
    assert!(app.gql(FEED, json!({})).await.data()["gigs"]["edges"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(app.gql(GIG, json!({ "id": id })).await.data()["gig"], json!(null));
}

#[tokio::test]
async fn saving_views_and_media() {
    let app = TestApp::spawn().await;
    let (owner, fan) = (app.with_user().await, app.with_user().await);
    let id = active_gig(&app, &owner, gig_input("Portrait photography", "photo", &[], 3000, 2)).await;

    let save = "mutation($id: ID!) { saveGig(id: $id) { isSaved } }";
    assert_eq!(
        app.gql_as(&fan, save, json!({ "id": id })).await.data()["saveGig"]["isSaved"],
        true
    );
    assert_eq!(
        app.gql_as(&fan, save, json!({ "id": id })).await.data()["saveGig"]["isSaved"],
        true,
        "idempotent"
    );
    let saved = app
        .gql_as(
            &fan,
            "{ savedGigs { totalCount edges { node { id isSaved } } } }",
            json!({}),
        )
        .await;
    assert_eq!(saved.data()["savedGigs"]["totalCount"], 1);
    assert_eq!(
        saved.data()["savedGigs"]["edges"][0]["node"],
        json!({ "id": id, "isSaved": true })
    );
    let unsave = app
        .gql_as(
            &fan,
            "mutation($id: ID!) { unsaveGig(id: $id) { isSaved } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(unsave.data()["unsaveGig"]["isSaved"], false);

    for _ in 0..3 {
        app.gql_as(&fan, GIG, json!({ "id": id })).await.data();
    }
    app.gql_as(&owner, GIG, json!({ "id": id })).await.data();
    gigmarket::gig::views::flush(&app.state.gig_views, &app.state.db)
        .await
        .expect("flush");
    assert_eq!(
        app.gql(GIG, json!({ "id": id })).await.data()["gig"]["viewsCount"],
        3,
        "the owner's own views do not count"
    );

    let png = vec![
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
    ];
    let upload = |user: &TestUser, bytes: Vec<u8>| {
        let operations = json!({ "query": "mutation($g: ID!, $f: Upload!) { uploadGigMedia(gigId: $g, file: $f) { media { id url contentType } } }", "variables": { "g": id, "f": null } });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", r#"{ "0": ["variables.f"] }"#)
            .part("0", reqwest::multipart::Part::bytes(bytes).file_name("p.png"));
        app.send(
            app.client
                .post(app.url("/graphql"))
                .bearer_auth(&user.token)
                .header("graphql-preflight", "1")
                .multipart(form),
        )
    };
    let added = upload(&owner, png.clone()).await;
    let media = added.data()["uploadGigMedia"]["media"].as_array().unwrap().clone();
    assert_eq!(media[0]["contentType"], "image/png");
    assert_eq!(upload(&fan, png).await.code(), "NOT_FOUND");
    assert_eq!(upload(&owner, b"not an image".to_vec()).await.fields(), ["file"]);
    let removed = app
        .gql_as(
            &owner,
            "mutation($m: ID!) { removeGigMedia(mediaId: $m) { media { id } } }",
            json!({ "m": media[0]["id"] }),
        )
        .await;
    assert_eq!(removed.data()["removeGigMedia"]["media"], json!([]));
}

#[tokio::test]
async fn my_gigs_lists_every_status_of_the_owner_only() {
    let app = TestApp::spawn().await;
    let (owner, other) = (app.with_user().await, app.with_user().await);
    active_gig(&app, &owner, gig_input("Published one for sale", "misc", &[], 2000, 3)).await;
    app.gql_as(
        &owner,
        CREATE,
        json!({ "i": gig_input("Still a draft listing", "misc", &[], 2000, 3) }),
    )
    .await
    .data();
    active_gig(&app, &other, gig_input("Someone else's listing", "misc", &[], 2000, 3)).await;
    let mine = app
        .gql_as(&owner, "{ myGigs { totalCount edges { node { status } } } }", json!({}))
        .await;
    assert_eq!(mine.data()["myGigs"]["totalCount"], 2);
    let drafts = app
        .gql_as(&owner, "{ myGigs(status: DRAFT) { totalCount } }", json!({}))
        .await;
    assert_eq!(drafts.data()["myGigs"]["totalCount"], 1);
    assert_eq!(
        app.gql("{ myGigs { totalCount } }", json!({})).await.code(),
        "UNAUTHORIZED"
    );
}
