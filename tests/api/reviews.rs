//! Reviews: two-sided and blind through the public API, the aggregates they move (user,
//! gig, freelancer ranking), the errors of every refusal, the window closing, replies, and
//! the feed's fixed statement count with the owners' newest reviews.

use serde_json::{json, Value};

use crate::{
    common::{TestApp, TestUser},
    orders::{one, Market},
};
use gigmarket::order::model::OrderStatus;

const CREATE: &str =
    "mutation($i: CreateReviewInput!) { createReview(input: $i) { id role rating isPublic publishedAt comment } }";
const REPLY: &str =
    "mutation($id: ID!, $r: String!) { replyToReview(reviewId: $id, reply: $r) { id reply repliedAt } }";
const USER_REVIEWS: &str = "query($u: ID!, $r: ReviewRole) { userReviews(userId: $u, role: $r) { totalCount nodes { id rating quality comment reply role reviewer { id } } } }";
const RATING: &str = "query($u: ID!) { user(id: $u) { rating { average count quality communication timeliness } asFreelancer: rating(role: AS_FREELANCER) { count average } asClient: rating(role: AS_CLIENT) { count average } } }";
const ORDER_REVIEWS: &str = "query($id: ID!) { order(id: $id) { gig { id rating { average count } } reviews { id rating isPublic reviewer { id } } } }";
const GIG_REVIEWS: &str = "query($g: ID!) { gigReviews(gigId: $g) { totalCount nodes { rating comment } } }";

fn review(order: &str, rating: i32, comment: &str) -> Value {
    json!({ "i": {
        "orderId": order, "rating": rating, "quality": rating, "communication": 5, "timeliness": 4, "comment": comment,
    } })
}

async fn user_reviews(app: &TestApp, user: &TestUser, role: Option<&str>) -> Value {
    app.gql(USER_REVIEWS, json!({ "u": user.id, "r": role })).await.data()["userReviews"].clone()
}

async fn rating(app: &TestApp, user: &TestUser) -> Value {
    app.gql(RATING, json!({ "u": user.id })).await.data()["user"].clone()
}

async fn order_view(app: &TestApp, viewer: &TestUser, order: &str) -> Value {
    app.gql_as(viewer, ORDER_REVIEWS, json!({ "id": order })).await.data()["order"].clone()
}

/// Rank of `user` in a freelancer search for `skill` (0 = first) and their score.
async fn rank(app: &TestApp, skill: &str, user: &TestUser) -> (usize, f64) {
    let r = app
        .gql(
            "query($s: [String!]) { freelancers(filter: { skills: $s }) { edges { score node { id } } } }",
            json!({ "s": [skill] }),
        )
        .await;
    let edges = r.data()["freelancers"]["edges"].as_array().unwrap().clone();
    let at = edges
        .iter()
        .position(|e| e["node"]["id"] == user.id.as_str())
        .expect("listed");
    (at, edges[at]["score"].as_f64().unwrap())
}

