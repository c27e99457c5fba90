//! user, userByUsername, updateProfile, setAvailability, updateLocation, uploadAvatar.

use serde_json::json;

use crate::common::TestApp;

const UPDATE: &str = "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { username fullName bio headline skills aiTools languages hourlyRateCents currency portfolioUrls timezone travelRadiusKm profileCompleted } }";
const PROFILE_FIELDS: &str =
    "id username fullName email bio headline skills location { lat lng } commissionBps verificationStatus isAvailable";

/// A valid 1×1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn update_profile_sets_and_clears_fields() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let response = app
        .gql_as(
            &user,
            UPDATE,
            json!({ "i": {
                "fullName": "Ada Lovelace", "bio": "Analytical engines.", "headline": "Rust engineer",
                "skills": ["Rust", " rust ", "GraphQL"], "aiTools": ["Copilot"], "languages": ["English"],
                "hourlyRateCents": 9500, "currency": "eur", "portfolioUrls": ["https://example.com/work"],
                "timezone": "Europe/London", "travelRadiusKm": 25
            } }),
        )
        .await;
    let profile = &response.data()["updateProfile"];
    assert_eq!(profile["skills"], json!(["Rust", "GraphQL"]));
    assert_eq!(profile["currency"], "EUR");
    assert_eq!(profile["hourlyRateCents"], 9500);
    assert_eq!(profile["profileCompleted"], false, "no avatar yet");

    let cleared = app
        .gql_as(&user, UPDATE, json!({ "i": { "bio": null, "hourlyRateCents": null } }))
        .await;
    let profile = &cleared.data()["updateProfile"];
    assert_eq!(profile["bio"], json!(null));
    assert_eq!(profile["hourlyRateCents"], json!(null));
    assert_eq!(profile["headline"], "Rust engineer", "omitted fields stay");
}

#[tokio::test]
async fn update_profile_names_each_bad_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let response = app
        .gql_as(
            &user,
            UPDATE,
            json!({ "i": {
                "username": "no spaces allowed", "fullName": "Valid Name", "currency": "EURO",
                "hourlyRateCents": -1, "portfolioUrls": ["ftp://example.com"], "travelRadiusKm": 9999,
                "headline": "x".repeat(121), "timezone": "Not a zone!"
            } }),
        )
        .await;
    assert_eq!(response.code(), "VALIDATION_ERROR");
    let mut fields = response.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "currency",
            "headline",
            "hourlyRateCents",
            "portfolioUrls",
            "timezone",
            "travelRadiusKm",
            "username"
        ]
    );
    let names = app.texts("SELECT full_name AS value FROM users").await;
    assert_eq!(names, ["Test User"], "nothing half-written");
}

#[tokio::test]
async fn taking_a_used_username_is_a_conflict() {
    let app = TestApp::spawn().await;
    let first = app.with_user().await;
    let second = app.with_user().await;
    let response = app
        .gql_as(
            &second,
            UPDATE,
            json!({ "i": { "username": first.username.to_uppercase() } }),
        )
        .await;
    assert_eq!(response.code(), "CONFLICT");
    let own = app
        .gql_as(&second, UPDATE, json!({ "i": { "username": "renamed_user" } }))
        .await;
    assert_eq!(own.data()["updateProfile"]["username"], "renamed_user");
}

#[tokio::test]
async fn profiles_show_private_fields_only_to_their_owner_and_admins() {
    let app = TestApp::spawn().await;
    let owner = app.with_user().await;
    let stranger = app.with_user().await;
    let admin = app.with_admin().await;
    app.gql_as(
        &owner,
        "mutation { updateLocation(location: { lat: 52.520008, lng: 13.404954 }, locationText: \"Berlin\") { id } }",
        json!({}),
    )
    .await
    .data();

    let query = format!("query($id: ID!) {{ user(id: $id) {{ {PROFILE_FIELDS} }} }}");
    let as_owner = app.gql_as(&owner, &query, json!({ "id": owner.id })).await;
    let mine = &as_owner.data()["user"];
    assert_eq!(mine["email"], owner.email.as_str());
    assert_eq!(mine["location"], json!({ "lat": 52.520008, "lng": 13.404954 }));
    assert_eq!(mine["commissionBps"], 800);

    let as_stranger = app.gql_as(&stranger, &query, json!({ "id": owner.id })).await;
    let theirs = &as_stranger.data()["user"];
    assert_eq!(theirs["email"], json!(null));
    assert_eq!(theirs["commissionBps"], json!(null));
    assert_eq!(
        theirs["location"],
        json!({ "lat": 52.52, "lng": 13.4 }),
        "rounded to about a kilometre"
    );
    assert_eq!(theirs["verificationStatus"], "NONE");

    let as_admin = app.gql_as(&admin, &query, json!({ "id": owner.id })).await;
    assert_eq!(as_admin.data()["user"]["email"], owner.email.as_str());

    let by_name = app
        .gql(
            "query($u: String!) { userByUsername(username: $u) { id email } }",
            json!({ "u": owner.username.to_uppercase() }),
        )
        .await;
    assert_eq!(by_name.data()["userByUsername"]["id"], owner.id.as_str());
    assert_eq!(by_name.data()["userByUsername"]["email"], json!(null));

    let missing = app
        .gql(
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": uuid::Uuid::now_v7() }),
        )
        .await;
    assert_eq!(missing.data()["user"], json!(null));
    let malformed = app
        .gql("query($id: ID!) { user(id: $id) { id } }", json!({ "id": "42" }))
        .await;
    assert_eq!(
        (malformed.code(), malformed.fields()),
        ("VALIDATION_ERROR", vec!["id".to_owned()])
    );
}

