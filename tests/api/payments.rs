//! Stripe: payout onboarding against a local mock of the Stripe API, and the webhook route
//! with deliveries signed by async-stripe's test header generator here and by the official
//! `stripe` npm package in `tests/stripe/webhooks.mjs`.

use std::{path::PathBuf, time::Duration};

use gigmarket::payment::provider::{payout_account_key, STRIPE_API_VERSION, USER_METADATA_KEY};
use reqwest::StatusCode;
use serde_json::{json, Value};
use stripe_webhook::Webhook;

use crate::{
    common::{TestApp, TestAppBuilder, TestUser},
    node,
    stripe_mock::MockStripe,
};

pub(crate) const SECRET_KEY: &str = "sk_test_gigmarket_mock";
/// The endpoint's current signing secret, and the previous one still accepted while rolling.
pub(crate) const WEBHOOK_SECRET: &str = "whsec_gigmarket_current";
const PREVIOUS_WEBHOOK_SECRET: &str = "whsec_gigmarket_previous";

const ONBOARD: &str = "mutation { startPayoutOnboarding { url expiresAt account { stripeAccountId chargesEnabled payoutsEnabled detailsSubmitted stateAsOf } } }";
const MY_ACCOUNT: &str =
    "{ myPayoutAccount { stripeAccountId chargesEnabled payoutsEnabled detailsSubmitted stateAsOf } }";

/// A server with Stripe pointed at `mock`, to spawn.
pub(crate) fn with_stripe(mock: &MockStripe) -> TestAppBuilder {
    TestApp::builder()
        .var("STRIPE_SECRET_KEY", SECRET_KEY)
        .var(
            "STRIPE_WEBHOOK_SECRET",
            &format!("{WEBHOOK_SECRET},{PREVIOUS_WEBHOOK_SECRET}"),
        )
        .var("STRIPE_API_BASE", &mock.base)
}

/// The server with Stripe pointed at `mock`.
pub(crate) async fn app_with_stripe(mock: &MockStripe) -> TestApp {
    with_stripe(mock).spawn().await
}

/// A Stripe `account.updated` event (the documented event envelope around an account).
pub(crate) fn account_updated(
    event_id: &str,
    account_id: &str,
    created: i64,
    payouts: bool,
    metadata: Value,
) -> String {
    json!({
        "id": event_id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": {
            "object": {
                "id": account_id,
                "object": "account",
                "business_type": "individual",
                "capabilities": { "transfers": if payouts { "active" } else { "inactive" } },
                "charges_enabled": payouts,
                "country": "US",
                "created": created - 3600,
                "default_currency": "usd",
                "details_submitted": true,
                "email": "freelancer@example.com",
                "metadata": metadata,
                "payouts_enabled": payouts,
                "type": "express"
            },
            "previous_attributes": { "payouts_enabled": !payouts }
        },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "account.updated"
    })
    .to_string()
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn signed(payload: &str, secret: &str) -> String {
    Webhook::generate_test_header(payload, secret, None)
}

/// Runs the check script `script` of `tests/stripe` (deliveries signed by the official
/// `stripe` package) against `app`, with `BASE_URL`, `WEBHOOK_SECRET`, `STRIPE_API_VERSION`
/// and `vars`; answers how many checks passed (all must).
pub(crate) async fn run_stripe_script(app: &TestApp, script: &str, vars: &[(&str, &str)]) -> usize {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stripe");
    node::ensure_installed(&dir).await;
    let mut env = vec![
        ("BASE_URL", app.base.as_str()),
        ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_VERSION", STRIPE_API_VERSION),
    ];
    env.extend_from_slice(vars);
    node::run_checks(&dir, script, &env, Duration::from_secs(60)).await
}

