//! The scheduler and `POST /internal/cron/cleanup`: the bearer, the report, the purges, and
//! one escrow released exactly once by two instances hammering the job.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use gigmarket::{
    order::model::OrderStatus,
    scheduler::{self, Outcome},
};
use serde_json::json;

use crate::{
    common::{redis_url, Gql, TestApp, TestUser},
    orders::{assert_books_balance, one, Market},
};

const SECRET: &str = "cron-test-secret-0123456789-abcdefghijklmnop";
const CLEANUP: &str = "/internal/cron/cleanup";

async fn cron_app() -> TestApp {
    TestApp::builder().var("CRON_SECRET", SECRET).spawn().await
}

/// Calls the route of the instance at `base`, with `authorization` when given.
async fn call(app: &TestApp, base: &str, authorization: Option<&str>) -> Gql {
    let mut request = app.client.post(format!("{base}{CLEANUP}"));
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    app.send(request).await
}

/// One row each that a purge deletes: a processed Stripe event 100 days old, an expired
/// refresh token of `user`, mail sent 40 days ago.
async fn stale_rows(app: &TestApp, user: &TestUser) {
    app.sql(&format!(
        "INSERT INTO stripe_events (id, event_type, livemode, created, received_at, processed_at, outcome) VALUES \
         ('evt_old', 'account.updated', false, now() - interval '100 days', now() - interval '100 days', \
          now() - interval '100 days', 'APPLIED'); \
         INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at) VALUES \
         (gen_random_uuid(), '{}', gen_random_uuid(), 'expired', now() - interval '1 hour'); \
         INSERT INTO mail_outbox (id, recipient, subject, body_text, sent_at, created_at) VALUES \
         (gen_random_uuid(), 'a@b.co', 's', 'b', now() - interval '40 days', now() - interval '40 days')",
        user.id
    ))
    .await;
}

/// How many of the stale rows are still there: events, tokens, mails.
async fn stale_left(app: &TestApp) -> String {
    one(
        app,
        "SELECT concat_ws(',', (SELECT count(*) FROM stripe_events WHERE id = 'evt_old'), \
         (SELECT count(*) FROM refresh_tokens WHERE token_hash = 'expired'), \
         (SELECT count(*) FROM mail_outbox WHERE sent_at < now() - interval '30 days')) AS value",
    )
    .await
}

#[tokio::test]
async fn without_the_bearer_the_route_is_401_and_runs_nothing() {
    let app = cron_app().await;
    let user = app.with_user().await;
    stale_rows(&app, &user).await;
    let longer = format!("Bearer {SECRET}x");
    let basic = format!("Basic {SECRET}");
    for authorization in [
        None,
        Some(basic.as_str()),
        Some(SECRET),
        Some("Bearer wrong"),
        Some(&longer),
    ] {
        let answer = call(&app, &app.base, authorization).await;
        assert_eq!(answer.status, 401, "{authorization:?}: {:#}", answer.body);
        assert_eq!(answer.body["error"]["code"], "UNAUTHORIZED");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
        assert!(answer.body.get("jobs").is_none());
    }
    assert_eq!(stale_left(&app).await, "1,1,1", "no job ran");

    // No body is expected: a large one is refused, even with the secret, before anything runs.
    let large = app
        .client
        .post(app.url(CLEANUP))
        .bearer_auth(SECRET)
        .body(vec![b'x'; 64 * 1024]);
    let answer = app.send(large).await;
    assert_eq!(answer.status, 413, "{:#}", answer.body);
    assert_eq!(answer.body["error"]["code"], "LIMIT_EXCEEDED");
    assert_eq!(stale_left(&app).await, "1,1,1");

    // A server without CRON_SECRET keeps the route closed to every caller.
    let closed = TestApp::spawn().await;
    for authorization in [None, Some("Bearer "), Some("Bearer anything")] {
        let answer = call(&closed, &closed.base, authorization).await;
        assert_eq!(answer.status, 401, "{authorization:?}");
        assert_eq!(answer.body["error"]["code"], "UNAUTHORIZED");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("CRON_SECRET is not set"), "{message}");
    }
}