#[tokio::test]
async fn both_parties_review_and_the_reviews_become_public_together() {
    let m = Market::new().await;
    let app = &m.app;
    // A rival freelancer with the same profile, signed up later: ahead on ties (id order).
    let rival = app.with_user().await;
    app.sql(&format!(
        "UPDATE users SET skills = ARRAY['Jazz'] WHERE id IN ('{}', '{}')",
        m.freelancer.id, rival.id
    ))
    .await;
    assert_eq!(rank(app, "jazz", &rival).await.0, 0);
    let (_, score_before) = rank(app, "jazz", &m.freelancer).await;

    let order = m.drive(OrderStatus::Completed).await;
    let gig = order_view(app, &m.client, &order).await["gig"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The client reviews first: hidden from everyone but the client.
    let first = app
        .gql_as(
            &m.client,
            CREATE,
            review(&order, 5, "Wonderful set, call me at +1 555 123 4567"),
        )
        .await;
    let first = first.data()["createReview"].clone();
    assert_eq!(first["role"], "AS_FREELANCER");
    assert_eq!(first["isPublic"], false);
    assert!(
        !first["comment"].as_str().unwrap().contains("555"),
        "contact details masked: {first}"
    );
    assert_eq!(user_reviews(app, &m.freelancer, None).await["totalCount"], 0);
    assert_eq!(user_reviews(app, &m.freelancer, None).await["nodes"], json!([]));
    assert_eq!(rating(app, &m.freelancer).await["rating"]["count"], 0);
    assert_eq!(rating(app, &m.freelancer).await["rating"]["average"], Value::Null);
    let seen_by_client = order_view(app, &m.client, &order).await;
    assert_eq!(
        seen_by_client["reviews"].as_array().unwrap().len(),
        1,
        "the author sees their own"
    );
    assert_eq!(seen_by_client["gig"]["rating"]["count"], 0);
    let seen_by_freelancer = order_view(app, &m.freelancer, &order).await;
    assert_eq!(
        seen_by_freelancer["reviews"],
        json!([]),
        "blind: the other party does not"
    );
    assert_eq!(
        app.gql(GIG_REVIEWS, json!({ "g": gig })).await.data()["gigReviews"]["totalCount"],
        0
    );
    // Nobody can reply to a hidden review, not even the reviewee.
    let early = app
        .gql_as(&m.freelancer, REPLY, json!({ "id": first["id"], "r": "Thanks!" }))
        .await;
    assert_eq!(early.code(), "NOT_FOUND");
    let notes = "SELECT count(*)::text AS value FROM notifications WHERE kind = 'REVIEW_RECEIVED'";
    assert_eq!(one(app, notes).await, "0");

    // The freelancer reviews: both become public in that transaction.
    let second = app
        .gql_as(&m.freelancer, CREATE, review(&order, 4, "Clear brief, paid on time."))
        .await;
    let second = second.data()["createReview"].clone();
    assert_eq!(
        (second["isPublic"].clone(), second["role"].clone()),
        (json!(true), json!("AS_CLIENT"))
    );
    let both = order_view(app, &m.freelancer, &order).await;
    let reviews = both["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 2);
    assert!(reviews.iter().all(|r| r["isPublic"] == true));
    assert_eq!(
        one(
            app,
            "SELECT count(DISTINCT published_at)::text AS value FROM reviews WHERE published_at IS NOT NULL"
        )
        .await,
        "1",
        "published at the same instant"
    );
    assert_eq!(one(app, notes).await, "2", "each reviewee notified");

    let freelancer_reviews = user_reviews(app, &m.freelancer, Some("AS_FREELANCER")).await;
    assert_eq!(freelancer_reviews["totalCount"], 1);
    assert_eq!(freelancer_reviews["nodes"][0]["rating"], 5);
    assert_eq!(freelancer_reviews["nodes"][0]["reviewer"]["id"], m.client.id.as_str());
    assert_eq!(
        user_reviews(app, &m.freelancer, Some("AS_CLIENT")).await["totalCount"],
        0
    );
    assert_eq!(
        user_reviews(app, &m.client, Some("AS_CLIENT")).await["nodes"][0]["rating"],
        4
    );

    let f = rating(app, &m.freelancer).await;
    assert_eq!(
        f["rating"],
        json!({ "average": 5.0, "count": 1, "quality": 5.0, "communication": 5.0, "timeliness": 4.0 })
    );
    assert_eq!(f["asFreelancer"], json!({ "count": 1, "average": 5.0 }));
    assert_eq!(f["asClient"], json!({ "count": 0, "average": null }));
    assert_eq!(
        rating(app, &m.client).await["asClient"],
        json!({ "count": 1, "average": 4.0 })
    );
    assert_eq!(
        order_view(app, &m.client, &order).await["gig"]["rating"],
        json!({ "average": 5.0, "count": 1 })
    );
    let gig_reviews = app.gql(GIG_REVIEWS, json!({ "g": gig })).await;
    assert_eq!(gig_reviews.data()["gigReviews"]["totalCount"], 1);
    assert_eq!(gig_reviews.data()["gigReviews"]["nodes"][0]["rating"], 5);
    // `gigs(filter: {minRating})` reads the gig's aggregate.
    let min_rating = |r: f64| {
        app.gql(
            "query($r: Float) { gigs(filter: { minRating: $r }) { totalCount } }",
            json!({ "r": r }),
        )
    };
    assert_eq!(min_rating(4.5).await.data()["gigs"]["totalCount"], 1);
    assert_eq!(min_rating(5.0).await.data()["gigs"]["totalCount"], 1);

    // The ranking now puts the reviewed freelancer ahead of the rival.
    let (at, score_after) = rank(app, "jazz", &m.freelancer).await;
    assert_eq!(at, 0, "reviews lift the freelancer above an equal rival");
    let expected = gigmarket::profile::ranking::REVIEWS * gigmarket::profile::ranking::reviews_term(1, 5);
    assert!(
        (score_after - score_before - expected).abs() < 1e-9,
        "{score_before} -> {score_after}"
    );

    // The reviewee replies once.
    let reply = app
        .gql_as(
            &m.freelancer,
            REPLY,
            json!({ "id": first["id"], "r": "Thank you, it was a pleasure!" }),
        )
        .await;
    assert_eq!(reply.data()["replyToReview"]["reply"], "Thank you, it was a pleasure!");
    let again = app
        .gql_as(&m.freelancer, REPLY, json!({ "id": first["id"], "r": "Again" }))
        .await;
    assert_eq!(again.code(), "CONFLICT");
    let not_theirs = app
        .gql_as(&m.client, REPLY, json!({ "id": first["id"], "r": "Me too" }))
        .await;
    assert_eq!(not_theirs.code(), "FORBIDDEN");
    let empty = app
        .gql_as(&m.client, REPLY, json!({ "id": second["id"], "r": "  " }))
        .await;
    assert_eq!(empty.fields(), ["reply"]);
    assert_eq!(
        user_reviews(app, &m.freelancer, None).await["nodes"][0]["reply"],
        "Thank you, it was a pleasure!"
    );
}

#[tokio::test]
async fn refusals_carry_the_right_codes_and_change_nothing() {
    let m = Market::new().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::Completed).await;
    let count = "SELECT count(*)::text AS value FROM reviews";

    let stranger = app.gql_as(&m.stranger, CREATE, review(&order, 5, "")).await;
    assert_eq!(
        stranger.code(),
        "NOT_FOUND",
        "a third user: the order is not theirs to see"
    );
    let admin = app.gql_as(&m.admin, CREATE, review(&order, 5, "")).await;
    assert_eq!(admin.code(), "FORBIDDEN", "an admin sees the order but is no party");
    let anonymous = app.gql(CREATE, review(&order, 5, "")).await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");

    let in_progress = m.drive(OrderStatus::InProgress).await;
    let early = app.gql_as(&m.client, CREATE, review(&in_progress, 5, "")).await;
    assert_eq!(early.code(), "CONFLICT", "not completed yet");
    let cancelled = m.drive(OrderStatus::Cancelled).await;
    assert_eq!(
        app.gql_as(&m.client, CREATE, review(&cancelled, 1, "")).await.code(),
        "CONFLICT"
    );

    let mut bad = review(&order, 0, &"x".repeat(2001));
    bad["i"]["quality"] = json!(6);
    bad["i"]["timeliness"] = json!(-1);
    let invalid = app.gql_as(&m.client, CREATE, bad).await;
    assert_eq!(invalid.code(), "VALIDATION_ERROR");
    let mut fields = invalid.fields();
    fields.sort();
    assert_eq!(fields, ["comment", "quality", "rating", "timeliness"]);
    let mut not_an_id = review(&order, 5, "");
    not_an_id["i"]["orderId"] = json!("nope");
    assert_eq!(app.gql_as(&m.client, CREATE, not_an_id).await.fields(), ["orderId"]);
    assert_eq!(one(app, count).await, "0");

    app.gql_as(&m.client, CREATE, review(&order, 5, "Great")).await.data();
    let twice = app.gql_as(&m.client, CREATE, review(&order, 4, "Again")).await;
    assert_eq!(twice.code(), "CONFLICT", "one review per party per order");
    assert_eq!(one(app, count).await, "1");
}

#[tokio::test]
async fn the_window_closing_publishes_a_lone_review() {
    let m = Market::new().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::Completed).await;
    let lone = app.gql_as(&m.client, CREATE, review(&order, 3, "Good enough")).await;
    let lone = lone.data()["createReview"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        gigmarket::review::service::publish_due(&app.state).await.unwrap(),
        0,
        "window still open"
    );
    assert_eq!(user_reviews(app, &m.freelancer, None).await["totalCount"], 0);

    // The window closes (backdated completion and review window).
    app.sql(&format!(
        "UPDATE orders SET settled_at = now() - interval '15 days' WHERE id = '{order}'; \
         UPDATE reviews SET window_closes_at = now() - interval '1 day' WHERE id = '{lone}'"
    ))
    .await;
    let late = app.gql_as(&m.freelancer, CREATE, review(&order, 5, "Too late")).await;
    assert_eq!(late.code(), "CONFLICT", "the window has closed");

    assert_eq!(gigmarket::review::service::publish_due(&app.state).await.unwrap(), 1);
    assert_eq!(
        gigmarket::review::service::publish_due(&app.state).await.unwrap(),
        0,
        "once"
    );
    let public = user_reviews(app, &m.freelancer, None).await;
    assert_eq!(public["totalCount"], 1);
    assert_eq!(public["nodes"][0]["id"], lone.as_str());
    assert_eq!(rating(app, &m.freelancer).await["rating"]["average"], 3.0);
    assert_eq!(
        order_view(app, &m.client, &order).await["gig"]["rating"],
        json!({ "average": 3.0, "count": 1 })
    );
    assert_eq!(
        one(
            app,
            &format!(
                "SELECT count(*)::text AS value FROM notifications WHERE kind = 'REVIEW_RECEIVED' AND user_id = '{}'",
                m.freelancer.id
            )
        )
        .await,
        "1"
    );
}

