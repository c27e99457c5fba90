//! Billing plans through Stripe (issue 15, must-show 3): checkout of Pro against the mock
//! Stripe API, the subscription's lifecycle as signed webhooks report it (here signed by
//! async-stripe, in `tests/stripe/billing.mjs` by the official `stripe` npm package), the
//! monthly post limit following it, the billing portal and cancelling at period end.

use gigmarket::payment::provider::{
    billing_customer_key, cancel_subscription_key, PLAN_METADATA_KEY, STRIPE_API_VERSION, USER_METADATA_KEY,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    common::{TestApp, TestUser},
    payments::{
        deliver, events_recorded, now, payment_notifications, run_stripe_script, signed, with_stripe, WEBHOOK_SECRET,
    },
    stripe_mock::MockStripe,
};

const PRO_PRICE: &str = "price_gigmarket_pro_monthly";

const CHECKOUT: &str = "mutation { createBillingCheckout }";
const PORTAL: &str = "mutation { createBillingPortal }";
const CANCEL: &str = "mutation { cancelSubscription { id status cancelAtPeriodEnd currentPeriodEnd plan { id } } }";
const SUBSCRIPTION: &str = "{ subscription { id status cancelAtPeriodEnd currentPeriodEnd plan { id name } } }";
const USAGE: &str = "{ usage { postsUsed postsLimit canPost plan { id } } }";
const POST: &str = "mutation($i: PostTaskInput!) { postTask(input: $i) { id status } }";

/// The server with Stripe pointed at `mock` and a Pro price.
async fn app_with_billing(mock: &MockStripe) -> TestApp {
    with_stripe(mock).var("STRIPE_PRO_PRICE_ID", PRO_PRICE).spawn().await
}

/// A subscription as the tests' events name it.
#[derive(Clone, Copy)]
struct Sub<'a> {
    id: &'a str,
    customer: &'a str,
    user: &'a TestUser,
}

/// A `customer.subscription.*` event around a Subscription object of the pinned API version
/// (the period end on its items).
fn subscription_event(
    sub: &Sub<'_>,
    event_id: &str,
    event_type: &str,
    created: i64,
    status: &str,
    cancel_at_period_end: bool,
) -> String {
    let Sub {
        id: subscription,
        customer,
        user,
    } = *sub;
    json!({
        "id": event_id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": {
            "object": {
                "id": subscription,
                "object": "subscription",
                "billing_cycle_anchor": created - 600,
                "cancel_at": null,
                "cancel_at_period_end": cancel_at_period_end,
                "canceled_at": if status == "canceled" { json!(created) } else { json!(null) },
                "collection_method": "charge_automatically",
                "created": created - 600,
                "currency": "usd",
                "customer": customer,
                "items": {
                    "object": "list",
                    "data": [{
                        "id": "si_billing_test",
                        "object": "subscription_item",
                        "created": created - 600,
                        "current_period_end": period_end(created),
                        "current_period_start": created - 600,
                        "metadata": {},
                        "price": { "id": PRO_PRICE, "object": "price", "currency": "usd", "unit_amount": 1900,
                                   "recurring": { "interval": "month", "interval_count": 1 } },
                        "quantity": 1,
                        "subscription": subscription
                    }],
                    "has_more": false,
                    "url": format!("/v1/subscription_items?subscription={subscription}")
                },
                "livemode": false,
                "metadata": { USER_METADATA_KEY: user.id, PLAN_METADATA_KEY: "pro" },
                "start_date": created - 600,
                "status": status
            },
            "previous_attributes": {}
        },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type
    })
    .to_string()
}

fn period_end(created: i64) -> i64 {
    created + 30 * 24 * 3600
}