/// POSTs a delivery; answers the status and the JSON body.
pub(crate) async fn deliver(app: &TestApp, payload: &str, signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .body(payload.to_owned());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.send().await.expect("webhook request");
    let status = response.status();
    let text = response.text().await.expect("webhook body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn one_text(app: &TestApp, sql: &str) -> String {
    let rows = app.texts(sql).await;
    assert_eq!(rows.len(), 1, "{sql} gave {rows:?}");
    rows.into_iter().next().expect("one row")
}

pub(crate) async fn events_recorded(app: &TestApp) -> Vec<String> {
    app.texts("SELECT id || ' ' || event_type || ' ' || coalesce(outcome, '-') AS value FROM stripe_events ORDER BY received_at, id")
        .await
}

pub(crate) async fn payment_notifications(app: &TestApp, user: &TestUser) -> Vec<String> {
    app.texts(&format!(
        "SELECT title AS value FROM notifications WHERE user_id = '{}' AND kind = 'PAYMENT' ORDER BY created_at, id",
        user.id
    ))
    .await
}

/// Onboards `user`; answers their Stripe account id.
pub(crate) async fn onboard(app: &TestApp, user: &TestUser) -> String {
    let response = app.gql_as(user, ONBOARD, json!({})).await;
    response.data()["startPayoutOnboarding"]["account"]["stripeAccountId"]
        .as_str()
        .expect("account id")
        .to_owned()
}

#[tokio::test]
async fn without_stripe_keys_stripe_operations_answer_provider_not_configured() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;

    let response = app.gql_as(&user, ONBOARD, json!({})).await;
    assert_eq!(response.code(), "PROVIDER_NOT_CONFIGURED", "{:#}", response.body);
    let account = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(account.data()["myPayoutAccount"], Value::Null);

    let payload = account_updated("evt_unconfigured", "acct_x", now(), true, json!({}));
    let (status, body) = deliver(&app, &payload, Some(&signed(&payload, WEBHOOK_SECRET))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "PROVIDER_NOT_CONFIGURED");
    assert!(events_recorded(&app).await.is_empty());

    let anonymous = app.gql(ONBOARD, json!({})).await;
    assert_eq!(anonymous.code(), "UNAUTHORIZED");
}

#[tokio::test]
async fn payout_onboarding_creates_one_connected_account_however_often_it_is_asked() {
    let mock = MockStripe::start().await;
    let app = app_with_stripe(&mock).await;
    let user = app.with_user().await;

    let first = app.gql_as(&user, ONBOARD, json!({})).await;
    let first = &first.data()["startPayoutOnboarding"];
    let account_id = first["account"]["stripeAccountId"]
        .as_str()
        .expect("account id")
        .to_owned();
    assert!(account_id.starts_with("acct_"));
    assert!(first["url"]
        .as_str()
        .expect("url")
        .starts_with(&format!("https://connect.stripe.com/setup/e/{account_id}/")));
    assert_eq!(first["account"]["payoutsEnabled"], false);
    assert_eq!(first["account"]["stateAsOf"], Value::Null);

    // Again, and twice at once: one account, a fresh link each time.
    let again = app.gql_as(&user, ONBOARD, json!({})).await;
    let (a, b) = tokio::join!(
        app.gql_as(&user, ONBOARD, json!({})),
        app.gql_as(&user, ONBOARD, json!({}))
    );
    for response in [&again, &a, &b] {
        assert_eq!(
            response.data()["startPayoutOnboarding"]["account"]["stripeAccountId"],
            account_id.as_str()
        );
    }
    assert_eq!(mock.accounts_created(), 1);
    let creates = mock.requests_to("/v1/accounts");
    assert!(!creates.is_empty());
    let key = payout_account_key(user.id.parse().expect("uuid"));
    for create in &creates {
        assert_eq!(
            create.idempotency_key.as_deref(),
            Some(key.as_str()),
            "every create carries the user's key"
        );
        assert_eq!(create.field("type"), Some("express"));
        assert_eq!(
            create.field(&format!("metadata[{USER_METADATA_KEY}]")),
            Some(user.id.as_str())
        );
        assert_eq!(create.field("capabilities[transfers][requested]"), Some("true"));
        assert_eq!(create.field("email"), Some(user.email.as_str()));
        assert_eq!(create.stripe_version.as_deref(), Some(STRIPE_API_VERSION));
        assert_eq!(
            create.authorization.as_deref(),
            Some(format!("Bearer {SECRET_KEY}").as_str())
        );
    }
    let links = mock.requests_to("/v1/account_links");
    assert_eq!(links.len(), 4, "one link per call");
    for link in &links {
        assert_eq!(link.field("account"), Some(account_id.as_str()));
        assert_eq!(link.field("type"), Some("account_onboarding"));
        assert_eq!(
            link.field("return_url"),
            Some(app.url("/payouts/onboarding/return").as_str())
        );
        assert_eq!(
            link.field("refresh_url"),
            Some(app.url("/payouts/onboarding/refresh").as_str())
        );
    }

    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(mine.data()["myPayoutAccount"]["stripeAccountId"], account_id.as_str());
    let rows = app
        .texts("SELECT stripe_account_id AS value FROM payout_accounts")
        .await;
    assert_eq!(rows, [account_id]);
}