#[tokio::test]
async fn a_party_who_has_not_reviewed_is_reminded_once_while_the_window_is_open() {
    let m = Market::new().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::Completed).await;
    app.gql_as(&m.client, CREATE, review(&order, 4, "Lovely evening"))
        .await
        .data();
    let reminders = |user: &TestUser| {
        let sql = format!(
            "SELECT body AS value FROM notifications WHERE kind = 'REVIEW_REMINDER' AND user_id = '{}'",
            user.id
        );
        async move { app.texts(&sql).await }
    };
    let remind = || gigmarket::review::service::remind_due(&app.state);
    assert_eq!(remind().await.unwrap(), 0, "too soon after completion");

    // Four days after completion (of a 14-day window), with a second order whose window has
    // closed: two instances run the job at once.
    let stale = m.drive(OrderStatus::Completed).await;
    app.sql(&format!(
        "UPDATE orders SET settled_at = now() - interval '4 days', updated_at = now() - interval '4 days' WHERE id = '{order}'; \
         UPDATE orders SET settled_at = now() - interval '20 days', updated_at = now() - interval '20 days' WHERE id = '{stale}'"
    ))
    .await;
    let (a, b) = tokio::join!(remind(), remind());
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "one reminder: the freelancer, who has not reviewed"
    );
    let to_freelancer = reminders(&m.freelancer).await;
    assert_eq!(to_freelancer.len(), 1);
    assert!(
        to_freelancer[0].starts_with("Review the client by "),
        "{}",
        to_freelancer[0]
    );
    assert!(reminders(&m.client).await.is_empty(), "the client already reviewed");
    assert_eq!(remind().await.unwrap(), 0, "once");
    assert_eq!(
        one(
            app,
            &format!("SELECT (review_reminded_at IS NOT NULL)::text AS value FROM orders WHERE id = '{stale}'")
        )
        .await,
        "true",
        "a closed window is passed over, not reminded"
    );
}

