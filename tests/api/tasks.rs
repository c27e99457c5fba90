//! Tasks, plans and applications.

use serde_json::{json, Value};

use crate::common::{TestApp, TestUser};

const POST: &str = "mutation($i: PostTaskInput!) { postTask(input: $i) { id status category milestones { title amountCents } location { lat lng } address } }";
const TASK: &str = "query($id: ID!) { task(id: $id) { id status address location { lat lng } poster { username } applicationsCount } }";
const APPLY: &str = "mutation($i: ApplyToTaskInput!) { applyToTask(input: $i) { id status } }";

pub fn task(title: &str) -> Value {
    json!({
        "title": title,
        "description": "We need someone to build this for us, with tests and a short handover document.",
        "category": "development",
        "skillsRequired": ["Rust", "PostgreSQL"],
        "aiToolsPreferred": ["Copilot"],
        "budgetType": "FIXED",
        "budgetMinCents": 100000,
        "budgetMaxCents": 300000,
        "duration": "ONE_TO_FOUR_WEEKS",
        "locationType": "REMOTE",
    })
}

pub async fn post(app: &TestApp, user: &TestUser, task: Value) -> String {
    let response = app.gql_as(user, POST, json!({ "i": { "task": task } })).await;
    response.data()["postTask"]["id"].as_str().unwrap().to_owned()
}

fn application(task_id: &str) -> Value {
    json!({ "taskId": task_id, "coverLetter": "I have built three of these before; here is how I would approach yours.",
            "proposedRateCents": 250000, "proposedTimeline": "3 weeks", "portfolioItems": ["https://example.com/work"] })
}

#[tokio::test]
async fn the_free_plan_limits_monthly_posts_and_drafts_do_not_count() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    let usage = "{ usage { postsUsed postsLimit canPost plan { id } } }";
    assert_eq!(
        app.gql_as(&poster, usage, json!({})).await.data()["usage"],
        json!({ "postsUsed": 0, "postsLimit": 3, "canPost": true, "plan": { "id": "free" } })
    );
    for i in 0..3 {
        post(&app, &poster, task(&format!("Build our service number {i}"))).await;
    }
    let draft = app
        .gql_as(
            &poster,
            POST,
            json!({ "i": { "task": task("A draft for later on"), "draft": true } }),
        )
        .await;
    assert_eq!(draft.data()["postTask"]["status"], "DRAFT");
    let over = app
        .gql_as(
            &poster,
            POST,
            json!({ "i": { "task": task("One task too many here") } }),
        )
        .await;
    assert_eq!(over.code(), "LIMIT_EXCEEDED");
    assert_eq!(
        app.texts("SELECT id::text AS value FROM tasks WHERE status = 'OPEN'")
            .await
            .len(),
        3,
        "nothing written past the limit"
    );
    let publish = app
        .gql_as(
            &poster,
            "mutation($id: ID!) { publishTask(id: $id) { status } }",
            json!({ "id": draft.data()["postTask"]["id"] }),
        )
        .await;
    assert_eq!(publish.code(), "LIMIT_EXCEEDED");
    assert_eq!(
        app.gql_as(&poster, usage, json!({})).await.data()["usage"]["canPost"],
        false
    );

    app.sql(&format!(
        "INSERT INTO user_plans (user_id, plan_id) VALUES ('{}', 'pro')",
        poster.id
    ))
    .await;
    assert_eq!(
        app.gql_as(&poster, usage, json!({})).await.data()["usage"]["postsLimit"],
        json!(null)
    );
    post(&app, &poster, task("Unlimited on the pro plan")).await;
    let plans = app.gql("{ plans { id monthlyPostLimit priceCents } }", json!({})).await;
    assert_eq!(plans.data()["plans"][0]["id"], "free");
}

