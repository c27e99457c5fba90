//! Location-first tasks: nearby search, the nearby broadcast across instances, first accept
//! wins, expiry and reopening, fuzzed locations.

use std::time::Duration;

use chrono::Utc;
use diesel::{pg::Pg, query_builder::QueryFragment};
use diesel_async::SimpleAsyncConnection;
use gigmarket::{auth::jwt::Subject, geocell, task};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    common::{redis_url, TestApp, TestUser},
    indexes::{assert_indexed, explain, explain_generic, explain_kept, inline},
    ws::{WsClient, TRANSPORT_WS},
};

const POST: &str = "mutation($i: PostTaskInput!) { postTask(input: $i) { id status mode acceptanceDeadline } }";
const NEARBY: &str = "query($lat: Float!, $lng: Float!, $r: Float!, $after: String, $filter: TaskFilter) {
    nearbyTasks(lat: $lat, lng: $lng, radiusMeters: $r, first: 100, after: $after, filter: $filter) {
        totalCount edges { cursor node { distanceMeters task { id } } } pageInfo { hasNextPage endCursor } } }";
const ACCEPT: &str =
    "mutation($id: ID!) { acceptTask(id: $id) { id status origin amountCents freelancer { id } client { id } } }";
const TASK_UPDATED: &str =
    "subscription($id: ID!) { taskUpdated(taskId: $id) { fromStatus toStatus eventCursor task { id status } } }";
const NEARBY_POSTED: &str = "subscription($lat: Float!, $lng: Float!, $r: Float!) {
    nearbyTaskPosted(lat: $lat, lng: $lng, radiusMeters: $r) { distanceMeters task { id title mode status } } }";

/// The next `taskUpdated` on `ws`, passing over the task's creation (a subscription made
/// right after posting may see it, depending on how soon the relay ran).
async fn next_change(ws: &mut WsClient) -> Value {
    loop {
        let update = ws.next_data("t").await["taskUpdated"].clone();
        if !update["fromStatus"].is_null() {
            return update;
        }
        assert_eq!(update["toStatus"], "OPEN", "{update}");
    }
}

/// Haversine metres with the mean Earth radius: the brute force the search is checked against.
fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlng = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().min(1.0).asin()
}

/// The point `metres` from `from` on `bearing` degrees (great circle).
fn destination(from: (f64, f64), bearing: f64, metres: f64) -> (f64, f64) {
    let d = metres / 6_371_008.8;
    let (lat, lng, b) = (from.0.to_radians(), from.1.to_radians(), bearing.to_radians());
    let lat2 = (lat.sin() * d.cos() + lat.cos() * d.sin() * b.cos()).asin();
    let lng2 = lng + (b.sin() * d.sin() * lat.cos()).atan2(d.cos() - lat.sin() * lat2.sin());
    (lat2.to_degrees(), (lng2.to_degrees() + 540.0).rem_euclid(360.0) - 180.0)
}

/// A small deterministic generator (the data must be the same on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Inserts OPEN located tasks of `poster` at `points` (exact = public, for a checkable truth)
/// and returns their ids in order.
async fn insert_located(app: &TestApp, poster: &str, points: &[(f64, f64)]) -> Vec<String> {
    let mut ids = Vec::with_capacity(points.len());
    for chunk in points.chunks(2_000) {
        let mut values = Vec::with_capacity(chunk.len());
        for &(lat, lng) in chunk {
            let id = Uuid::now_v7();
            let hash = geocell::cell_of(lat, lng, geocell::POINT_PRECISION).expect("geohash");
            values.push(format!(
                "('{id}', '{poster}', 'Help carry boxes upstairs', 'Two hours of lifting boxes to the third floor, no lift.', \
                 'moving', 'FIXED', 5000, 8000, 'LESS_THAN_A_WEEK', 'ONSITE', 'Somewhere 1', {lat:?}, {lng:?}, \
                 {lat:?}, {lng:?}, '{hash}', 'OPEN', now())"
            ));
            ids.push(id.to_string());
        }
        app.sql(&format!(
            "INSERT INTO tasks (id, poster_id, title, description, category, budget_type, budget_min_cents, \
             budget_max_cents, duration, location_type, address, latitude, longitude, public_latitude, \
             public_longitude, geohash, status, published_at) VALUES {}",
            values.join(", ")
        ))
        .await;
    }
    ids
}