/// `n` active gigs of `n` distinct owners, each owner with `per_owner` public reviews of
/// completed orders (set up in SQL: only the reads are measured).
async fn owners_with_reviews(app: &TestApp, n: usize, per_owner: usize) {
    let client = app.with_user().await;
    app.sql(&format!(
        "CREATE TEMP TABLE o AS SELECT i, gen_random_uuid() AS id, gen_random_uuid() AS gig FROM generate_series(1, {n}) i;
         INSERT INTO users (id, email, username, full_name)
             SELECT id, 'owner_' || left(md5(id::text), 12) || '@example.com', 'owner_' || left(md5(id::text), 12), 'Owner ' || i FROM o;
         INSERT INTO gigs (id, owner_id, title, description, category, tags, status, min_price_cents, min_delivery_days, published_at)
             SELECT gig, id, 'Gig number ' || i, 'A gig of owner ' || i || ' for the statement count.', 'misc', '{{}}', 'ACTIVE', 1000, 3, now() FROM o;
         INSERT INTO gig_packages (gig_id, tier, title, description, price_cents, delivery_days, revisions)
             SELECT gig, 'BASIC', 'Basic', '', 1000, 3, 1 FROM o;
         CREATE TEMP TABLE r AS SELECT o.id AS owner, o.gig, k, gen_random_uuid() AS order_id FROM o, generate_series(1, {per_owner}) k;
         INSERT INTO orders (id, client_id, freelancer_id, origin, gig_id, title, amount_cents, currency, status, revision_limit)
             SELECT order_id, '{client}', owner, 'GIG', gig, 'Order ' || k, 1000, 'USD', 'COMPLETED', 1 FROM r;
         INSERT INTO reviews (id, order_id, gig_id, reviewer_id, reviewee_id, reviewee_role, rating, quality, communication,
                              timeliness, comment, window_closes_at, published_at)
             SELECT gen_random_uuid(), order_id, gig, '{client}', owner, 'FREELANCER', 1 + k % 5, 4, 4, 4,
                    'Review ' || k, now(), now() - k * interval '1 hour' FROM r;
         DROP TABLE r; DROP TABLE o;",
        client = client.id
    ))
    .await;
}