#[tokio::test]
async fn with_the_bearer_every_job_runs_once_and_reports_what_it_did() {
    let app = cron_app().await;
    let user = app.with_user().await;
    stale_rows(&app, &user).await;
    let answer = call(&app, &app.base, Some(&format!("Bearer {SECRET}"))).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let jobs = answer.body["jobs"].as_object().expect("jobs");
    let names: BTreeSet<&str> = jobs.keys().map(String::as_str).collect();
    let registry: BTreeSet<&str> = scheduler::jobs::JOBS.iter().map(|job| job.name).collect();
    assert_eq!(names, registry);
    for (name, entry) in jobs {
        // The server's own loops may be running the frequent jobs at this moment: skipped.
        assert_eq!(entry["ok"], true, "{name}: {entry}");
    }
    assert_eq!(jobs["purgeStripeEvents"], json!({ "ok": true, "deleted": 1 }));
    assert_eq!(jobs["purgeRefreshTokens"], json!({ "ok": true, "deleted": 1 }));
    assert_eq!(jobs["purgeSentMail"], json!({ "ok": true, "deleted": 1 }));
    assert_eq!(
        jobs["releaseEscrow"],
        json!({ "ok": true, "released": 0, "transfersQueued": 0 })
    );
    assert!(answer.body["tookMs"].is_u64(), "{:#}", answer.body);
    assert_eq!(stale_left(&app).await, "0,0,0");

    // Again: nothing left to do.
    let again = call(&app, &app.base, Some(&format!("bearer {SECRET}"))).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["jobs"]["purgeStripeEvents"]["deleted"], 0);
}

#[tokio::test]
async fn the_purges_delete_only_expired_rows() {
    let m = Market::new().await;
    let (late, early) = (m.booking().await, m.booking().await);
    let user = &m.client.id;
    m.app
        .sql(&format!(
            "INSERT INTO order_codes (order_id, purpose, code_hash, expires_at) VALUES \
             ('{late}', 'START', 'gone', now() - interval '2 hours'), \
             ('{late}', 'END', 'just-expired', now() - interval '10 minutes'), \
             ('{early}', 'START', 'valid', now() + interval '10 minutes'); \
             INSERT INTO password_reset_tokens (id, user_id, token_hash, expires_at) VALUES \
             (gen_random_uuid(), '{user}', 'gone', now() - interval '2 days'), \
             (gen_random_uuid(), '{user}', 'just-expired', now() - interval '2 hours'), \
             (gen_random_uuid(), '{user}', 'valid', now() + interval '1 hour'); \
             INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, used_at, revoked_at) VALUES \
             (gen_random_uuid(), '{user}', gen_random_uuid(), 'gone-expired', now() - interval '1 minute', NULL, NULL), \
             (gen_random_uuid(), '{user}', gen_random_uuid(), 'gone-revoked', now() + interval '9 days', NULL, now() - interval '2 days'), \
             (gen_random_uuid(), '{user}', gen_random_uuid(), 'used', now() + interval '9 days', now() - interval '2 days', NULL), \
             (gen_random_uuid(), '{user}', gen_random_uuid(), 'just-revoked', now() + interval '9 days', NULL, now() - interval '1 hour'); \
             INSERT INTO stripe_events (id, event_type, livemode, created, received_at, processed_at, outcome) VALUES \
             ('evt_gone', 'account.updated', false, now() - interval '91 days', now() - interval '91 days', now() - interval '91 days', 'APPLIED'), \
             ('evt_recent', 'account.updated', false, now() - interval '10 days', now() - interval '10 days', now() - interval '10 days', 'IGNORED'), \
             ('evt_unprocessed', 'account.updated', false, now() - interval '91 days', now() - interval '91 days', NULL, NULL); \
             INSERT INTO idempotency_keys (user_id, key, request_hash, created_at) VALUES \
             ('{user}', 'gone', 'h', now() - interval '25 hours'), ('{user}', 'valid', 'h', now() - interval '23 hours'); \
             INSERT INTO mail_outbox (id, recipient, subject, body_text, sent_at, created_at) VALUES \
             (gen_random_uuid(), 'gone@b.co', 's', 'b', now() - interval '31 days', now() - interval '31 days'), \
             (gen_random_uuid(), 'recent@b.co', 's', 'b', now() - interval '29 days', now() - interval '29 days'), \
             (gen_random_uuid(), 'unsent@b.co', 's', 'b', NULL, now() - interval '40 days'); \
             INSERT INTO sign_in_failures (scope, subject, created_at) VALUES \
             ('account', 'gone', now() - interval '2 days'), ('account', 'recent', now() - interval '1 minute')"
        ))
        .await;

    let report = scheduler::run_all(&m.app.state).await;
    let deleted = |job: &str| match report.outcome(job) {
        Some(Outcome::Done(counts)) => counts.get("deleted"),
        other => panic!("{job}: {other:?}"),
    };
    for job in [
        "purgeOrderCodes",
        "purgeResetTokens",
        "purgeStripeEvents",
        "purgeIdempotencyKeys",
        "purgeSentMail",
        "purgeSignInFailures",
    ] {
        assert_eq!(deleted(job), Some(1), "{job}");
    }
    assert_eq!(deleted("purgeRefreshTokens"), Some(2), "expired and long revoked");

    let left = |sql: &'static str| m.app.texts(sql);
    assert_eq!(
        left("SELECT encode(code_hash, 'escape') AS value FROM order_codes ORDER BY 1").await,
        ["just-expired", "valid"]
    );
    assert_eq!(
        left("SELECT encode(token_hash, 'escape') AS value FROM password_reset_tokens ORDER BY 1").await,
        ["just-expired", "valid"]
    );
    let refresh = left("SELECT encode(token_hash, 'escape') AS value FROM refresh_tokens").await;
    assert!(
        refresh.contains(&"used".to_owned()) && refresh.contains(&"just-revoked".to_owned()),
        "{refresh:?}"
    );
    assert!(!refresh.iter().any(|t| t.starts_with("gone")), "{refresh:?}");
    assert_eq!(
        left("SELECT id AS value FROM stripe_events ORDER BY 1").await,
        ["evt_recent", "evt_unprocessed"]
    );
    assert_eq!(left("SELECT key AS value FROM idempotency_keys").await, ["valid"]);
    assert_eq!(
        left("SELECT recipient AS value FROM mail_outbox ORDER BY 1").await,
        ["recent@b.co", "unsent@b.co"]
    );
    assert_eq!(left("SELECT subject AS value FROM sign_in_failures").await, ["recent"]);
}