/// By brute force: the tasks (`ids` at `points`) within `radius`, nearest first, then by id.
fn within(ids: &[String], points: &[(f64, f64)], centre: (f64, f64), radius: f64) -> Vec<(String, f64)> {
    let mut found: Vec<(String, f64)> = ids
        .iter()
        .zip(points)
        .map(|(id, &p)| (id.clone(), haversine(centre, p)))
        .filter(|(_, d)| *d <= radius)
        .collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    found
}

/// The same task ids in the same order.
fn assert_same_ids(found: &[(String, f64)], expected: &[(String, f64)], centre: (f64, f64), radius: f64) {
    let ids = |list: &[(String, f64)]| list.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(found), ids(expected), "centre {centre:?}, radius {radius}");
}

/// Every page of `nearbyTasks`, as (id, distance) in the order served, and the total.
async fn all_nearby(app: &TestApp, centre: (f64, f64), radius: f64) -> (Vec<(String, f64)>, i64) {
    all_pages(app, NEARBY, centre, radius).await
}

/// Every page of `document` (a `nearbyTasks` query like [`NEARBY`]), as (id, distance) in the
/// order served, and the total.
async fn all_pages(app: &TestApp, document: &str, centre: (f64, f64), radius: f64) -> (Vec<(String, f64)>, i64) {
    let mut found = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    loop {
        let page = app
            .gql(
                document,
                json!({ "lat": centre.0, "lng": centre.1, "r": radius, "after": after }),
            )
            .await;
        let connection = &page.data()["nearbyTasks"];
        total.get_or_insert(connection["totalCount"].as_i64().unwrap());
        for edge in connection["edges"].as_array().unwrap() {
            found.push((
                edge["node"]["task"]["id"].as_str().unwrap().to_owned(),
                edge["node"]["distanceMeters"].as_f64().unwrap(),
            ));
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            return (found, total.unwrap_or_default());
        }
        after = Some(connection["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
    }
}

#[tokio::test]
async fn nearby_search_returns_exactly_the_tasks_within_the_radius_nearest_first() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    // Cities, both poles and both sides of the antimeridian.
    let centres = [
        (52.52, 13.405),
        (0.0, 0.0),
        (-33.87, 151.21),
        (0.3, 179.995),
        (-16.5, -179.98),
        (89.995, 30.0),
        (-89.99, -120.0),
        (71.0, -179.999),
    ];
    let mut rng = Lcg(42);
    let mut points = Vec::new();
    for &centre in &centres {
        for _ in 0..300 {
            // Out to 12 km, denser near the centre: inside and outside the radii asked below.
            let metres = 12_000.0 * rng.next();
            points.push(destination(centre, rng.next() * 360.0, metres));
        }
    }
    let ids = insert_located(&app, &poster.id, &points).await;
    for &centre in &centres {
        for radius in [1_000.0, 5_000.0, 9_000.0] {
            let expected = within(&ids, &points, centre, radius);
            let (found, total) = all_nearby(&app, centre, radius).await;
            assert_same_ids(&found, &expected, centre, radius);
            assert_eq!(total, expected.len() as i64, "totalCount at {centre:?}, {radius}");
            for ((_, got), (_, want)) in found.iter().zip(&expected) {
                assert!((got - want).abs() < 0.01, "distance {got} vs {want} at {centre:?}");
            }
            assert!(
                expected.len() > 5,
                "the data should put tasks within {radius} m of {centre:?}"
            );
        }
    }
}

#[tokio::test]
async fn nearby_search_filters_and_validates() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    let centre = (48.8566, 2.3522);
    let ids = insert_located(
        &app,
        &poster.id,
        &[destination(centre, 10.0, 500.0), destination(centre, 200.0, 2_000.0)],
    )
    .await;
    app.sql(&format!(
        "UPDATE tasks SET category = 'cleaning' WHERE id = '{}'; UPDATE tasks SET status = 'CANCELLED' WHERE id = '{}'",
        ids[0], ids[1]
    ))
    .await;
    let found = app
        .gql(
            NEARBY,
            json!({ "lat": centre.0, "lng": centre.1, "r": 5000.0, "filter": { "category": "cleaning" } }),
        )
        .await;
    let edges = found.data()["nearbyTasks"]["edges"].as_array().unwrap().clone();
    assert_eq!(edges.len(), 1, "only the open cleaning task: {edges:?}");
    assert_eq!(edges[0]["node"]["task"]["id"], ids[0].as_str());
    let none = app
        .gql(
            NEARBY,
            json!({ "lat": centre.0, "lng": centre.1, "r": 5000.0, "filter": { "category": "moving" } }),
        )
        .await;
    assert_eq!(none.data()["nearbyTasks"]["edges"], json!([]));

    for (vars, field) in [
        (json!({ "lat": 91.0, "lng": 0.0, "r": 5000.0 }), "lat"),
        (json!({ "lat": 0.0, "lng": -181.0, "r": 5000.0 }), "lng"),
        (json!({ "lat": 0.0, "lng": 0.0, "r": 0.0 }), "radiusMeters"),
        (json!({ "lat": 0.0, "lng": 0.0, "r": 50_001.0 }), "radiusMeters"),
        (json!({ "lat": 0.0, "lng": 0.0, "r": 10.0, "after": "bm9wZQ" }), "after"),
    ] {
        let bad = app.gql(NEARBY, vars).await;
        assert_eq!(bad.code(), "VALIDATION_ERROR", "{:#}", bad.body);
        assert_eq!(bad.fields(), vec![field.to_owned()]);
    }
}