#[tokio::test]
async fn the_feed_with_owners_reviews_runs_the_same_statements_for_1_20_and_100_gigs() {
    let app = TestApp::spawn().await;
    // Within the complexity budget (1000) at 100 gigs: each owner's reviews multiply a node's
    // cost, so the 100-gig page asks for two reviews per owner; the feed below asks for five.
    let query =
        "query($n: Int!) { gigs(first: $n) { nodes { id owner { reviews(first: 2) { nodes { rating comment } } } } } }";
    let feed = "{ gigs(first: 20) { nodes { id title owner { id username reviews(first: 5) { nodes { rating comment } } } packages { tier priceCents } } } }";
    let mut costs = Vec::new();
    let mut made = 0;
    for target in [1usize, 20, 100] {
        owners_with_reviews(&app, target - made, 6).await;
        made = target;
        let before = app.statements();
        let response = app.gql(query, json!({ "n": target })).await;
        let nodes = response.data()["gigs"]["nodes"].as_array().unwrap().clone();
        let cost = app.statements() - before;
        assert_eq!(nodes.len(), target);
        for node in &nodes {
            let reviews = node["owner"]["reviews"]["nodes"].as_array().unwrap();
            assert_eq!(reviews.len(), 2, "each owner's two newest: {node}");
            assert_eq!(reviews[0]["comment"], "Review 1", "newest first");
        }
        costs.push((target, cost));
    }
    assert!(
        costs.iter().all(|(_, c)| *c == costs[0].1),
        "statements for 1, 20, 100 gigs: {costs:?}"
    );
    assert!(
        costs[0].1 <= 2,
        "the page (with owners) and one statement for all owners' reviews: {costs:?}"
    );

    // The load generator's feed: 20 gigs, owners, packages and each owner's five newest reviews.
    let before = app.statements();
    let response = app.gql(feed, json!({})).await;
    let cost = app.statements() - before;
    let nodes = response.data()["gigs"]["nodes"].as_array().unwrap().clone();
    assert_eq!(nodes.len(), 20);
    assert!(nodes
        .iter()
        .all(|n| n["owner"]["reviews"]["nodes"].as_array().unwrap().len() == 5));
    assert!(cost <= 3, "page, packages, reviews: {cost}");
}