#[tokio::test]
async fn availability_and_location_change_and_are_validated() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let off = app
        .gql_as(
            &user,
            "mutation { setAvailability(isAvailable: false) { isAvailable } }",
            json!({}),
        )
        .await;
    assert_eq!(off.data()["setAvailability"]["isAvailable"], false);

    let bad = app
        .gql_as(
            &user,
            "mutation { updateLocation(location: { lat: 95, lng: -200 }) { id } }",
            json!({}),
        )
        .await;
    let mut fields = bad.fields();
    fields.sort();
    assert_eq!(fields, ["location.lat", "location.lng"]);

    let anonymous = app
        .gql(
            "mutation { setAvailability(isAvailable: true) { isAvailable } }",
            json!({}),
        )
        .await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");
}

fn multipart(query: &str, file: Vec<u8>, name: &str, mime: &str) -> reqwest::multipart::Form {
    let operations = json!({ "query": query, "variables": { "file": null } }).to_string();
    reqwest::multipart::Form::new()
        .text("operations", operations)
        .text("map", r#"{ "0": ["variables.file"] }"#)
        .part(
            "0",
            reqwest::multipart::Part::bytes(file)
                .file_name(name.to_owned())
                .mime_str(mime)
                .unwrap(),
        )
}

const UPLOAD: &str = "mutation($file: Upload!) { uploadAvatar(file: $file) { avatarUrl } }";

#[tokio::test]
async fn upload_avatar_stores_a_sniffed_image_and_serves_it() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    let request = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&user.token)
        .header("apollo-require-preflight", "true")
        .multipart(multipart(UPLOAD, PNG.to_vec(), "../../etc/passwd", "text/plain"));
    let response = app.send(request).await;
    let url = response.data()["uploadAvatar"]["avatarUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with(&format!("{}/uploads/avatars/", app.base)) && url.ends_with(".png"),
        "{url}"
    );
    assert!(!url.contains("passwd"), "client file names never reach the file system");

    let served = app.client.get(&url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.bytes().await.unwrap().as_ref(), PNG);

    // Replacing it removes the old file.
    let again = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .bearer_auth(&user.token)
                .header("apollo-require-preflight", "true")
                .multipart(multipart(UPLOAD, PNG.to_vec(), "a.png", "image/png")),
        )
        .await;
    assert_ne!(again.data()["uploadAvatar"]["avatarUrl"].as_str().unwrap(), url);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn upload_avatar_refuses_non_images_oversized_files_and_unsafe_requests() {
    let app = TestApp::builder().var("UPLOAD_MAX_BYTES", "2048").spawn().await;
    let user = app.with_user().await;
    let send = |body: Vec<u8>, preflight: bool| {
        let mut request = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&user.token)
            .multipart(multipart(UPLOAD, body, "x.png", "image/png"));
        if preflight {
            request = request.header("apollo-require-preflight", "true");
        }
        app.send(request)
    };
    let svg = send(
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(),
        true,
    )
    .await;
    assert_eq!(
        (svg.code(), svg.fields()),
        ("VALIDATION_ERROR", vec!["file".to_owned()])
    );

    let big = send(vec![0u8; 4096], true).await;
    assert_eq!((big.status.as_u16(), big.code()), (413, "LIMIT_EXCEEDED"));

    let no_preflight = send(PNG.to_vec(), false).await;
    assert_eq!(no_preflight.status.as_u16(), 400);
    assert_eq!(no_preflight.code(), "FORBIDDEN");

    let anonymous = app
        .send(
            app.client
                .post(app.url("/graphql"))
                .header("apollo-require-preflight", "true")
                .multipart(multipart(UPLOAD, PNG.to_vec(), "x.png", "image/png")),
        )
        .await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn user_lookups_are_batched_into_one_statement() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.with_user().await.id);
    }
    let fields: String = ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("u{i}: user(id: \"{id}\") {{ id username }} "))
        .collect();
    let before = app.statements();
    let response = app.gql(&format!("{{ {fields} }}"), json!({})).await;
    let statements = app.statements() - before;
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(response.data()[format!("u{i}")]["id"], id.as_str());
    }

    assert_eq!(statements, 1, "five users, one query");
}

