//! `gigmarket seed`: demo accounts that work, created once.

use serde_json::json;

use gigmarket::progress::Unit;

use crate::common::{CapturedOutput, TestApp};

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

#[tokio::test]
async fn the_catalogue_seeds_a_browsable_marketplace_once() {
    let app = TestApp::spawn().await;
    let size = gigmarket::seed::CatalogueSize {
        users: 40,
        gigs: 200,
        tasks: 60,
    };
    assert!(gigmarket::seed::catalogue(&app.state, size).await.expect("seed"));
    assert!(
        !gigmarket::seed::catalogue(&app.state, size).await.expect("seed again"),
        "once"
    );
    let feed = app
        .gql(
            "{ gigs(first: 5) { totalCount edges { node { title owner { username } packages { tier } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(feed.data()["gigs"]["totalCount"], 180, "nine in ten gigs are active");
    assert!(feed.data()["gigs"]["edges"][0]["node"]["owner"]["username"]
        .as_str()
        .unwrap()
        .starts_with("cat_user_"));
    let tasks = app
        .gql("{ tasks(filter: { skills: [\"Rust\"] }) { totalCount } }", json!({}))
        .await;
    assert!(tasks.data()["tasks"]["totalCount"].as_i64().unwrap() > 0);
    let search = app
        .gql(
            "{ gigs(filter: { search: \"logo\" }, first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(search.data()["gigs"]["totalCount"].as_i64().unwrap() > 0);
    let signed_in = app
        .gql("mutation { signIn(input: { email: \"cat_user_7@catalogue.test\", password: \"password\" }) { user { username } } }", json!({}))
        .await;
    assert_eq!(signed_in.data()["signIn"]["user"]["username"], "cat_user_7");

    // One completed order per active gig, its money through the ledger, two public reviews.
    crate::orders::assert_books_balance(&app).await;
    let counts = app
        .texts(
            "SELECT concat_ws(',', (SELECT count(*) FROM orders WHERE status = 'COMPLETED' AND cleared_at IS NOT NULL), \
               (SELECT count(*) FROM reviews WHERE published_at IS NOT NULL), \
               (SELECT count(*) FROM ledger_transactions), \
               (SELECT sum(count) FROM user_ratings), \
               (SELECT sum(rating_count) FROM gigs), \
               (SELECT count(*) FROM gigs WHERE rating_count > 0 AND rating_average <> rating_sum::float8 / rating_count), \
               (SELECT balance_cents FROM ledger_accounts WHERE kind = 'PLATFORM_FEES')
                 = (SELECT sum((amount_cents * 800 + 5000) / 10000) FROM orders)) AS value",
        )
        .await;
    assert_eq!(counts, ["180,360,540,360,180,0,t"]);
    assert_seeded_figures_match_a_recomputation(&app).await;
    let feed = app
        .gql(
            "{ gigs(first: 20) { nodes { rating { average count } owner { rating { count average } reviews(first: 5) { nodes { rating comment } } } } } }",
            json!({}),
        )
        .await;
    let nodes = feed.data()["gigs"]["nodes"].as_array().unwrap().clone();
    assert!(nodes.iter().all(|n| n["rating"]["count"] == 1));
    assert!(nodes
        .iter()
        .all(|n| !n["owner"]["reviews"]["nodes"].as_array().unwrap().is_empty()
            && n["owner"]["rating"]["count"].as_i64().unwrap() > 0));
}

/// The balances and rating aggregates the catalogue writes set-based, against a
/// recomputation from the rows they summarise: each account's balance is the sum of its
/// entries and what the completed orders owe it, each transaction sums to zero, and each
/// user's and gig's rating aggregates are those of their public reviews.
async fn assert_seeded_figures_match_a_recomputation(app: &TestApp) {
    let mismatches = app
        .texts(
            "SELECT concat_ws(',', \
               (SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 \
                  HAVING sum(amount_cents) <> 0) x), \
               (SELECT count(*) FROM ledger_accounts a WHERE balance_cents <> \
                  COALESCE((SELECT sum(amount_cents) FROM ledger_entries e WHERE e.account_id = a.id), 0)), \
               (SELECT count(*) FROM ledger_accounts a WHERE a.kind = 'USER_AVAILABLE' AND balance_cents <> \
                  (SELECT COALESCE(sum(amount_cents - (amount_cents * 800 + 5000) / 10000), 0) FROM orders o \
                     WHERE o.freelancer_id = a.owner_id AND o.status = 'COMPLETED')), \
               (SELECT count(*) FROM ledger_accounts WHERE kind IN ('USER_PENDING', 'PLATFORM_ESCROW') AND balance_cents <> 0), \
               (SELECT balance_cents FROM ledger_accounts WHERE kind = 'EXTERNAL') + (SELECT sum(amount_cents) FROM orders), \
               (SELECT count(*) FROM user_ratings u FULL JOIN \
                  (SELECT reviewee_id, reviewee_role, count(*) AS n, sum(rating) AS rating, sum(quality) AS quality, \
                          sum(communication) AS communication, sum(timeliness) AS timeliness \
                     FROM reviews WHERE published_at IS NOT NULL GROUP BY 1, 2) r \
                    ON r.reviewee_id = u.user_id AND r.reviewee_role = u.role \
                  WHERE (u.count, u.rating_sum, u.quality_sum, u.communication_sum, u.timeliness_sum) \
                    IS DISTINCT FROM (r.n, r.rating, r.quality, r.communication, r.timeliness)), \
               (SELECT count(*) FROM gigs g LEFT JOIN \
                  (SELECT gig_id, count(*) AS n, sum(rating) AS total FROM reviews \
                     WHERE published_at IS NOT NULL AND gig_id IS NOT NULL GROUP BY 1) r ON r.gig_id = g.id \
                  WHERE (g.rating_count, g.rating_sum) <> (COALESCE(r.n, 0), COALESCE(r.total, 0)) \
                     OR (r.n > 0 AND g.rating_average <> r.total::float8 / r.n))) AS value",
        )
        .await;
    assert_eq!(
        mismatches,
        ["0,0,0,0,0,0,0"],
        "unbalanced transactions, balances other than their entries, available balances other than \
         the orders' earnings, non-empty pending/escrow, external other than minus the orders, \
         user ratings and gig ratings other than their reviews'"
    );
}

/// The seed writes the ledger with its row triggers off; it proves the books add up before
/// it commits. Here an account's balance disagrees with its entries before the seed starts:
/// the seed fails, writes nothing and leaves the triggers on.
#[tokio::test]
async fn the_catalogue_refuses_to_commit_books_that_do_not_add_up() {
    let app = TestApp::spawn().await;
    app.sql(
        "INSERT INTO ledger_accounts (id, owner_id, kind, currency, balance_cents) \
         VALUES (gen_random_uuid(), NULL, 'PLATFORM_FEES', 'USD', 5)",
    )
    .await;
    let size = gigmarket::seed::CatalogueSize {
        users: 10,
        gigs: 20,
        tasks: 5,
    };
    let error = gigmarket::seed::catalogue(&app.state, size)
        .await
        .expect_err("the books check fails");
    assert!(
        format!("{error:#}").contains("1 accounts whose balance is not the sum of their entries"),
        "{error:#}"
    );
    let left = app
        .texts(
            "SELECT concat_ws(',', (SELECT count(*) FROM users WHERE username LIKE 'cat\\_user\\_%'), \
               (SELECT count(*) FROM ledger_entries), \
               (SELECT string_agg(tgname::text || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_trigger \
                  WHERE tgrelid = 'ledger_entries'::regclass AND tgname IN ('ledger_entries_apply', 'ledger_entries_balanced'))) AS value",
        )
        .await;
    assert_eq!(left, ["0,0,ledger_entries_apply=O ledger_entries_balanced=O"]);
}

#[tokio::test]
async fn load_users_tops_up_an_earlier_seed() {
    let app = TestApp::spawn().await;
    assert_eq!(
        gigmarket::seed::load_users(&app.state, "top_", 5, "password")
            .await
            .expect("seed"),
        5
    );
    assert_eq!(
        gigmarket::seed::load_users(&app.state, "top_", 8, "password")
            .await
            .expect("top up"),
        3
    );
    assert_eq!(
        app.texts("SELECT username AS value FROM users WHERE username LIKE 'top\\_%'")
            .await
            .len(),
        8
    );
}

/// The default catalogue has 100,000 tasks; their posters are picked with `t * 104729`,
/// which leaves PostgreSQL's `integer` from task 20,506 on.
#[tokio::test]
async fn the_catalogue_seeds_more_tasks_than_integer_arithmetic_allows() {
    let app = TestApp::spawn().await;
    let size = gigmarket::seed::CatalogueSize {
        users: 3,
        gigs: 3,
        tasks: 20_600,
    };
    assert!(gigmarket::seed::catalogue(&app.state, size).await.expect("seed"));
    let tasks = app.texts("SELECT count(*)::text AS value FROM tasks").await;
    assert_eq!(tasks, ["20600"]);
}

/// `gigmarket seed --catalogue` reports every step, in order, as plain lines when stderr is
/// not a terminal, and its rows as they are written.
#[tokio::test]
async fn the_catalogue_reports_its_steps_as_plain_lines() {
    let app = TestApp::spawn().await;
    let output = CapturedOutput::default();
    let progress = output.progress("seed catalogue", Unit::Items("rows"));
    let size = gigmarket::seed::CatalogueSize {
        users: 30,
        gigs: 25_000,
        tasks: 10,
    };
    assert!(gigmarket::seed::catalogue_with_progress(&app.state, size, &progress)
        .await
        .expect("seed"));
    progress.finish("seeded");
    let text = output.text();
    let steps: Vec<&str> = text.lines().filter(|l| !l.contains(" rows (")).collect();
    assert_eq!(
        steps[..16],
        [
            "seed catalogue: word lists",
            "seed catalogue: user numbers",
            "seed catalogue: users",
            "seed catalogue: credentials",
            "seed catalogue: gig numbers",
            "seed catalogue: gigs",
            "seed catalogue: gig packages",
            "seed catalogue: order numbers",
            "seed catalogue: completed orders",
            "seed catalogue: ledger of the orders",
            "seed catalogue: reviews",
            "seed catalogue: balances",
            "seed catalogue: books check",
            "seed catalogue: rating aggregates",
            "seed catalogue: tasks",
            "seed catalogue: statistics",
        ]
    );
    assert!(steps[16].starts_with("seed catalogue: seeded ("), "{text}");
    assert_eq!(steps.len(), 17, "{text}");
    assert!(
        !text.contains('\x1b') && !text.contains('\r'),
        "no escape codes: {text:?}"
    );
    let gigs = app.texts("SELECT count(*)::text AS value FROM gigs").await;
    assert_eq!(gigs, ["25000"], "25,000 gigs in three chunks");
}