const REMOVE: &str =
    "mutation($id: ID!, $why: String!) { removeReview(reviewId: $id, reason: $why) { id rating { count average } } }";

#[tokio::test]
async fn an_admin_removes_a_review_and_a_suspension_can_remove_all_of_a_members() {
    let m = Market::new().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::Completed).await;
    let by_client = app.gql_as(&m.client, CREATE, review(&order, 2, "Rude and late")).await;
    let by_client = by_client.data()["createReview"]["id"].as_str().unwrap().to_owned();
    let by_freelancer = app
        .gql_as(&m.freelancer, CREATE, review(&order, 5, "Great client"))
        .await;
    let by_freelancer = by_freelancer.data()["createReview"]["id"].as_str().unwrap().to_owned();
    assert_eq!(rating(app, &m.freelancer).await["rating"]["count"], 1);
    let gig = order_view(app, &m.client, &order).await["gig"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Bad input and strangers change nothing.
    let r = app
        .gql_as(&m.admin, REMOVE, json!({ "id": by_client, "why": " " }))
        .await;
    assert_eq!(r.fields(), ["reason"]);
    let r = app
        .gql_as(&m.client, REMOVE, json!({ "id": by_client, "why": "Mine" }))
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
    assert_eq!(rating(app, &m.freelancer).await["rating"]["count"], 1);

    // The admin removes the client's review of the freelancer: out of every list and
    // aggregate at once, the author told why, the audit log keeps it as it was.
    let removed = app
        .gql_as(
            &m.admin,
            REMOVE,
            json!({ "id": by_client, "why": "Harassment of the seller" }),
        )
        .await;
    let reviewee = &removed.data()["removeReview"];
    assert_eq!(reviewee["id"], m.freelancer.id.as_str());
    assert_eq!(reviewee["rating"], json!({ "count": 0, "average": null }));
    assert_eq!(user_reviews(app, &m.freelancer, None).await["totalCount"], 0);
    assert_eq!(
        app.gql(GIG_REVIEWS, json!({ "g": gig })).await.data()["gigReviews"]["totalCount"],
        0
    );
    assert_eq!(
        order_view(app, &m.client, &order).await["gig"]["rating"],
        json!({ "average": null, "count": 0 })
    );
    for viewer in [&m.client, &m.freelancer] {
        let ids: Vec<Value> = order_view(app, viewer, &order).await["reviews"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, [json!(by_freelancer)], "the removed review is gone for everyone");
    }
    let told = one(
        app,
        &format!(
            "SELECT count(*)::text AS value FROM notifications WHERE user_id = '{}' AND kind = 'SYSTEM' \
             AND data->>'reviewId' = '{by_client}' AND body LIKE '%Harassment of the seller%'",
            m.client.id
        ),
    )
    .await;
    assert_eq!(told, "1");
    let audit = one(
        app,
        &format!(
            "SELECT (actor_id::text || '|' || action || '|' || reason || '|' || (data->'before'->>'rating')) AS value \
             FROM audit_log WHERE target_id = '{by_client}'"
        ),
    )
    .await;
    assert_eq!(
        audit,
        format!("{}|REMOVE_REVIEW|Harassment of the seller|2", m.admin.id)
    );
    // Once only; the reviewee cannot reply to it any more.
    let again = app
        .gql_as(&m.admin, REMOVE, json!({ "id": by_client, "why": "Twice" }))
        .await;
    assert_eq!(again.code(), "CONFLICT");
    let reply = app
        .gql_as(&m.freelancer, REPLY, json!({ "id": by_client, "r": "Unfair" }))
        .await;
    assert_eq!(reply.code(), "NOT_FOUND");

    // Suspending the freelancer with removeReviews removes their review of the client too.
    assert_eq!(rating(app, &m.client).await["rating"]["count"], 1);
    let ban = app
        .gql_as(
            &m.admin,
            "mutation($u: ID!) { banUser(userId: $u, reason: \"Fraud ring\", removeReviews: true) { id } }",
            json!({ "u": m.freelancer.id }),
        )
        .await;
    ban.data();
    assert_eq!(
        rating(app, &m.client).await["rating"],
        json!({
            "average": null, "count": 0, "quality": null, "communication": null, "timeliness": null,
        })
    );
    assert_eq!(user_reviews(app, &m.client, None).await["totalCount"], 0);
    let removed = one(
        app,
        &format!(
            "SELECT (removed_by::text || '|' || removal_reason) AS value FROM reviews WHERE id = '{by_freelancer}'"
        ),
    )
    .await;
    assert_eq!(removed, format!("{}|Fraud ring", m.admin.id));
    // The books of the aggregates still match the public reviews exactly.
    let drift = one(
        app,
        "SELECT count(*)::text AS value FROM user_ratings u WHERE u.count <> \
         (SELECT count(*) FROM reviews r WHERE r.reviewee_id = u.user_id AND r.reviewee_role = u.role AND r.published_at IS NOT NULL) \
         OR u.rating_sum <> (SELECT coalesce(sum(rating), 0) FROM reviews r WHERE r.reviewee_id = u.user_id \
         AND r.reviewee_role = u.role AND r.published_at IS NOT NULL)",
    )
    .await;
    assert_eq!(drift, "0");
}

#[tokio::test]
async fn a_removed_hidden_review_is_never_published() {
    let m = Market::new().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::Completed).await;
    let hidden = app.gql_as(&m.client, CREATE, review(&order, 1, "Spam spam spam")).await;
    let hidden = hidden.data()["createReview"]["id"].as_str().unwrap().to_owned();
    app.gql_as(&m.admin, REMOVE, json!({ "id": hidden, "why": "Spam" }))
        .await
        .data();
    // The other party's review still publishes (on its own), the removed one never: neither
    // when the second review arrives nor when the window closes.
    let second = app.gql_as(&m.freelancer, CREATE, review(&order, 4, "Fine")).await;
    assert_eq!(second.data()["createReview"]["isPublic"], true);
    app.sql(&format!(
        "UPDATE reviews SET window_closes_at = now() - interval '1 day' WHERE id = '{hidden}'"
    ))
    .await;
    assert_eq!(gigmarket::review::service::publish_due(&app.state).await.unwrap(), 0);
    assert_eq!(user_reviews(app, &m.freelancer, None).await["totalCount"], 0);
    assert_eq!(rating(app, &m.freelancer).await["rating"]["count"], 0);
    assert_eq!(user_reviews(app, &m.client, None).await["totalCount"], 1);
}