#[tokio::test]
async fn nearby_search_uses_the_gist_index_which_can_hand_out_the_order() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    // 30,000 tasks over the world and 2,000 in one city: the planner must pick the index
    // on its own (sequential scans stay enabled). At this size it may sort the box's few
    // rows rather than take the index's order (PostgreSQL estimates a cube box at 0.1 % of
    // the rows); at 1,000,000 it takes the order (EXPLAIN in BENCHMARKS.md). That the order
    // is there to take is checked with sorting discouraged.
    let mut rng = Lcg(7);
    let mut points: Vec<(f64, f64)> = (0..30_000)
        .map(|_| ((rng.next() * 2.0 - 1.0).asin().to_degrees(), rng.next() * 360.0 - 180.0))
        .collect();
    let city = (40.4168, -3.7038);
    points.extend((0..2_000).map(|_| destination(city, rng.next() * 360.0, 15_000.0 * rng.next().sqrt())));
    insert_located(&app, &poster.id, &points).await;
    let mut conn = app.state.db.conn().await.expect("connection");
    conn.batch_execute("ANALYZE tasks; ANALYZE users")
        .await
        .expect("analyze");
    let parameter = regex::Regex::new(r"\$\d").expect("regex");
    for (name, radius) in [
        ("5 km in the city", 5_000.0),
        ("50 km in the city", 50_000.0),
        ("500 m", 500.0),
    ] {
        let around = task::service::search_area(city.0, city.1, radius);
        let query = task::model::nearby_query(&task::model::Filter::default(), &around, None, 22);
        let debug = diesel::debug_query::<Pg, _>(&query).to_string();
        let sql = inline(&debug);
        assert_indexed(&mut conn, name, &sql, "tasks", Some("tasks_open_earth_idx")).await;
        // The statement is prepared once per connection and kept (no SQL text fragment
        // stops diesel caching it), and the plan kept for any centre still takes the index.
        assert!(
            QueryFragment::<Pg>::is_safe_to_cache_prepared(&query, &Pg).expect("cacheable?"),
            "{name}: diesel would plan this statement on every run"
        );
        let generic = explain_generic(&mut conn, name, &debug).await;
        assert!(
            generic.contains("tasks_open_earth_idx") && !generic.contains("Seq Scan on tasks"),
            "{name}: the generic plan leaves the index:\n{generic}"
        );
        // And PostgreSQL keeps that generic plan rather than planning every search again
        // (a bound LIMIT made it look dearer than a custom plan).
        let kept = explain_kept(&mut conn, name, &debug).await;
        assert!(
            parameter.is_match(&kept),
            "{name}: PostgreSQL plans every execution:\n{kept}"
        );
        conn.batch_execute("SET enable_sort = off").await.expect("set");
        let plan = explain(&mut conn, name, &sql).await;
        conn.batch_execute("RESET enable_sort").await.expect("reset");
        assert!(
            plan.contains("tasks_open_earth_idx") && plan.contains("Order By: ") && !plan.contains("Sort Key"),
            "{name}: the index should be able to hand out the order:\n{plan}"
        );
    }
}