#[tokio::test]
async fn freelancers_are_ranked_by_skill_match_portfolio_availability_and_verification() {
    let app = TestApp::spawn().await;
    async fn set(
        app: &TestApp,
        user: &crate::common::TestUser,
        skills: Vec<&str>,
        portfolio: Vec<&str>,
    ) -> crate::common::Gql {
        app.gql_as(
            user,
            UPDATE,
            json!({ "i": { "skills": skills, "portfolioUrls": portfolio, "languages": ["English"] } }),
        )
        .await
    }
    let (full, half, none, verified) = (
        app.with_user().await,
        app.with_user().await,
        app.with_user().await,
        app.with_user().await,
    );
    set(&app, &full, vec!["Rust", "GraphQL"], vec![]).await.data();
    set(
        &app,
        &half,
        vec!["rust"],
        vec!["https://a.example", "https://b.example", "https://c.example"],
    )
    .await
    .data();
    set(&app, &none, vec!["Figma"], vec![]).await.data();
    set(&app, &verified, vec!["Rust", "GraphQL"], vec![]).await.data();
    app.sql(&format!(
        "UPDATE users SET verification_status = 'VERIFIED' WHERE id = '{}'",
        verified.id
    ))
    .await;
    app.gql_as(
        &full,
        "mutation { setAvailability(isAvailable: false) { id } }",
        json!({}),
    )
    .await
    .data();

    let query = "query($f: FreelancerFilter, $first: Int, $after: String) { freelancers(filter: $f, first: $first, after: $after) { totalCount edges { score node { username } } pageInfo { hasNextPage endCursor } } }";
    let ranked = app.gql(query, json!({ "f": { "skills": ["RUST", "graphql"] } })).await;
    let data = &ranked.data()["freelancers"];
    let order: Vec<&str> = data["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            verified.username.as_str(),
            half.username.as_str(),
            full.username.as_str()
        ],
        "Figma-only is left out"
    );
    assert_eq!(data["totalCount"], 3);

    let available = app
        .gql(
            query,
            json!({ "f": { "skills": ["rust"], "availableOnly": true, "verifiedOnly": true } }),
        )
        .await;
    assert_eq!(available.data()["freelancers"]["totalCount"], 1);

    let first = app.gql(query, json!({ "f": { "skills": ["rust"] }, "first": 2 })).await;
    let next = app.gql(query, json!({ "f": { "skills": ["rust"] }, "first": 2, "after": first.data()["freelancers"]["pageInfo"]["endCursor"] })).await;
    assert_eq!(next.data()["freelancers"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(next.data()["freelancers"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn freelancers_can_be_saved_listed_and_unsaved() {
    let app = TestApp::spawn().await;
    let (client, a, b) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let save = "mutation($u: ID!) { saveFreelancer(userId: $u) { username } }";
    for user in [&a, &b, &a] {
        app.gql_as(&client, save, json!({ "u": user.id })).await.data();
    }
    assert_eq!(
        app.gql_as(&client, save, json!({ "u": client.id })).await.fields(),
        ["userId"]
    );
    let list = "query($after: String) { savedFreelancers(first: 1, after: $after) { totalCount edges { node { username } } pageInfo { hasNextPage endCursor } } }";
    let first = app.gql_as(&client, list, json!({})).await;
    let page = &first.data()["savedFreelancers"];
    assert_eq!(page["totalCount"], 2);
    assert_eq!(
        page["edges"][0]["node"]["username"],
        b.username.as_str(),
        "most recently saved first"
    );
    let next = app
        .gql_as(&client, list, json!({ "after": page["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(
        next.data()["savedFreelancers"]["edges"][0]["node"]["username"],
        a.username.as_str()
    );
    let unsave = app
        .gql_as(
            &client,
            "mutation($u: ID!) { unsaveFreelancer(userId: $u) }",
            json!({ "u": a.id }),
        )
        .await;
    assert_eq!(unsave.data()["unsaveFreelancer"], true);
    assert_eq!(
        app.gql_as(&client, list, json!({})).await.data()["savedFreelancers"]["totalCount"],
        1
    );
}