#[tokio::test]
async fn concurrent_posts_cannot_both_take_the_last_slot() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    post(&app, &poster, task("First of this month's posts")).await;
    post(&app, &poster, task("Second of this month's posts")).await;
    let attempts = (0..6).map(|i| {
        app.gql_as(
            &poster,
            POST,
            json!({ "i": { "task": task(&format!("Racing for the last slot {i}")) } }),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results.iter().filter(|r| r.body.get("errors").is_none()).count();
    assert_eq!(won, 1, "exactly one concurrent post takes the third slot");
    assert!(results
        .iter()
        .filter(|r| r.body.get("errors").is_some())
        .all(|r| r.code() == "LIMIT_EXCEEDED"));
}

#[tokio::test]
async fn templates_prefill_milestones_and_onsite_locations_are_fuzzed_for_others() {
    let app = TestApp::spawn().await;
    let (poster, other) = (app.with_user().await, app.with_user().await);
    let templates = app
        .gql("{ taskTemplates { key milestones { shareBps } } }", json!({}))
        .await;
    assert!(templates.data()["taskTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["key"] == "SAAS_MVP"));

    let mut onsite = task("Fix the shop's network on site");
    onsite["category"] = json!("");
    onsite["templateKey"] = json!("LANDING_PAGE");
    onsite["locationType"] = json!("ONSITE");
    onsite["address"] = json!("Alexanderplatz 1, Berlin");
    onsite["location"] = json!({ "lat": 52.5219, "lng": 13.4132 });
    let created = app.gql_as(&poster, POST, json!({ "i": { "task": onsite } })).await;
    let created = &created.data()["postTask"];
    assert_eq!(created["category"], "design", "the template's category");
    assert_eq!(
        created["milestones"],
        json!([{ "title": "Design", "amountCents": 120000 }, { "title": "Build and launch", "amountCents": 180000 }])
    );
    assert_eq!(created["location"], json!({ "lat": 52.5219, "lng": 13.4132 }));

    let seen = app.gql_as(&other, TASK, json!({ "id": created["id"] })).await;
    let seen = &seen.data()["task"];
    assert_eq!(seen["address"], json!(null));
    let (lat, lng) = (
        seen["location"]["lat"].as_f64().unwrap(),
        seen["location"]["lng"].as_f64().unwrap(),
    );
    assert!((lat - 52.5219).abs() > 1e-4 || (lng - 13.4132).abs() > 1e-4, "moved");
    assert!(
        (lat - 52.5219).abs() < 0.004 && (lng - 13.4132).abs() < 0.006,
        "but only a few hundred metres"
    );
    let again = app.gql_as(&other, TASK, json!({ "id": created["id"] })).await;
    assert_eq!(
        again.data()["task"]["location"],
        seen["location"],
        "the same point every time"
    );

    let mut missing = task("On site without an address");
    missing["locationType"] = json!("HYBRID");
    let refused = app.gql_as(&poster, POST, json!({ "i": { "task": missing } })).await;
    assert_eq!(refused.fields(), ["location"]);
}

#[tokio::test]
async fn tasks_are_searched_filtered_edited_and_cancelled_by_their_poster() {
    let app = TestApp::spawn().await;
    let (poster, other) = (app.with_user().await, app.with_user().await);
    app.sql(&format!(
        "INSERT INTO user_plans (user_id, plan_id) VALUES ('{}', 'pro')",
        poster.id
    ))
    .await;
    let rust = post(&app, &poster, task("Rust service for payments")).await;
    let mut design = task("Logo and brand identity design");
    design["category"] = json!("design");
    design["skillsRequired"] = json!(["Figma"]);
    design["budgetMinCents"] = json!(20000);
    design["budgetMaxCents"] = json!(50000);
    let logo = post(&app, &poster, design).await;
    let list = "query($f: TaskFilter) { tasks(filter: $f) { totalCount edges { node { id } } } }";
    let ids = |r: &crate::common::Gql| -> Vec<String> {
        r.data()["tasks"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&app.gql(list, json!({ "f": { "search": "payments" } })).await),
        std::slice::from_ref(&rust)
    );
    assert_eq!(
        ids(&app.gql(list, json!({ "f": { "skills": ["Figma", "Go"] } })).await),
        std::slice::from_ref(&logo)
    );
    assert_eq!(
        ids(&app.gql(list, json!({ "f": { "budgetMin": 100000 } })).await),
        std::slice::from_ref(&rust)
    );
    assert_eq!(
        ids(&app
            .gql(list, json!({ "f": { "category": "design", "postedWithin": "DAY" } }))
            .await),
        std::slice::from_ref(&logo)
    );
    assert_eq!(
        ids(&app.gql(list, json!({ "f": { "locationType": "ONSITE" } })).await).len(),
        0
    );
    assert_eq!(app.gql(list, json!({})).await.data()["tasks"]["totalCount"], 2);

    let update = "mutation($id: ID!, $i: TaskInputObject!) { updateTask(id: $id, input: $i) { title } }";
    assert_eq!(
        app.gql_as(
            &other,
            update,
            json!({ "id": rust, "i": task("Hijacked task title here") })
        )
        .await
        .code(),
        "FORBIDDEN"
    );
    let edited = app
        .gql_as(
            &poster,
            update,
            json!({ "id": rust, "i": task("Rust service for refunds") }),
        )
        .await;
    assert_eq!(edited.data()["updateTask"]["title"], "Rust service for refunds");
    let cancel = "mutation($id: ID!) { cancelTask(id: $id) { status } }";
    assert_eq!(
        app.gql_as(&poster, cancel, json!({ "id": rust })).await.data()["cancelTask"]["status"],
        "CANCELLED"
    );
    assert_eq!(
        app.gql_as(&poster, cancel, json!({ "id": rust })).await.code(),
        "CONFLICT"
    );
    assert_eq!(
        app.gql_as(&poster, "{ myTasks(status: CANCELLED) { totalCount } }", json!({}))
            .await
            .data()["myTasks"]["totalCount"],
        1
    );
}

#[tokio::test]
async fn applications_follow_their_rules_and_notify_both_sides() {
    let app = TestApp::spawn().await;
    let (poster, freelancer, other) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let task_id = post(&app, &poster, task("Integrate our payment provider")).await;

    let own = app.gql_as(&poster, APPLY, json!({ "i": application(&task_id) })).await;
    assert_eq!(own.code(), "CONFLICT");
    let applied = app
        .gql_as(&freelancer, APPLY, json!({ "i": application(&task_id) }))
        .await;
    let application_id = applied.data()["applyToTask"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.gql_as(&freelancer, APPLY, json!({ "i": application(&task_id) }))
            .await
            .code(),
        "CONFLICT"
    );
    let short = app
        .gql_as(
            &other,
            APPLY,
            json!({ "i": { "taskId": task_id, "coverLetter": "hi", "proposedRateCents": 0, "proposedTimeline": "x" } }),
        )
        .await;
    let mut fields = short.fields();
    fields.sort();
    assert_eq!(fields, ["coverLetter", "proposedRateCents", "proposedTimeline"]);

    assert_eq!(
        app.gql(TASK, json!({ "id": task_id })).await.data()["task"]["applicationsCount"],
        1
    );
    let inbox = app
        .gql_as(&poster, "{ notifications { edges { node { kind data } } } }", json!({}))
        .await;
    assert_eq!(
        inbox.data()["notifications"]["edges"][0]["node"]["kind"],
        "NEW_APPLICATION"
    );

    let list = "query($t: ID!) { taskApplications(taskId: $t) { totalCount edges { node { id freelancer { username } task { title } } } } }";
    let seen = app.gql_as(&poster, list, json!({ "t": task_id })).await;
    assert_eq!(seen.data()["taskApplications"]["totalCount"], 1);
    assert_eq!(
        seen.data()["taskApplications"]["edges"][0]["node"]["freelancer"]["username"],
        freelancer.username.as_str()
    );
    assert_eq!(
        app.gql_as(&other, list, json!({ "t": task_id })).await.code(),
        "FORBIDDEN"
    );

    let set = "mutation($id: ID!, $s: ApplicationStatus!) { setApplicationStatus(id: $id, status: $s) { status } }";
    assert_eq!(
        app.gql_as(&freelancer, set, json!({ "id": application_id, "s": "SHORTLISTED" }))
            .await
            .code(),
        "NOT_FOUND"
    );
    assert_eq!(
        app.gql_as(&poster, set, json!({ "id": application_id, "s": "ACCEPTED" }))
            .await
            .fields(),
        ["status"]
    );
    let shortlisted = app
        .gql_as(&poster, set, json!({ "id": application_id, "s": "SHORTLISTED" }))
        .await;
    assert_eq!(shortlisted.data()["setApplicationStatus"]["status"], "SHORTLISTED");
    let told = app
        .gql_as(
            &freelancer,
            "{ notifications { edges { node { kind data } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        told.data()["notifications"]["edges"][0]["node"]["kind"],
        "APPLICATION_STATUS"
    );
    assert_eq!(
        told.data()["notifications"]["edges"][0]["node"]["data"]["status"],
        "SHORTLISTED"
    );

    let mine = app
        .gql_as(
            &freelancer,
            "{ myApplications { totalCount edges { node { status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine.data()["myApplications"]["totalCount"], 1);
    let withdrawn = app
        .gql_as(
            &freelancer,
            "mutation($id: ID!) { withdrawApplication(id: $id) { status } }",
            json!({ "id": application_id }),
        )
        .await;
    assert_eq!(withdrawn.data()["withdrawApplication"]["status"], "WITHDRAWN");
    assert_eq!(
        app.gql_as(&poster, set, json!({ "id": application_id, "s": "REJECTED" }))
            .await
            .code(),
        "CONFLICT"
    );
}

#[tokio::test]
async fn bulk_status_changes_are_all_or_nothing() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    let task_id = post(&app, &poster, task("Review our mobile application")).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let freelancer = app.with_user().await;
        let applied = app
            .gql_as(&freelancer, APPLY, json!({ "i": application(&task_id) }))
            .await;
        ids.push(applied.data()["applyToTask"]["id"].as_str().unwrap().to_owned());
    }
    let bulk =
        "mutation($ids: [ID!]!, $s: ApplicationStatus!) { bulkSetApplicationStatus(ids: $ids, status: $s) { status } }";
    let rejected = app
        .gql_as(&poster, bulk, json!({ "ids": [ids[0]], "s": "REJECTED" }))
        .await;
    assert_eq!(rejected.data()["bulkSetApplicationStatus"][0]["status"], "REJECTED");
    let mixed = app.gql_as(&poster, bulk, json!({ "ids": ids, "s": "REVIEWING" })).await;
    assert_eq!(mixed.code(), "CONFLICT", "one final application spoils the batch");
    let statuses = app
        .texts("SELECT status AS value FROM applications ORDER BY status")
        .await;
    assert_eq!(statuses, ["PENDING", "PENDING", "REJECTED"], "nothing changed");
    let ok = app
        .gql_as(&poster, bulk, json!({ "ids": &ids[1..], "s": "REVIEWING" }))
        .await;
    assert_eq!(ok.data()["bulkSetApplicationStatus"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn invitations_notify_the_freelancer_once() {
    let app = TestApp::spawn().await;
    let (poster, freelancer) = (app.with_user().await, app.with_user().await);
    let task_id = post(&app, &poster, task("Migrate our database to Postgres")).await;
    let invite =
        "mutation($t: ID!, $f: ID!) { inviteToTask(taskId: $t, freelancerId: $f, message: \"You'd be great\") { id } }";
    for _ in 0..2 {
        app.gql_as(&poster, invite, json!({ "t": task_id, "f": freelancer.id }))
            .await
            .data();
    }
    let count = app.gql_as(&freelancer, "{ unreadNotificationCount }", json!({})).await;
    assert_eq!(count.data()["unreadNotificationCount"], 1);
    assert_eq!(
        app.gql_as(&freelancer, invite, json!({ "t": task_id, "f": poster.id }))
            .await
            .code(),
        "FORBIDDEN",
        "not their task"
    );
}