/// Right at the radius (inside by 5 cm, outside by 5 cm) around the poles, across the
/// antimeridian and at the largest radius, and ties at the same distance on both sides of a
/// page's end: every task inside once, in (distance, id) order, none outside.
#[tokio::test]
async fn the_radius_cut_and_the_order_are_exact_at_the_edges() {
    let app = TestApp::spawn().await;
    let poster = app.with_user().await;
    let cases = [
        ((89.99, 0.0), 5_000.0),
        ((-89.999, 120.0), 5_000.0),
        ((0.0, 179.999), 5_000.0),
        ((-45.0, -179.9999), 50_000.0),
        ((60.0, 25.0), 50_000.0),
        ((51.5, -0.12), 1.0),
    ];
    for (centre, radius) in cases {
        app.sql("DELETE FROM tasks").await;
        let mut points = Vec::new();
        for i in 0..12 {
            // 2 mm apart, so the order between them is the distance's, not float noise's.
            let (bearing, step) = (i as f64 * 30.0 + 7.0, i as f64 * 0.002);
            points.push(destination(centre, bearing, radius - 0.05 - step));
            points.push(destination(centre, bearing + 15.0, radius + 0.05 + step));
        }
        // Eight tasks on the very same spot: one distance, ordered by id across pages of 5.
        let spot = destination(centre, 200.0, radius / 2.0);
        points.extend(std::iter::repeat_n(spot, 8));
        let ids = insert_located(&app, &poster.id, &points).await;
        let expected = within(&ids, &points, centre, radius);
        let (found, total) = all_pages(&app, &NEARBY.replace("first: 100", "first: 5"), centre, radius).await;
        assert_eq!(total, expected.len() as i64, "totalCount at {centre:?}, {radius}");
        assert_same_ids(&found, &expected, centre, radius);
        assert_eq!(expected.len(), 20, "12 at the edge and 8 on one spot inside");
    }
}