#[tokio::test]
async fn a_stripe_failure_answers_provider_error_and_the_retry_reuses_the_key() {
    let mock = MockStripe::start().await;
    let app = app_with_stripe(&mock).await;
    let user = app.with_user().await;

    mock.fail_next(500);
    let failed = app.gql_as(&user, ONBOARD, json!({})).await;
    assert_eq!(failed.code(), "PROVIDER_ERROR", "{:#}", failed.body);
    assert!(
        !failed.body.to_string().contains("mock"),
        "Stripe's detail stays in the log"
    );
    assert!(app
        .texts("SELECT user_id::text AS value FROM payout_accounts")
        .await
        .is_empty());

    onboard(&app, &user).await;
    let creates = mock.requests_to("/v1/accounts");
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0].idempotency_key, creates[1].idempotency_key);
    assert_eq!(mock.accounts_created(), 1);
}

#[tokio::test]
async fn refused_deliveries_answer_400_and_record_nothing() {
    let mock = MockStripe::start().await;
    let app = app_with_stripe(&mock).await;
    let user = app.with_user().await;
    let account = onboard(&app, &user).await;
    let payload = account_updated("evt_refused", &account, now(), true, json!({}));

    let wrong_secret = signed(&payload, "whsec_someone_else");
    let stale = Webhook::generate_test_header(&payload, WEBHOOK_SECRET, Some(now() - 301));
    let good = signed(&payload, WEBHOOK_SECRET);
    let truncated = &payload[..payload.len() / 2];
    for (name, body, signature) in [
        ("wrong secret", payload.as_str(), Some(wrong_secret.as_str())),
        ("timestamp 301 s old", payload.as_str(), Some(stale.as_str())),
        ("truncated body", truncated, Some(good.as_str())),
        ("missing header", payload.as_str(), None),
        ("malformed header", payload.as_str(), Some("v1=,t=")),
    ] {
        let (status, body) = deliver(&app, body, signature).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{name}");
    }
    // Larger than the bound: refused before it is read.
    let huge = format!("{{\"padding\":\"{}\"}}", "x".repeat(300 * 1024));
    let (status, _) = deliver(&app, &huge, Some(&signed(&huge, WEBHOOK_SECRET))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    assert!(events_recorded(&app).await.is_empty());
    assert!(payment_notifications(&app, &user).await.is_empty());
    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(mine.data()["myPayoutAccount"]["payoutsEnabled"], false);
}

#[tokio::test]
async fn account_updated_applies_once_and_the_newest_state_wins() {
    let mock = MockStripe::start().await;
    let app = app_with_stripe(&mock).await;
    let user = app.with_user().await;
    let account = onboard(&app, &user).await;
    let t = now();

    // The same event five times at once: one effect.
    let enabled = account_updated("evt_enabled", &account, t - 10, true, json!({}));
    let header = signed(&enabled, WEBHOOK_SECRET);
    let deliveries = futures_util::future::join_all((0..5).map(|_| deliver(&app, &enabled, Some(&header)))).await;
    let mut fresh = 0;
    for (status, body) in &deliveries {
        assert_eq!(*status, StatusCode::OK, "{body}");
        if body["duplicate"] == false {
            fresh += 1;
            assert_eq!(body["outcome"], "APPLIED");
        }
    }
    assert_eq!(fresh, 1, "{deliveries:?}");
    assert_eq!(events_recorded(&app).await, ["evt_enabled account.updated APPLIED"]);
    assert_eq!(payment_notifications(&app, &user).await, ["Payouts are on"]);
    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    let mine = &mine.data()["myPayoutAccount"];
    assert_eq!(
        (&mine["payoutsEnabled"], &mine["chargesEnabled"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(mine["detailsSubmitted"], true);

    // An older report arriving late changes nothing.
    let older = account_updated("evt_older", &account, t - 60, false, json!({}));
    let (status, body) = deliver(&app, &older, Some(&signed(&older, WEBHOOK_SECRET))).await;
    assert_eq!((status, &body["outcome"]), (StatusCode::OK, &json!("STALE")), "{body}");
    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(mine.data()["myPayoutAccount"]["payoutsEnabled"], true);

    // A newer one applies, signed with the previous secret (rotation).
    let newer = account_updated("evt_newer", &account, t, false, json!({}));
    let (status, body) = deliver(&app, &newer, Some(&signed(&newer, PREVIOUS_WEBHOOK_SECRET))).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("APPLIED")),
        "{body}"
    );
    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(mine.data()["myPayoutAccount"]["payoutsEnabled"], false);
    assert_eq!(
        payment_notifications(&app, &user).await,
        ["Payouts are on", "Payouts are paused"]
    );

    // A header carrying several v1 signatures is accepted when one matches.
    let replay = account_updated("evt_multi", &account, t, false, json!({}));
    let good = signed(&replay, WEBHOOK_SECRET);
    let other = signed(&replay, "whsec_other");
    let (_, other_v1) = other.split_once(",v1=").expect("v1");
    let (status, body) = deliver(&app, &replay, Some(&format!("{good},v1={other_v1}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(events_recorded(&app).await.len(), 4);
}

#[tokio::test]
async fn unknown_types_and_foreign_accounts_are_acknowledged_and_recorded() {
    let mock = MockStripe::start().await;
    let app = app_with_stripe(&mock).await;
    let user = app.with_user().await;

    let unknown = json!({
        "id": "evt_unknown", "object": "event", "api_version": STRIPE_API_VERSION, "created": now(),
        "data": { "object": { "id": "cus_1", "object": "customer" } }, "livemode": false,
        "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null }, "type": "customer.created"
    })
    .to_string();
    let (status, body) = deliver(&app, &unknown, Some(&signed(&unknown, WEBHOOK_SECRET))).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("IGNORED")),
        "{body}"
    );

    // An account nobody here owns.
    let foreign = account_updated("evt_foreign", "acct_foreign", now(), true, json!({}));
    let (status, body) = deliver(&app, &foreign, Some(&signed(&foreign, WEBHOOK_SECRET))).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("UNMATCHED")),
        "{body}"
    );

    // Ours, reported before the answer to our create call was stored: adopted by metadata.
    let early = account_updated(
        "evt_early",
        "acct_early0000000001",
        now(),
        true,
        json!({ USER_METADATA_KEY: user.id }),
    );
    let (status, body) = deliver(&app, &early, Some(&signed(&early, WEBHOOK_SECRET))).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("APPLIED")),
        "{body}"
    );
    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(
        mine.data()["myPayoutAccount"]["stripeAccountId"],
        "acct_early0000000001"
    );
    assert_eq!(mine.data()["myPayoutAccount"]["payoutsEnabled"], true);

    assert_eq!(
        events_recorded(&app).await,
        [
            "evt_unknown customer.created IGNORED",
            "evt_foreign account.updated UNMATCHED",
            "evt_early account.updated APPLIED"
        ]
    );
    let _ = one_text(
        &app,
        "SELECT count(*)::text AS value FROM stripe_events WHERE processed_at IS NOT NULL",
    )
    .await;
}

#[tokio::test]
async fn deliveries_signed_by_the_official_stripe_package_are_verified() {
    let mock = MockStripe::start().await;
    let app = app_with_stripe(&mock).await;
    let user = app.with_user().await;
    let account = onboard(&app, &user).await;

    let passed = run_stripe_script(&app, "webhooks.mjs", &[("ACCOUNT_ID", account.as_str())]).await;
    assert!(passed >= 8, "{passed} checks");

    // What the script sent, as the database holds it: refused deliveries left nothing.
    assert_eq!(
        events_recorded(&app).await,
        [
            "evt_node_enabled account.updated APPLIED",
            "evt_node_unknown invoice.created IGNORED",
            "evt_node_newer account.updated APPLIED",
            "evt_node_older account.updated STALE",
        ]
    );
    let mine = app.gql_as(&user, MY_ACCOUNT, json!({})).await;
    assert_eq!(mine.data()["myPayoutAccount"]["payoutsEnabled"], false);
    assert_eq!(
        payment_notifications(&app, &user).await,
        ["Payouts are on", "Payouts are paused"]
    );
}