/// An `invoice.*` event for `subscription`: in the pinned API version's shape
/// (`parent.subscription_details.subscription`), or in the older one (`subscription`).
fn invoice_event(
    event_id: &str,
    event_type: &str,
    created: i64,
    subscription: &str,
    customer: &str,
    older_shape: bool,
) -> String {
    let paid = event_type == "invoice.paid";
    let mut invoice = json!({
        "id": format!("in_{event_id}"),
        "object": "invoice",
        "amount_due": 1900,
        "amount_paid": if paid { 1900 } else { 0 },
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
        "created": created,
        "currency": "usd",
        "customer": customer,
        "livemode": false,
        "status": if paid { "paid" } else { "open" },
    });
    if older_shape {
        invoice["subscription"] = json!(subscription);
    } else {
        invoice["parent"] = json!({
            "type": "subscription_details",
            "quote_details": null,
            "subscription_details": { "metadata": {}, "subscription": subscription }
        });
    }
    json!({
        "id": event_id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": created,
        "data": { "object": invoice },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": event_type
    })
    .to_string()
}

/// Delivers a signed event; answers its outcome (asserting a 200).
async fn outcome(app: &TestApp, payload: &str) -> Value {
    let (status, body) = deliver(app, payload, Some(&signed(payload, WEBHOOK_SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["outcome"].clone()
}

fn task(title: &str) -> Value {
    json!({
        "title": title,
        "description": "We need someone to build this for us, with tests and a short handover document.",
        "category": "development",
        "skillsRequired": ["Rust"],
        "aiToolsPreferred": [],
        "budgetType": "FIXED",
        "budgetMinCents": 100000,
        "budgetMaxCents": 300000,
        "duration": "ONE_TO_FOUR_WEEKS",
        "locationType": "REMOTE",
    })
}

async fn usage(app: &TestApp, user: &TestUser) -> Value {
    app.gql_as(user, USAGE, json!({})).await.data()["usage"].clone()
}

async fn subscription(app: &TestApp, user: &TestUser) -> Value {
    app.gql_as(user, SUBSCRIPTION, json!({})).await.data()["subscription"].clone()
}

/// Checks out once; answers the user's Stripe customer id.
async fn checkout(app: &TestApp, user: &TestUser) -> String {
    let response = app.gql_as(user, CHECKOUT, json!({})).await;
    assert!(
        response.data()["createBillingCheckout"]
            .as_str()
            .is_some_and(|url| url.starts_with("https://checkout.stripe.com/c/pay/cs_test_")),
        "{:#}",
        response.body
    );
    customer_of(app, user).await
}

async fn customer_of(app: &TestApp, user: &TestUser) -> String {
    let rows = app
        .texts(&format!(
            "SELECT stripe_customer_id AS value FROM billing_customers WHERE user_id = '{}'",
            user.id
        ))
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().expect("one customer")
}

#[tokio::test]
async fn subscription_lifecycle_checkout_pro_past_due_free_and_deleted() {
    let mock = MockStripe::start().await;
    let app = app_with_billing(&mock).await;
    let user = app.with_user().await;
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");
    assert_eq!(subscription(&app, &user).await, Value::Null);

    // Checkout, three times at once: one customer, a session each time.
    let (a, b, c) = tokio::join!(
        app.gql_as(&user, CHECKOUT, json!({})),
        app.gql_as(&user, CHECKOUT, json!({})),
        app.gql_as(&user, CHECKOUT, json!({}))
    );
    for response in [&a, &b, &c] {
        let url = response.data()["createBillingCheckout"].as_str().expect("url");
        assert!(url.starts_with("https://checkout.stripe.com/c/pay/cs_test_"), "{url}");
    }
    let customer = customer_of(&app, &user).await;
    assert!(customer.starts_with("cus_"));
    assert_eq!(mock.customers_created(), 1);
    let key = billing_customer_key(user.id.parse().expect("uuid"));
    let creates = mock.requests_to("/v1/customers");
    assert!(!creates.is_empty());
    for create in &creates {
        assert_eq!(create.idempotency_key.as_deref(), Some(key.as_str()));
        assert_eq!(create.field("email"), Some(user.email.as_str()));
        assert_eq!(
            create.field(&format!("metadata[{USER_METADATA_KEY}]")),
            Some(user.id.as_str())
        );
    }
    let sessions = mock.requests_to("/v1/checkout/sessions");
    assert_eq!(sessions.len(), 3);
    for session in &sessions {
        assert_eq!(session.field("mode"), Some("subscription"));
        assert_eq!(session.field("customer"), Some(customer.as_str()));
        assert_eq!(session.field("line_items[0][price]"), Some(PRO_PRICE));
        assert_eq!(session.field("line_items[0][quantity]"), Some("1"));
        assert_eq!(
            session.field(&format!("metadata[{USER_METADATA_KEY}]")),
            Some(user.id.as_str())
        );
        assert_eq!(
            session.field(&format!("subscription_data[metadata][{USER_METADATA_KEY}]")),
            Some(user.id.as_str())
        );
        assert_eq!(
            session.field(&format!("subscription_data[metadata][{PLAN_METADATA_KEY}]")),
            Some("pro")
        );
        assert_eq!(
            session.field("success_url"),
            Some(format!("{}/billing/success?session_id={{CHECKOUT_SESSION_ID}}", app.base).as_str())
        );
        assert_eq!(
            session.field("cancel_url"),
            Some(format!("{}/billing/cancel", app.base).as_str())
        );
        assert_eq!(session.stripe_version.as_deref(), Some(STRIPE_API_VERSION));
    }
    // The redirect changes nothing: only Stripe's word does.
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");

    let t = now();
    let life = Sub {
        id: "sub_life",
        customer: &customer,
        user: &user,
    };
    let created = subscription_event(
        &life,
        "evt_sub_created",
        "customer.subscription.created",
        t - 100,
        "active",
        false,
    );
    assert_eq!(outcome(&app, &created).await, "APPLIED");
    let sub = subscription(&app, &user).await;
    assert_eq!(
        (
            &sub["id"],
            &sub["status"],
            &sub["plan"]["id"],
            &sub["cancelAtPeriodEnd"]
        ),
        (&json!("sub_life"), &json!("ACTIVE"), &json!("pro"), &json!(false))
    );
    let period_end = chrono::DateTime::from_timestamp(period_end(t - 100), 0).expect("time");
    let shown: chrono::DateTime<chrono::Utc> = sub["currentPeriodEnd"]
        .as_str()
        .expect("period end")
        .parse()
        .expect("time");
    assert_eq!(shown, period_end);
    assert_eq!(
        usage(&app, &user).await,
        json!({ "postsUsed": 0, "postsLimit": null, "canPost": true, "plan": { "id": "pro" } })
    );

    // Pro: more than the free plan's 3 posts.
    for i in 0..5 {
        let posted = app
            .gql_as(
                &user,
                POST,
                json!({ "i": { "task": task(&format!("Pro task number {i} for us")) } }),
            )
            .await;
        assert_eq!(posted.data()["postTask"]["status"], "OPEN", "{:#}", posted.body);
    }
    assert_eq!(usage(&app, &user).await["postsUsed"], 5);
    let again = app.gql_as(&user, CHECKOUT, json!({})).await;
    assert_eq!(again.code(), "CONFLICT", "{:#}", again.body);
    assert_eq!(mock.requests_to("/v1/checkout/sessions").len(), 3);

    // The renewal fails: past due, the free limit applies.
    let failed = invoice_event(
        "evt_inv_failed",
        "invoice.payment_failed",
        t - 50,
        "sub_life",
        &customer,
        false,
    );
    assert_eq!(outcome(&app, &failed).await, "APPLIED");
    assert_eq!(subscription(&app, &user).await["status"], "PAST_DUE");
    assert_eq!(
        usage(&app, &user).await,
        json!({ "postsUsed": 5, "postsLimit": 3, "canPost": false, "plan": { "id": "free" } })
    );
    let refused = app
        .gql_as(&user, POST, json!({ "i": { "task": task("One more while past due") } }))
        .await;
    assert_eq!(refused.code(), "LIMIT_EXCEEDED", "{:#}", refused.body);
    let drafted = app
        .gql_as(
            &user,
            POST,
            json!({ "i": { "task": task("A draft still works fine"), "draft": true } }),
        )
        .await;
    assert_eq!(drafted.data()["postTask"]["status"], "DRAFT");
    // Subscribing again while past due would bill twice: the portal is the way.
    let twice = app.gql_as(&user, CHECKOUT, json!({})).await;
    assert_eq!(twice.code(), "CONFLICT", "{:#}", twice.body);
    assert!(
        twice.body.to_string().contains("createBillingPortal"),
        "{:#}",
        twice.body
    );
    assert_eq!(mock.requests_to("/v1/checkout/sessions").len(), 3);

    // Stripe gives up: deleted, free for good, and a late "active" changes nothing.
    let deleted = subscription_event(
        &life,
        "evt_sub_deleted",
        "customer.subscription.deleted",
        t - 10,
        "canceled",
        false,
    );
    assert_eq!(outcome(&app, &deleted).await, "APPLIED");
    assert_eq!(subscription(&app, &user).await["status"], "CANCELED");
    let late = subscription_event(
        &life,
        "evt_sub_late",
        "customer.subscription.updated",
        t,
        "active",
        false,
    );
    assert_eq!(outcome(&app, &late).await, "STALE");
    assert_eq!(subscription(&app, &user).await["status"], "CANCELED");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");

    assert_eq!(
        payment_notifications(&app, &user).await,
        ["Pro is on", "Your payment failed", "Pro has ended"]
    );
    assert_eq!(
        events_recorded(&app).await,
        [
            "evt_sub_created customer.subscription.created APPLIED",
            "evt_inv_failed invoice.payment_failed APPLIED",
            "evt_sub_deleted customer.subscription.deleted APPLIED",
            "evt_sub_late customer.subscription.updated STALE",
        ]
    );
    // A new checkout is allowed again, with the same customer.
    checkout(&app, &user).await;
    assert_eq!(mock.customers_created(), 1);
}

#[tokio::test]
async fn out_of_order_deliveries_end_in_the_newest_state() {
    let mock = MockStripe::start().await;
    let app = app_with_billing(&mock).await;
    let user = app.with_user().await;
    let customer = checkout(&app, &user).await;
    let t = now();

    // `updated` (active) overtakes `created` (incomplete): the newer state stays.
    let ooo = Sub {
        id: "sub_ooo",
        customer: &customer,
        user: &user,
    };
    let updated = subscription_event(
        &ooo,
        "evt_ooo_updated",
        "customer.subscription.updated",
        t - 20,
        "active",
        false,
    );
    let created = subscription_event(
        &ooo,
        "evt_ooo_created",
        "customer.subscription.created",
        t - 30,
        "incomplete",
        false,
    );
    assert_eq!(outcome(&app, &updated).await, "APPLIED");
    assert_eq!(outcome(&app, &created).await, "STALE");
    assert_eq!(subscription(&app, &user).await["status"], "ACTIVE");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "pro");

    // An invoice paid before that: stale. A failure after it (older invoice shape): past due.
    let old_paid = invoice_event("evt_ooo_old_paid", "invoice.paid", t - 25, "sub_ooo", &customer, false);
    assert_eq!(outcome(&app, &old_paid).await, "STALE");
    let failed = invoice_event(
        "evt_ooo_failed",
        "invoice.payment_failed",
        t - 10,
        "sub_ooo",
        &customer,
        true,
    );
    assert_eq!(outcome(&app, &failed).await, "APPLIED");
    // An "active" from before the failure arrives late: still past due.
    let stale_active = subscription_event(
        &ooo,
        "evt_ooo_stale",
        "customer.subscription.updated",
        t - 15,
        "active",
        false,
    );
    assert_eq!(outcome(&app, &stale_active).await, "STALE");
    assert_eq!(subscription(&app, &user).await["status"], "PAST_DUE");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");

    // Paid at last, delivered five times at once: applied once, told once.
    let paid = invoice_event("evt_ooo_paid", "invoice.paid", t - 5, "sub_ooo", &customer, false);
    let header = signed(&paid, WEBHOOK_SECRET);
    let deliveries = futures_util::future::join_all((0..5).map(|_| deliver(&app, &paid, Some(&header)))).await;
    let fresh: Vec<&Value> = deliveries
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            body
        })
        .filter(|body| body["duplicate"] == false)
        .collect();
    assert_eq!(fresh.len(), 1, "{deliveries:?}");
    assert_eq!(fresh[0]["outcome"], "APPLIED");
    assert_eq!(subscription(&app, &user).await["status"], "ACTIVE");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "pro");
    assert_eq!(
        payment_notifications(&app, &user).await,
        ["Pro is on", "Your payment failed", "Pro is on"]
    );

    // Another of theirs that ended before we heard of it: kept as canceled, nobody is told,
    // and the running one still counts.
    let gone = Sub {
        id: "sub_gone",
        customer: &customer,
        user: &user,
    };
    let deleted = subscription_event(
        &gone,
        "evt_gone_deleted",
        "customer.subscription.deleted",
        t,
        "canceled",
        false,
    );
    assert_eq!(outcome(&app, &deleted).await, "APPLIED");
    assert_eq!(subscription(&app, &user).await["id"], "sub_ooo");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "pro");
    assert_eq!(payment_notifications(&app, &user).await.len(), 3);

    // About nobody of ours: acknowledged, unmatched; a one-off invoice likewise.
    let stranger = app.with_user().await;
    let foreign_sub = Sub {
        id: "sub_foreign",
        customer: "cus_foreign",
        user: &stranger,
    };
    let foreign = subscription_event(
        &foreign_sub,
        "evt_foreign_sub",
        "customer.subscription.created",
        t,
        "active",
        false,
    );
    let foreign = foreign.replace(&stranger.id, "0190b5a6-0000-7000-8000-000000000000");
    assert_eq!(outcome(&app, &foreign).await, "UNMATCHED");
    let mut one_off: Value = serde_json::from_str(&invoice_event(
        "evt_one_off",
        "invoice.paid",
        t,
        "sub_x",
        &customer,
        true,
    ))
    .expect("json");
    one_off["data"]["object"]
        .as_object_mut()
        .expect("invoice")
        .remove("subscription");
    assert_eq!(outcome(&app, &one_off.to_string()).await, "UNMATCHED");
    assert_eq!(subscription(&app, &stranger).await, Value::Null);
}