/// An IMMEDIATE task input at `point`, lapsing in `minutes`.
fn immediate(point: (f64, f64), minutes: i64) -> Value {
    json!({
        "title": "Urgent: fix a leaking kitchen tap",
        "description": "Water is dripping under the sink; bring tools and a spare washer please.",
        "category": "repairs",
        "budgetType": "FIXED",
        "budgetMinCents": 4000,
        "budgetMaxCents": 6000,
        "duration": "LESS_THAN_A_WEEK",
        "locationType": "ONSITE",
        "address": "12 Example Street",
        "location": { "lat": point.0, "lng": point.1 },
        "mode": "IMMEDIATE",
        "acceptanceDeadline": (Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339(),
    })
}

async fn post(app: &TestApp, user: &TestUser, input: Value, draft: bool) -> String {
    let posted = app
        .gql_as(user, POST, json!({ "i": { "task": input, "draft": draft } }))
        .await;
    posted.data()["postTask"]["id"].as_str().unwrap().to_owned()
}

/// The public point of a task (what everyone but the parties sees).
fn public_point(id: &str, exact: (f64, f64)) -> (f64, f64) {
    geocell::fuzz(Uuid::parse_str(id).unwrap(), exact.0, exact.1)
}

#[tokio::test]
async fn immediate_tasks_need_a_place_and_a_deadline_and_hide_the_exact_spot() {
    let app = TestApp::spawn().await;
    let (client, freelancer, other) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let spot = (51.5074, -0.1278);
    let cases = [
        (json!({ "acceptanceDeadline": null }), "acceptanceDeadline"),
        (
            json!({ "acceptanceDeadline": (Utc::now() - chrono::Duration::minutes(1)).to_rfc3339() }),
            "acceptanceDeadline",
        ),
        (
            json!({ "acceptanceDeadline": (Utc::now() + chrono::Duration::days(4)).to_rfc3339() }),
            "acceptanceDeadline",
        ),
        (
            json!({ "locationType": "REMOTE", "location": null, "address": null }),
            "locationType",
        ),
        (json!({ "mode": "STANDARD" }), "acceptanceDeadline"),
    ];
    for (patch, field) in cases {
        let mut input = immediate(spot, 30);
        for (k, v) in patch.as_object().unwrap() {
            input[k] = v.clone();
        }
        let refused = app.gql_as(&client, POST, json!({ "i": { "task": input } })).await;
        assert_eq!(refused.code(), "VALIDATION_ERROR", "{patch}: {:#}", refused.body);
        assert!(
            refused.fields().contains(&field.to_owned()),
            "{patch}: {:?}",
            refused.fields()
        );
    }
    let count = app.texts("SELECT count(*)::text AS value FROM tasks").await;
    assert_eq!(count, vec!["0"], "nothing is written when the input is refused");

    let id = post(&app, &client, immediate(spot, 30), false).await;
    let read =
        "query($id: ID!) { task(id: $id) { mode acceptanceDeadline address location { lat lng } assignee { id } } }";
    let seen_by = |user: &TestUser| {
        let user = user.clone();
        let id = id.clone();
        let app = &app;
        async move { app.gql_as(&user, read, json!({ "id": id })).await.data()["task"].clone() }
    };
    let outsider = seen_by(&freelancer).await;
    assert_eq!(outsider["mode"], "IMMEDIATE");
    assert_eq!(outsider["address"], Value::Null);
    let fuzzed = (
        outsider["location"]["lat"].as_f64().unwrap(),
        outsider["location"]["lng"].as_f64().unwrap(),
    );
    let off = haversine(fuzzed, spot);
    assert!((140.0..=260.0).contains(&off), "the public point is {off} m away");
    // Compared to a nanodegree: the point passes through JSON and may differ in the last bit.
    let expected = public_point(&id, spot);
    assert!(
        (fuzzed.0 - expected.0).abs() < 1e-9 && (fuzzed.1 - expected.1).abs() < 1e-9,
        "{fuzzed:?} != {expected:?}"
    );
    assert_eq!(
        seen_by(&other).await["location"],
        outsider["location"],
        "the same point for everyone, every time"
    );
    let own = seen_by(&client).await;
    assert_eq!(own["address"], "12 Example Street");
    assert_eq!(own["location"], json!({ "lat": spot.0, "lng": spot.1 }));

    // Once assigned, the assignee sees the exact spot; others still the public one.
    let order = app.gql_as(&freelancer, ACCEPT, json!({ "id": id })).await;
    let order = &order.data()["acceptTask"];
    assert_eq!(order["status"], "PENDING_PAYMENT");
    assert_eq!(order["origin"], "TASK");
    assert_eq!(order["amountCents"], 6000);
    assert_eq!(order["freelancer"]["id"], freelancer.id.as_str());
    let assignee = seen_by(&freelancer).await;
    assert_eq!(assignee["address"], "12 Example Street");
    assert_eq!(assignee["location"], json!({ "lat": spot.0, "lng": spot.1 }));
    assert_eq!(assignee["assignee"]["id"], freelancer.id.as_str());
    let still_outside = seen_by(&other).await;
    assert_eq!(still_outside["location"], outsider["location"]);
    assert_eq!(still_outside["assignee"], Value::Null);
}

/// `n` users made directly in the database, with access tokens (sign-up hashes passwords,
/// which would make a crowd of 200 slow to build).
async fn crowd(app: &TestApp, n: usize) -> Vec<TestUser> {
    let users: Vec<(Uuid, String)> = (0..n)
        .map(|i| {
            let id = Uuid::now_v7();
            (id, format!("crowd{i}_{}", &id.simple().to_string()[24..]))
        })
        .collect();
    let values: Vec<String> = users
        .iter()
        .map(|(id, name)| format!("('{id}', '{name}@example.com', '{name}', 'Crowd Member')"))
        .collect();
    app.sql(&format!(
        "INSERT INTO users (id, email, username, full_name) VALUES {}",
        values.join(", ")
    ))
    .await;
    users
        .into_iter()
        .map(|(id, name)| {
            let email = format!("{name}@example.com");
            let (token, _) = app
                .state
                .tokens
                .issue(
                    &Subject {
                        user_id: id,
                        email: &email,
                        is_admin: false,
                        session: None,
                    },
                    Utc::now(),
                )
                .expect("token");
            TestUser {
                id: id.to_string(),
                email,
                username: name,
                token,
                refresh_token: String::new(),
            }
        })
        .collect()
}

#[tokio::test]
async fn two_hundred_concurrent_accepts_make_exactly_one_order() {
    let app = TestApp::spawn().await;
    let client = app.with_user().await;
    let id = post(&app, &client, immediate((40.7128, -74.006), 30), false).await;
    let mut watcher = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    watcher.init(None).await;
    watcher.subscribe("t", TASK_UPDATED, json!({ "id": id })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let freelancers = crowd(&app, 200).await;
    let answers =
        futures_util::future::join_all(freelancers.iter().map(|f| app.gql_as(f, ACCEPT, json!({ "id": id })))).await;
    let mut winners = Vec::new();
    for (answer, freelancer) in answers.iter().zip(&freelancers) {
        match answer.body.get("errors") {
            None => winners.push((freelancer.id.clone(), answer.data()["acceptTask"]["id"].clone())),
            Some(_) => assert_eq!(answer.code(), "CONFLICT", "{:#}", answer.body),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner");
    let (winner, order_id) = &winners[0];
    let orders = app
        .texts(&format!("SELECT id::text AS value FROM orders WHERE task_id = '{id}'"))
        .await;
    assert_eq!(orders, vec![order_id.as_str().unwrap().to_owned()], "exactly one order");
    let task = app
        .texts(&format!(
            "SELECT status || ' ' || assignee_id::text AS value FROM tasks WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(task, vec![format!("ASSIGNED {winner}")]);
    let taken = next_change(&mut watcher).await;
    assert_eq!(taken["fromStatus"], "OPEN");
    assert_eq!(taken["toStatus"], "ASSIGNED");
    let again = app.gql_as(&freelancers[0], ACCEPT, json!({ "id": id })).await;
    assert_eq!(again.code(), "CONFLICT");
}

#[tokio::test]
async fn accepting_is_for_signed_in_freelancers_on_open_immediate_tasks() {
    let app = TestApp::spawn().await;
    let (client, freelancer) = (app.with_user().await, app.with_user().await);
    let id = post(&app, &client, immediate((35.6762, 139.6503), 30), false).await;
    assert_eq!(app.gql(ACCEPT, json!({ "id": id })).await.code(), "UNAUTHORIZED");
    assert_eq!(
        app.gql_as(&client, ACCEPT, json!({ "id": id })).await.code(),
        "FORBIDDEN"
    );
    let unknown = app.gql_as(&freelancer, ACCEPT, json!({ "id": Uuid::now_v7() })).await;
    assert_eq!(unknown.code(), "NOT_FOUND");
    let draft = post(&app, &client, immediate((35.6762, 139.6503), 30), true).await;
    assert_eq!(
        app.gql_as(&freelancer, ACCEPT, json!({ "id": draft })).await.code(),
        "NOT_FOUND"
    );
    let mut standard = immediate((35.6762, 139.6503), 30);
    standard["mode"] = json!("STANDARD");
    standard["acceptanceDeadline"] = Value::Null;
    let standard = post(&app, &client, standard, false).await;
    assert_eq!(
        app.gql_as(&freelancer, ACCEPT, json!({ "id": standard })).await.code(),
        "CONFLICT"
    );
    let none = app.texts("SELECT count(*)::text AS value FROM orders").await;
    assert_eq!(none, vec!["0"]);
}

#[tokio::test]
async fn overdue_tasks_expire_once_and_tell_their_watchers() {
    let app = TestApp::spawn().await;
    let (client, freelancer) = (app.with_user().await, app.with_user().await);
    let id = post(&app, &client, immediate((-23.5505, -46.6333), 10), false).await;
    let mut watcher = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    watcher.init(Some(&freelancer.token)).await;
    watcher.subscribe("t", TASK_UPDATED, json!({ "id": id })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.sql(&format!(
        "UPDATE tasks SET acceptance_deadline = now() - interval '1 second' WHERE id = '{id}'"
    ))
    .await;
    // Past the deadline it can no longer be taken, even before the scheduler runs.
    assert_eq!(
        app.gql_as(&freelancer, ACCEPT, json!({ "id": id })).await.code(),
        "CONFLICT"
    );
    // Two instances' schedulers at once: each task is expired by exactly one.
    let (a, b) = tokio::join!(
        task::service::expire_overdue(&app.state),
        task::service::expire_overdue(&app.state)
    );
    assert!(
        a.unwrap() + b.unwrap() <= 1,
        "expired at most once here (the server's own scheduler may win)"
    );
    let update = next_change(&mut watcher).await;
    assert_eq!(update["toStatus"], "EXPIRED");
    let status = app
        .texts(&format!("SELECT status AS value FROM tasks WHERE id = '{id}'"))
        .await;
    assert_eq!(status, vec!["EXPIRED"]);
    let told = app
        .texts(&format!(
            "SELECT kind AS value FROM notifications WHERE user_id = '{}' AND data->>'status' = 'EXPIRED'",
            client.id
        ))
        .await;
    assert_eq!(told, vec!["SYSTEM"]);
    assert_eq!(task::service::expire_overdue(&app.state).await.unwrap(), 0);
}

#[tokio::test]
async fn a_cancelled_order_reopens_the_task_and_announces_it_again() {
    let app = TestApp::spawn().await;
    let (client, first, second) = (app.with_user().await, app.with_user().await, app.with_user().await);
    let spot = (59.3293, 18.0686);
    let id = post(&app, &client, immediate(spot, 30), false).await;
    let public = public_point(&id, spot);
    let mut ws = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&second.token)).await;
    ws.subscribe(
        "n",
        NEARBY_POSTED,
        json!({ "lat": public.0, "lng": public.1, "r": 3000.0 }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let order = app.gql_as(&first, ACCEPT, json!({ "id": id })).await;
    let order_id = order.data()["acceptTask"]["id"].clone();
    let cancel = "mutation($id: ID!) { cancelOrder(orderId: $id, reason: \"cannot make it\") { status } }";
    let cancelled = app.gql_as(&first, cancel, json!({ "id": order_id })).await;
    assert_eq!(cancelled.data()["cancelOrder"]["status"], "CANCELLED");
    let reopened = ws.next_data("n").await;
    assert_eq!(reopened["nearbyTaskPosted"]["task"]["id"], id.as_str());
    assert_eq!(reopened["nearbyTaskPosted"]["task"]["status"], "OPEN");
    let row = app
        .texts(&format!(
            "SELECT status || ' ' || coalesce(assignee_id::text, '-') AS value FROM tasks WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(row, vec!["OPEN -"]);
    // The second freelancer takes it now.
    let order = app.gql_as(&second, ACCEPT, json!({ "id": id })).await;
    assert_eq!(order.data()["acceptTask"]["freelancer"]["id"], second.id.as_str());
}

#[tokio::test]
async fn subscribers_within_the_radius_receive_new_tasks_on_every_instance() {
    let app = TestApp::builder().var("REDIS_URL", &redis_url()).spawn().await;
    let other = app.sibling().await;
    let other_ws = format!("{}/graphql/ws", other.base.replacen("http", "ws", 1));
    let client = app.with_user().await;
    let watcher = app.with_user().await;
    let spot = (-1.2921, 36.8219);
    // A draft first: its id fixes the public point the subscribers are placed around.
    let id = post(&app, &client, immediate(spot, 30), true).await;
    let public = public_point(&id, spot);
    let mut subscribers = Vec::new();
    for (url, bearing) in [(app.ws_url(), 0.0), (other_ws.clone(), 135.0)] {
        for metres in [1_000.0, 4_900.0, 5_100.0] {
            let at = destination(public, bearing + metres / 100.0, metres);
            let mut ws = WsClient::connect(&url, TRANSPORT_WS).await;
            ws.init(Some(&watcher.token)).await;
            ws.subscribe("n", NEARBY_POSTED, json!({ "lat": at.0, "lng": at.1, "r": 5000.0 }))
                .await;
            subscribers.push((metres, at, ws));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publish = "mutation($id: ID!) { publishTask(id: $id) { status } }";
    assert_eq!(
        app.gql_as(&client, publish, json!({ "id": id })).await.data()["publishTask"]["status"],
        "OPEN"
    );
    for (metres, at, ws) in &mut subscribers {
        if *metres < 5_000.0 {
            let got = ws.next_data("n").await;
            let posted = &got["nearbyTaskPosted"];
            assert_eq!(posted["task"]["id"], id.as_str());
            assert_eq!(posted["task"]["mode"], "IMMEDIATE");
            let distance = posted["distanceMeters"].as_f64().unwrap();
            assert!(
                (distance - haversine(*at, public)).abs() < 0.5,
                "{distance} vs {metres}"
            );
        } else {
            let extra = tokio::time::timeout(Duration::from_millis(700), ws.recv()).await;
            assert!(extra.is_err(), "the subscriber {metres} m away got {extra:?}");
        }
    }
}

#[tokio::test]
async fn offline_available_freelancers_in_range_are_notified() {
    let app = TestApp::spawn().await;
    let client = app.with_user().await;
    let spot = (41.3874, 2.1686);
    let id = post(&app, &client, immediate(spot, 30), true).await;
    let public = public_point(&id, spot);
    let place = "mutation($lat: Float!, $lng: Float!) { updateLocation(location: { lat: $lat, lng: $lng }) { id } }";
    let mut people = Vec::new();
    // (metres away, travel radius km, available, connected) → notified?
    for (metres, radius, available, online, expected) in [
        (2_000.0, None, true, false, true),
        (2_000.0, None, true, true, false),
        (2_000.0, None, false, false, false),
        (7_000.0, None, true, false, false),
        (7_000.0, Some(10), true, false, true),
        (30_000.0, Some(20), true, false, false),
    ] {
        let user = app.with_user().await;
        let at = destination(public, 90.0, metres);
        app.gql_as(&user, place, json!({ "lat": at.0, "lng": at.1 }))
            .await
            .data();
        app.sql(&format!(
            "UPDATE users SET is_available = {available}, travel_radius_km = {} WHERE id = '{}'",
            radius.map_or("NULL".into(), |r: i32| r.to_string()),
            user.id
        ))
        .await;
        let ws = if online {
            let mut ws = WsClient::connect(&app.ws_url(), TRANSPORT_WS).await;
            ws.init(Some(&user.token)).await;
            Some(ws)
        } else {
            None
        };
        people.push((user, expected, ws));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let publish = "mutation($id: ID!) { publishTask(id: $id) { status } }";
    app.gql_as(&client, publish, json!({ "id": id })).await.data();
    for (user, expected, _) in &people {
        let kinds = app
            .texts(&format!(
                "SELECT kind AS value FROM notifications WHERE user_id = '{}' AND data->>'taskId' = '{id}'",
                user.id
            ))
            .await;
        let want: Vec<String> = if *expected { vec!["TASK_NEARBY".into()] } else { vec![] };
        assert_eq!(kinds, want, "user {}", user.username);
    }
    let own = app
        .texts(&format!(
            "SELECT kind AS value FROM notifications WHERE user_id = '{}' AND kind = 'TASK_NEARBY'",
            client.id
        ))
        .await;
    assert!(own.is_empty(), "the poster is not told of their own task");
}

#[tokio::test]
async fn rows_from_before_public_points_get_them_at_start_up() {
    let app = TestApp::spawn().await;
    let (poster, freelancer) = (app.with_user().await, app.with_user().await);
    let id = Uuid::now_v7();
    app.sql(&format!(
        "INSERT INTO tasks (id, poster_id, title, description, category, budget_type, budget_min_cents, \
         budget_max_cents, duration, location_type, address, latitude, longitude, status, published_at) VALUES \
         ('{id}', '{}', 'Paint a garden fence', 'Twenty metres of wooden fence, paint provided by us.', 'garden', \
         'FIXED', 5000, 9000, 'LESS_THAN_A_WEEK', 'ONSITE', 'Fence Lane 3', 45.4642, 9.19, 'OPEN', now()); \
         UPDATE users SET latitude = 45.47, longitude = 9.2, geohash = NULL WHERE id = '{}'",
        poster.id, freelancer.id
    ))
    .await;
    let placed = task::service::backfill_public_points(&app.state)
        .await
        .expect("backfill");
    assert!(placed >= 2, "{placed}");
    let (lat, lng) = geocell::fuzz(id, 45.4642, 9.19);
    let hash = geocell::cell_of(lat, lng, geocell::POINT_PRECISION).unwrap();
    let row = app
        .texts(&format!(
            "SELECT public_latitude::text || ' ' || public_longitude::text || ' ' || geohash AS value FROM tasks WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(row, vec![format!("{lat:?} {lng:?} {hash}")]);
    let user = app
        .texts(&format!(
            "SELECT geohash AS value FROM users WHERE id = '{}'",
            freelancer.id
        ))
        .await;
    assert_eq!(
        user,
        vec![geocell::cell_of(45.47, 9.2, geocell::POINT_PRECISION).unwrap()]
    );
    assert_eq!(task::service::backfill_public_points(&app.state).await.unwrap(), 0);
    let found = app.gql(NEARBY, json!({ "lat": lat, "lng": lng, "r": 100.0 })).await;
    assert_eq!(
        found.data()["nearbyTasks"]["edges"][0]["node"]["task"]["id"],
        id.to_string()
    );
}

#[tokio::test]
async fn a_page_of_nearby_tasks_costs_the_same_statements_for_one_task_or_twenty() {
    let app = TestApp::spawn().await;
    let centre = (37.7749, -122.4194);
    let query = "query($lat: Float!, $lng: Float!) { nearbyTasks(lat: $lat, lng: $lng, first: 20) {
        edges { node { distanceMeters task { id title location { lat lng } poster { username headline skills } } } } } }";
    let mut costs = Vec::new();
    for n in [1usize, 20] {
        // A fresh set of posters each time: one per task.
        app.sql("DELETE FROM tasks").await;
        for i in 0..n {
            let poster = app.with_user().await;
            insert_located(
                &app,
                &poster.id,
                &[destination(centre, i as f64 * 17.0, 100.0 + i as f64 * 20.0)],
            )
            .await;
        }
        let before = app.statements();
        let page = app.gql(query, json!({ "lat": centre.0, "lng": centre.1 })).await;
        let returned = page.data()["nearbyTasks"]["edges"].as_array().unwrap().len();
        costs.push((returned, app.statements() - before));
    }
    assert_eq!(costs[0].0, 1);
    assert_eq!(costs[1].0, 20);
    assert_eq!(costs[0].1, costs[1].1, "statements for 1 vs 20 tasks: {costs:?}");
}