#[tokio::test]
async fn two_instances_hammering_the_release_move_one_escrow_exactly_once() {
    let app = TestApp::builder()
        .var("REDIS_URL", &redis_url())
        .var("CRON_SECRET", SECRET)
        .spawn()
        .await;
    let other = app.sibling().await;
    let m = Market::with(app).await;
    let due = m.drive(OrderStatus::Completed).await;
    let disputed = m.drive(OrderStatus::Completed).await;
    let recent = m.drive(OrderStatus::Completed).await;
    // The freelancer can be paid out; a chargeback opened a dispute on one order after
    // completion; two orders were approved more than the 24 h window ago, one just now.
    m.app
        .sql(&format!(
            "INSERT INTO payout_accounts (user_id, stripe_account_id, charges_enabled, payouts_enabled, details_submitted) \
             VALUES ('{}', 'acct_cron_1', true, true, true); \
             INSERT INTO disputes (id, order_id, opened_by, reason) \
             VALUES (gen_random_uuid(), '{disputed}', '{}', 'Chargeback after completion'); \
             UPDATE orders SET settled_at = now() - interval '25 hours' WHERE id IN ('{due}', '{disputed}')",
            m.freelancer.id, m.client.id
        ))
        .await;

    // Both instances' routes at once, with the job run directly and its work run without
    // the lock beside them.
    let bearer = format!("Bearer {SECRET}");
    let routes = (0..6)
        .flat_map(|_| [m.app.base.clone(), other.base.clone()])
        .map(|base| {
            let request = m
                .app
                .client
                .post(format!("{base}{CLEANUP}"))
                .header("authorization", &bearer);
            m.app.send(request)
        });
    let runs = (0..4).map(|_| scheduler::run_named(&m.app.state, "releaseEscrow"));
    let window = chrono::Duration::hours(24);
    let unlocked = (0..4).map(|_| gigmarket::order::service::clear_earnings(&m.app.state, window));
    let (answers, runs, unlocked) = tokio::join!(join_all(routes), join_all(runs), join_all(unlocked));

    let mut released = 0;
    for answer in &answers {
        assert_eq!(answer.status, 200, "{:#}", answer.body);
        let entry = &answer.body["jobs"]["releaseEscrow"];
        assert_eq!(entry["ok"], true, "{entry}");
        released += entry["released"].as_u64().unwrap_or(0) as usize;
    }
    let skipped = answers
        .iter()
        .filter(|a| a.body["jobs"]["releaseEscrow"]["skipped"] == true)
        .count();
    for run in runs {
        match run {
            Some(Outcome::Done(counts)) => released += counts.get("released").unwrap_or(0),
            Some(Outcome::Skipped) => {}
            other => panic!("{other:?}"),
        }
    }
    for cleared in unlocked {
        released += cleared.expect("clearing").orders;
    }
    // The servers' own schedulers may have been the ones to do it.
    assert!(released <= 1, "released {released} times");
    println!("{skipped} of {} route calls found the job running", answers.len());

    // One clearing, one payout, one queued transfer, all for the due order only.
    let kinds = m
        .app
        .texts(
            "SELECT t.kind || ':' || t.order_id AS value FROM ledger_transactions t \
             WHERE t.kind IN ('CLEAR', 'PAYOUT') ORDER BY t.kind",
        )
        .await;
    assert_eq!(kinds, [format!("CLEAR:{due}"), format!("PAYOUT:{due}")]);
    let calls = m
        .app
        .texts("SELECT concat_ws(':', kind, status, order_id, amount_cents, target, idempotency_key) AS value FROM provider_calls")
        .await;
    // $100.00 less the 8 % fee.
    assert_eq!(
        calls,
        [format!(
            "TRANSFER:PENDING:{due}:9200:acct_cron_1:gigmarket:release:{due}"
        )]
    );
    let cleared = m
        .app
        .texts("SELECT id::text AS value FROM orders WHERE cleared_at IS NOT NULL")
        .await;
    assert_eq!(
        cleared,
        [due.as_str()],
        "not {disputed} (disputed) nor {recent} (recent)"
    );
    assert_books_balance(&m.app).await;

    // Later runs find nothing more to do.
    let again = call(&m.app, &other.base, Some(&bearer)).await;
    assert_eq!(again.status, 200);
    let entry = &again.body["jobs"]["releaseEscrow"];
    assert!(entry["released"] == 0 || entry["skipped"] == true, "{entry}");
}