#[tokio::test]
async fn the_portal_returns_a_url_and_cancel_sets_cancel_at_period_end() {
    let mock = MockStripe::start().await;
    let app = app_with_billing(&mock).await;
    let user = app.with_user().await;

    let none = app.gql_as(&user, PORTAL, json!({})).await;
    assert_eq!(none.code(), "NOT_FOUND", "{:#}", none.body);
    let none = app.gql_as(&user, CANCEL, json!({})).await;
    assert_eq!(none.code(), "NOT_FOUND", "{:#}", none.body);

    let customer = checkout(&app, &user).await;
    let t = now();
    let portal_sub = Sub {
        id: "sub_portal",
        customer: &customer,
        user: &user,
    };
    let created = subscription_event(
        &portal_sub,
        "evt_portal_created",
        "customer.subscription.created",
        t - 60,
        "active",
        false,
    );
    assert_eq!(outcome(&app, &created).await, "APPLIED");

    let portal = app.gql_as(&user, PORTAL, json!({})).await;
    let url = portal.data()["createBillingPortal"].as_str().expect("url");
    assert!(url.starts_with("https://billing.stripe.com/p/session/"), "{url}");
    let requests = mock.requests_to("/v1/billing_portal/sessions");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].field("customer"), Some(customer.as_str()));
    assert_eq!(
        requests[0].field("return_url"),
        Some(format!("{}/billing", app.base).as_str())
    );

    // Cancel: at period end, still Pro until then; asking twice calls Stripe once.
    let cancelled = app.gql_as(&user, CANCEL, json!({})).await;
    let cancelled = &cancelled.data()["cancelSubscription"];
    assert_eq!(
        (
            &cancelled["id"],
            &cancelled["status"],
            &cancelled["cancelAtPeriodEnd"],
            &cancelled["plan"]["id"]
        ),
        (&json!("sub_portal"), &json!("ACTIVE"), &json!(true), &json!("pro"))
    );
    assert!(cancelled["currentPeriodEnd"].is_string());
    let again = app.gql_as(&user, CANCEL, json!({})).await;
    assert_eq!(again.data()["cancelSubscription"]["cancelAtPeriodEnd"], true);
    let updates = mock.requests_to("/v1/subscriptions/sub_portal");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].field("cancel_at_period_end"), Some("true"));
    assert_eq!(
        updates[0].idempotency_key.as_deref(),
        Some(cancel_subscription_key("sub_portal").as_str())
    );
    assert_eq!(subscription(&app, &user).await["cancelAtPeriodEnd"], true);
    assert_eq!(usage(&app, &user).await["plan"]["id"], "pro");

    // Stripe's event of the change confirms it; the period ends: deleted, free.
    let confirmed = subscription_event(
        &portal_sub,
        "evt_portal_cancel",
        "customer.subscription.updated",
        t - 30,
        "active",
        true,
    );
    assert_eq!(outcome(&app, &confirmed).await, "APPLIED");
    assert_eq!(subscription(&app, &user).await["cancelAtPeriodEnd"], true);
    let deleted = subscription_event(
        &portal_sub,
        "evt_portal_deleted",
        "customer.subscription.deleted",
        t,
        "canceled",
        true,
    );
    assert_eq!(outcome(&app, &deleted).await, "APPLIED");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");
    let over = app.gql_as(&user, CANCEL, json!({})).await;
    assert_eq!(over.code(), "NOT_FOUND");
}

#[tokio::test]
async fn without_stripe_keys_or_a_pro_price_billing_answers_provider_not_configured() {
    let app = TestApp::spawn().await;
    let user = app.with_user().await;
    for operation in [CHECKOUT, PORTAL, CANCEL] {
        let response = app.gql_as(&user, operation, json!({})).await;
        assert_eq!(
            response.code(),
            "PROVIDER_NOT_CONFIGURED",
            "{operation}: {:#}",
            response.body
        );
    }
    assert_eq!(subscription(&app, &user).await, Value::Null);
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");
    assert_eq!(app.gql(CHECKOUT, json!({})).await.code(), "UNAUTHORIZED");
    assert_eq!(app.gql(SUBSCRIPTION, json!({})).await.code(), "UNAUTHORIZED");

    // Stripe keys but no Pro price: checkout says so and calls nothing.
    let mock = MockStripe::start().await;
    let app = with_stripe(&mock).spawn().await;
    let user = app.with_user().await;
    let response = app.gql_as(&user, CHECKOUT, json!({})).await;
    assert_eq!(response.code(), "PROVIDER_NOT_CONFIGURED");
    assert!(
        response.body.to_string().contains("STRIPE_PRO_PRICE_ID"),
        "{:#}",
        response.body
    );
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn billing_deliveries_signed_by_the_official_stripe_package_are_applied() {
    let mock = MockStripe::start().await;
    let app = app_with_billing(&mock).await;
    let user = app.with_user().await;
    let customer = checkout(&app, &user).await;

    let passed = run_stripe_script(
        &app,
        "billing.mjs",
        &[("CUSTOMER_ID", customer.as_str()), ("USER_ID", user.id.as_str())],
    )
    .await;
    assert_eq!(passed, 6, "{passed} checks");

    assert_eq!(
        events_recorded(&app).await,
        [
            "evt_node_sub_created customer.subscription.created APPLIED",
            "evt_node_inv_failed invoice.payment_failed APPLIED",
            "evt_node_inv_old_paid invoice.paid STALE",
            "evt_node_sub_deleted customer.subscription.deleted APPLIED",
        ]
    );
    assert_eq!(subscription(&app, &user).await["status"], "CANCELED");
    assert_eq!(usage(&app, &user).await["plan"]["id"], "free");
    assert_eq!(
        payment_notifications(&app, &user).await,
        ["Pro is on", "Your payment failed", "Pro has ended"]
    );
}