#[tokio::test]
async fn a_job_running_elsewhere_is_reported_skipped_and_left_alone() {
    use diesel_async::SimpleAsyncConnection;
    let app = cron_app().await;
    let user = app.with_user().await;
    stale_rows(&app, &user).await;
    // Another instance's run of purgeStripeEvents holds the job's lock.
    let mut elsewhere = app.state.db.conn().await.expect("connection");
    elsewhere
        .batch_execute("SELECT pg_advisory_lock(7264100, hashtext('purgeStripeEvents'))")
        .await
        .expect("lock");
    let bearer = format!("Bearer {SECRET}");
    let answer = call(&app, &app.base, Some(&bearer)).await;
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(
        answer.body["jobs"]["purgeStripeEvents"],
        json!({ "ok": true, "skipped": true })
    );
    assert_eq!(answer.body["jobs"]["purgeSentMail"]["deleted"], 1, "the others ran");
    assert_eq!(stale_left(&app).await, "1,0,0");

    elsewhere
        .batch_execute("SELECT pg_advisory_unlock(7264100, hashtext('purgeStripeEvents'))")
        .await
        .expect("unlock");
    let answer = call(&app, &app.base, Some(&bearer)).await;
    assert_eq!(
        answer.body["jobs"]["purgeStripeEvents"],
        json!({ "ok": true, "deleted": 1 })
    );
    assert_eq!(stale_left(&app).await, "0,0,0");
}
