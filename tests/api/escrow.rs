//! Escrow through Stripe: `createOrderCheckout` against the mock Stripe API, the payment,
//! refund and card-dispute webhooks (signed by async-stripe here and by the official `stripe`
//! npm package), the refund call through the provider-call outbox, and the release to the
//! freelancer's connected account after the dispute window.

use gigmarket::{
    order::service::{checkout_key, clear_earnings, refund_key},
    payment::{outbox, provider::ORDER_METADATA_KEY},
};
use serde_json::{json, Value};

use crate::{
    common::TestApp,
    orders::{assert_books_balance, one, Market},
    payments::{account_updated, app_with_stripe, now, onboard},
    stripe_events::{
        assert_applied_once, charge_refunded, dispute_created, order_ledger, payment_intent, send, send_twice,
        session_completed,
    },
    stripe_mock::MockStripe,
};

const ORDER_GIG: &str = "mutation($i: OrderGigInput!) { orderGig(input: $i) { id status amountCents } }";
const CHECKOUT: &str =
    "mutation($id: ID!) { createOrderCheckout(orderId: $id) { url sessionId expiresAt order { id status } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { status feeBps fundedAt settledAt history { action toStatus actorRole note } disputes { status } } }";
/// BASIC package of the market's gig: $100.00.
const PRICE: i64 = 10_000;
const FEE: i64 = 800;
/// The ledger line of an order's funding (see [`order_ledger`]).
const FUNDED: &str = "FUND:EXTERNAL=-10000,PLATFORM_ESCROW=10000";
/// The ledger line of escrow refunded to the card.
const REFUNDED_TO_CARD: &str = "REFUND:EXTERNAL=10000,PLATFORM_ESCROW=-10000";

/// A market whose server talks to `mock`.
async fn market(mock: &MockStripe) -> Market {
    Market::with(app_with_stripe(mock).await).await
}

/// A new order of the market's gig (PENDING_PAYMENT), by its client.
async fn gig_order(m: &Market) -> String {
    let input = json!({ "gigId": m.gig, "tier": "BASIC", "requirements": "Two sets at the garden party" });
    let r = m.app.gql_as(&m.client, ORDER_GIG, json!({ "i": input })).await;
    assert_eq!(r.data()["orderGig"]["status"], "PENDING_PAYMENT", "{:#}", r.body);
    r.data()["orderGig"]["id"].as_str().expect("id").to_owned()
}

async fn order(app: &TestApp, user: &crate::common::TestUser, id: &str) -> Value {
    app.gql_as(user, ORDER, json!({ "id": id })).await.data()["order"].clone()
}

async fn status(app: &TestApp, id: &str) -> String {
    one(app, &format!("SELECT status AS value FROM orders WHERE id = '{id}'")).await
}

/// The action and actor role of an order's last history entry.
fn last_step(order: &Value) -> (Value, Value) {
    let last = order["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    (last["action"].clone(), last["actorRole"].clone())
}

/// Whether no call to Stripe was queued at all.
async fn no_provider_calls(app: &TestApp) -> bool {
    app.texts("SELECT id::text AS value FROM provider_calls")
        .await
        .is_empty()
}

/// Refunds to the card never pass through `user`'s balance.
pub(crate) async fn assert_nothing_available(app: &TestApp, user: &crate::common::TestUser) {
    let balance = app.gql_as(user, "{ myBalance { availableCents } }", json!({})).await;
    assert!(balance.data()["myBalance"]
        .as_array()
        .expect("list")
        .iter()
        .all(|b| b["availableCents"] == 0));
}

async fn notification_titles(app: &TestApp, user: &crate::common::TestUser, kind: &str) -> Vec<String> {
    app.texts(&format!(
        "SELECT title AS value FROM notifications WHERE user_id = '{}' AND kind = '{kind}' ORDER BY created_at, id",
        user.id
    ))
    .await
}

/// Pays `order` through the webhook (a new payment intent); answers the payment intent.
async fn pay(app: &TestApp, order: &str) -> String {
    let pi = format!("pi_{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
    let session = format!("cs_test_{}", uuid::Uuid::new_v4().simple());
    let payload = session_completed(&format!("evt_paid_{order}"), &session, order, &pi);
    assert_eq!(send(app, &payload).await, "APPLIED");
    pi
}

async fn ok(m: &Market, user: &crate::common::TestUser, query: &str, id: &str) -> Value {
    let r = m.app.gql_as(user, query, json!({ "id": id })).await;
    assert!(r.body.get("errors").is_none(), "{query}: {:#}", r.body);
    r.data().clone()
}

/// A new order of the market's gig, paid through Stripe and started: (order, payment intent).
async fn paid_and_started(m: &Market) -> (String, String) {
    let id = gig_order(m).await;
    let pi = pay(&m.app, &id).await;
    ok(m, &m.freelancer, START, &id).await;
    (id, pi)
}

const START: &str = "mutation($id: ID!) { startWork(orderId: $id) { status } }";
const APPROVE: &str = "mutation($id: ID!) { approveWork(orderId: $id) { status } }";
const CANCEL: &str = "mutation($id: ID!) { cancelOrder(orderId: $id, reason: \"Plans changed\") { status } }";
const SUBMIT: &str = "mutation($id: ID!) { submitWork(input: { orderId: $id, message: \"Both sets recorded.\", links: [\"https://example.com/set\"] }) { status } }";

#[tokio::test]
async fn a_gig_paid_through_checkout_is_released_to_the_connected_account_after_the_dispute_window() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let id = gig_order(&m).await;

    // Only the client asks for the page; an outsider does not even see the order.
    assert_eq!(
        app.gql_as(&m.freelancer, CHECKOUT, json!({ "id": id })).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        app.gql_as(&m.stranger, CHECKOUT, json!({ "id": id })).await.code(),
        "NOT_FOUND"
    );
    let r = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    let checkout = &r.data()["createOrderCheckout"];
    let session = checkout["sessionId"].as_str().expect("session").to_owned();
    assert!(session.starts_with("cs_"), "{checkout}");
    assert_eq!(checkout["url"], format!("https://checkout.stripe.com/c/pay/{session}"));
    assert_eq!(checkout["order"]["status"], "PENDING_PAYMENT");

    let creates = mock.requests_to("/v1/checkout/sessions");
    assert_eq!(creates.len(), 1);
    let create = &creates[0];
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    assert_eq!(
        create.idempotency_key.as_deref(),
        Some(checkout_key(order_uuid, 0).as_str())
    );
    let metadata = format!("metadata[{ORDER_METADATA_KEY}]");
    let intent_metadata = format!("payment_intent_data[metadata][{ORDER_METADATA_KEY}]");
    let success = app.url(&format!("/orders/{id}/checkout/success"));
    let cancel = app.url(&format!("/orders/{id}/checkout/cancel"));
    for (field, value) in [
        ("mode", "payment"),
        ("client_reference_id", id.as_str()),
        ("line_items[0][quantity]", "1"),
        ("line_items[0][price_data][unit_amount]", "10000"),
        ("line_items[0][price_data][currency]", "usd"),
        (
            "line_items[0][price_data][product_data][name]",
            "Live jazz trio for your event",
        ),
        (metadata.as_str(), id.as_str()),
        (intent_metadata.as_str(), id.as_str()),
        ("success_url", success.as_str()),
        ("cancel_url", cancel.as_str()),
    ] {
        assert_eq!(create.field(field), Some(value), "{field}");
    }
    // Coming back from the page changes nothing: the order waits for the webhook.
    assert_eq!(status(app, &id).await, "PENDING_PAYMENT");

    let pi = "pi_e2e0000000000000001";
    let paid = session_completed("evt_e2e_paid", &session, &id, pi);
    assert_eq!(send(app, &paid).await, "APPLIED");
    let funded = order(app, &m.client, &id).await;
    assert_eq!(funded["status"], "PAYMENT_CONFIRMED");
    assert_eq!(funded["feeBps"], FEE);
    assert_eq!(
        last_step(&funded),
        (json!("PROVIDER_PAYMENT_SUCCEEDED"), json!("SYSTEM"))
    );
    assert_eq!(
        one(
            app,
            "SELECT balance_cents::text AS value FROM ledger_accounts WHERE kind = 'PLATFORM_ESCROW'"
        )
        .await,
        PRICE.to_string()
    );
    assert_eq!(
        notification_titles(app, &m.freelancer, "PAYMENT").await,
        ["\"Live jazz trio for your event\" is now payment confirmed"]
    );

    // The freelancer onboards; Stripe enables payouts.
    let account = onboard(app, &m.freelancer).await;
    let enabled = account_updated("evt_e2e_account", &account, now(), true, json!({}));
    assert_eq!(send(app, &enabled).await, "APPLIED");

    ok(&m, &m.freelancer, START, &id).await;
    ok(&m, &m.freelancer, SUBMIT, &id).await;
    ok(&m, &m.client, APPROVE, &id).await;
    assert_eq!(status(app, &id).await, "COMPLETED");

    // Within the window nothing clears; after it, the scheduler's jobs release the earnings.
    assert_eq!(
        clear_earnings(&app.state, chrono::Duration::hours(24))
            .await
            .expect("clear")
            .orders,
        0
    );
    assert_eq!(clear_now(app).await, 1);
    assert_released(&mock, &id, &account);
    assert_eq!(
        one(
            app,
            "SELECT status AS value FROM provider_calls WHERE kind = 'TRANSFER'"
        )
        .await,
        "SUCCEEDED"
    );

    assert_books_balance(app).await;
    assert_eq!(
        order_ledger(app, &id).await,
        [
            FUNDED,
            "RELEASE:PLATFORM_ESCROW=-10000,PLATFORM_FEES=800,USER_PENDING=9200",
            "CLEAR:USER_AVAILABLE=9200,USER_PENDING=-9200",
            "PAYOUT:EXTERNAL=9200,USER_AVAILABLE=-9200",
        ]
    );
    let balance = app
        .gql_as(
            &m.freelancer,
            "{ myBalance { currency availableCents pendingCents } }",
            json!({}),
        )
        .await;
    assert_eq!(
        balance.data()["myBalance"],
        json!([{ "currency": "USD", "availableCents": 0, "pendingCents": 0 }])
    );
    let ledger = app
        .gql_as(
            &m.freelancer,
            "{ myLedger { totalCount edges { node { amountCents balance kind order { id } } } } }",
            json!({}),
        )
        .await;
    let kinds: Vec<(String, i64)> = ledger.data()["myLedger"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["node"]["kind"].as_str().expect("kind").to_owned(),
                e["node"]["amountCents"].as_i64().expect("amount"),
            )
        })
        .collect();
    for expected in [("RELEASE", 9_200), ("CLEAR", 9_200), ("PAYOUT", -9_200)] {
        assert!(
            kinds.contains(&(expected.0.to_owned(), expected.1)),
            "{expected:?} in {kinds:?}"
        );
    }
    assert!(notification_titles(app, &m.freelancer, "PAYMENT")
        .await
        .contains(&"Payment sent".to_owned()));
}

#[tokio::test]
async fn one_payment_moves_money_once_however_often_and_in_whatever_order_stripe_reports_it() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let id = gig_order(&m).await;
    let pi = "pi_hammer00000000000001";
    let payload = session_completed("evt_hammer_paid", "cs_test_hammer", &id, pi);

    // One delivery signed by the official stripe package, four by async-stripe, all at once.
    assert_applied_once(app, &payload).await;

    // The same payment reported by its payment intent, and a failure reported late: nothing.
    let succeeded = payment_intent("evt_hammer_pi", pi, &id, true);
    assert_eq!(send(app, &succeeded).await, "STALE");
    let failed = payment_intent("evt_hammer_failed", pi, &id, false);
    assert_eq!(send(app, &failed).await, "STALE");
    assert_eq!(send(app, &succeeded).await, "duplicate");

    assert_eq!(status(app, &id).await, "PAYMENT_CONFIRMED");
    assert_eq!(order_ledger(app, &id).await, [FUNDED]);
    assert_eq!(
        one(app, &format!("SELECT count(*)::text AS value FROM order_history WHERE order_id = '{id}' AND action = 'PROVIDER_PAYMENT_SUCCEEDED'")).await,
        "1"
    );
    assert_eq!(
        one(
            app,
            &format!("SELECT stripe_payment_intent_id AS value FROM orders WHERE id = '{id}'")
        )
        .await,
        pi
    );
    assert!(notification_titles(app, &m.client, "PAYMENT")
        .await
        .iter()
        .all(|t| !t.contains("failed")));
    assert_books_balance(app).await;

    // Reported by the payment intent first, the session's event finds it funded.
    let other = gig_order(&m).await;
    let pi2 = "pi_hammer00000000000002";
    let first = payment_intent("evt_pi_first", pi2, &other, true);
    assert_eq!(send(app, &first).await, "APPLIED");
    let then = session_completed("evt_session_then", "cs_test_then", &other, pi2);
    assert_eq!(send(app, &then).await, "STALE");
    assert_eq!(order_ledger(app, &other).await, [FUNDED]);
}

#[tokio::test]
async fn a_failed_payment_keeps_the_order_payable_and_an_expired_page_is_replaced() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let id = gig_order(&m).await;
    let first = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    let session = first.data()["createOrderCheckout"]["sessionId"].clone();

    let pi = "pi_declined00000000001";
    let failed = payment_intent("evt_failed", pi, &id, false);
    assert_eq!(send(app, &failed).await, "APPLIED");
    assert_eq!(status(app, &id).await, "PENDING_PAYMENT");
    assert_eq!(
        notification_titles(app, &m.client, "PAYMENT").await,
        ["Payment for \"Live jazz trio for your event\" failed"]
    );
    assert!(order_ledger(app, &id).await.is_empty());

    // Asking again answers the same open page (a double click makes one session).
    let again = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    assert_eq!(again.data()["createOrderCheckout"]["sessionId"], session);
    // Once it expired, a fresh one under the next key.
    mock.expire_sessions();
    let fresh = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    let fresh_session = fresh.data()["createOrderCheckout"]["sessionId"].clone();
    assert_ne!(fresh_session, session, "{:#}", fresh.body);
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    let keys: Vec<Option<String>> = mock
        .requests_to("/v1/checkout/sessions")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys, [0, 0, 0, 1].map(|n| Some(checkout_key(order_uuid, n))));

    // The new page is paid.
    let paid = session_completed(
        "evt_paid_after_failure",
        fresh_session.as_str().expect("id"),
        &id,
        "pi_second0000000000001",
    );
    assert_eq!(send(app, &paid).await, "APPLIED");
    assert_eq!(status(app, &id).await, "PAYMENT_CONFIRMED");
    // A paid order has no page to ask for.
    assert_eq!(
        app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await.code(),
        "CONFLICT"
    );
}

#[tokio::test]
async fn stripe_errors_at_checkout_leave_the_order_unchanged_and_a_retry_works() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let id = gig_order(&m).await;
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    let before = one(
        app,
        &format!("SELECT status || updated_at::text AS value FROM orders WHERE id = '{id}'"),
    )
    .await;

    // A refusal (a declined card, an outage) is kept by Stripe under its key: the retry moves on.
    mock.fail_next(402);
    let declined = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    assert_eq!(declined.code(), "PROVIDER_ERROR", "{:#}", declined.body);
    assert!(
        !declined.body.to_string().contains("mock"),
        "Stripe's detail stays in the log"
    );
    mock.fail_next(500);
    assert_eq!(
        app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await.code(),
        "PROVIDER_ERROR"
    );
    // A timeout keeps the key: Stripe may have made the session.
    mock.time_out_next();
    let timed_out = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    assert_eq!(timed_out.code(), "PROVIDER_ERROR", "{:#}", timed_out.body);
    let after = one(
        app,
        &format!("SELECT status || updated_at::text AS value FROM orders WHERE id = '{id}'"),
    )
    .await;
    assert_eq!(before, after);
    assert_eq!(
        one(
            app,
            &format!("SELECT coalesce(stripe_checkout_session_id, '-') AS value FROM orders WHERE id = '{id}'")
        )
        .await,
        "-"
    );

    let retry = app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await;
    let url = retry.data()["createOrderCheckout"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert!(url.starts_with("https://checkout.stripe.com/"));
    let keys: Vec<Option<String>> = mock
        .requests_to("/v1/checkout/sessions")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys, [0, 1, 2, 2].map(|n| Some(checkout_key(order_uuid, n))));
    assert_eq!(status(app, &id).await, "PENDING_PAYMENT");

    // Without Stripe keys the operation says so.
    let plain = Market::new().await;
    let unpaid = gig_order(&plain).await;
    let r = plain.app.gql_as(&plain.client, CHECKOUT, json!({ "id": unpaid })).await;
    assert_eq!(r.code(), "PROVIDER_NOT_CONFIGURED");
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_the_card_once_through_the_outbox() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let id = gig_order(&m).await;
    let pi = pay(app, &id).await;

    ok(&m, &m.client, CANCEL, &id).await;
    assert_eq!(status(app, &id).await, "CANCELLED");
    // Escrow goes back to the card, not to the client's balance.
    assert_eq!(order_ledger(app, &id).await, [FUNDED, REFUNDED_TO_CARD,]);
    assert_nothing_available(app, &m.client).await;
    assert_eq!(
        one(app, &format!("SELECT kind || ' ' || target || ' ' || amount_cents || ' ' || status || ' ' || user_id AS value FROM provider_calls WHERE order_id = '{id}'")).await,
        format!("REFUND {pi} {PRICE} PENDING {}", m.client.id)
    );

    // Stripe fails the first attempt; the outbox retries with the same key.
    mock.fail_next(500);
    outbox::run_due(&app.state).await.expect("outbox");
    assert_eq!(
        one(
            app,
            &format!("SELECT status || ' ' || attempts AS value FROM provider_calls WHERE order_id = '{id}'")
        )
        .await,
        "PENDING 1"
    );
    app.sql(&format!(
        "UPDATE provider_calls SET next_attempt_at = now() WHERE order_id = '{id}'"
    ))
    .await;
    outbox::run_due(&app.state).await.expect("outbox");
    assert_eq!(
        one(
            app,
            &format!("SELECT status AS value FROM provider_calls WHERE order_id = '{id}'")
        )
        .await,
        "SUCCEEDED"
    );
    let refunds = mock.requests_to("/v1/refunds");
    assert_eq!(refunds.len(), 2);
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    for refund in &refunds {
        assert_eq!(refund.idempotency_key.as_deref(), Some(refund_key(order_uuid).as_str()));
        assert_eq!(refund.field("payment_intent"), Some(pi.as_str()));
        assert_eq!(refund.field("amount"), Some("10000"));
    }
    assert!(notification_titles(app, &m.client, "PAYMENT")
        .await
        .contains(&"Refund issued".to_owned()));

    // Stripe reports the refund we asked for: recorded, nothing moves; again: a duplicate.
    let refunded = charge_refunded("evt_refunded_ours", &pi);
    assert_eq!(send_twice(app, &refunded).await, "STALE");
    assert_eq!(order_ledger(app, &id).await.len(), 2);
    assert_books_balance(app).await;
}

/// Clears the earnings whose dispute window is over by now and makes the provider calls
/// that queued; answers how many orders cleared.
pub(crate) async fn clear_now(app: &TestApp) -> usize {
    let cleared = clear_earnings(&app.state, chrono::Duration::zero())
        .await
        .expect("clear")
        .orders;
    outbox::run_due(&app.state).await.expect("outbox");
    cleared
}

/// Stripe received the release of order `id` (the market gig's $100.00 less the 8% fee) to
/// the connected account `account`, under the order's release key (retries included).
pub(crate) fn assert_released(mock: &MockStripe, id: &str, account: &str) {
    let transfers = mock.requests_to("/v1/transfers");
    assert!(!transfers.is_empty());
    for transfer in &transfers {
        assert_eq!(
            transfer.idempotency_key.as_deref(),
            Some(format!("gigmarket:release:{id}").as_str())
        );
        assert_eq!(transfer.field("amount"), Some((PRICE - FEE).to_string().as_str()));
        assert_eq!(transfer.field("destination"), Some(account));
        assert_eq!(transfer.field("currency"), Some("usd"));
    }
}

/// The client disputes order `id`; an admin splits it 70% to the freelancer. Answers the
/// ruling's status and shares.
pub(crate) async fn split_dispute(m: &Market, id: &str) -> Value {
    let opened = m
        .app
        .gql_as(
            &m.client,
            "mutation($id: ID!) { openDispute(orderId: $id, reason: \"Only one set was played\") { dispute { id } } }",
            json!({ "id": id }),
        )
        .await;
    let dispute = opened.data()["openDispute"]["dispute"]["id"].clone();
    let ruling = m
        .app
        .gql_as(
            &m.admin,
            "mutation($d: ID!) { resolveDispute(disputeId: $d, outcome: SPLIT, splitBps: 7000, note: \"One of two sets\") { status clientCents freelancerCents } }",
            json!({ "d": dispute }),
        )
        .await;
    ruling.data()["resolveDispute"].clone()
}

#[tokio::test]
async fn a_dispute_split_on_a_card_paid_order_refunds_the_clients_share_to_the_card() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let (id, pi) = paid_and_started(&m).await;
    assert_eq!(
        split_dispute(&m, &id).await,
        json!({ "status": "RESOLVED_SPLIT", "clientCents": 3000, "freelancerCents": 7000 })
    );
    // The freelancer's share is released less the fee on it; the rest leaves for the card.
    assert_eq!(
        order_ledger(app, &id).await,
        [
            FUNDED,
            "RELEASE:PLATFORM_ESCROW=-7000,PLATFORM_FEES=560,USER_PENDING=6440",
            "REFUND:EXTERNAL=3000,PLATFORM_ESCROW=-3000",
        ]
    );
    assert_eq!(
        one(app, &format!("SELECT kind || ' ' || target || ' ' || amount_cents || ' ' || user_id AS value FROM provider_calls WHERE order_id = '{id}'")).await,
        format!("REFUND {pi} 3000 {}", m.client.id)
    );
    outbox::run_due(&app.state).await.expect("outbox");
    let refunds = mock.requests_to("/v1/refunds");
    assert_eq!(refunds.len(), 1);
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    assert_eq!(
        refunds[0].idempotency_key.as_deref(),
        Some(refund_key(order_uuid).as_str())
    );
    assert_eq!(refunds[0].field("payment_intent"), Some(pi.as_str()));
    assert_eq!(refunds[0].field("amount"), Some("3000"));
    // The client's balance is untouched: the money went back to the card.
    assert_nothing_available(app, &m.client).await;
    assert_books_balance(app).await;
}

#[tokio::test]
async fn a_refund_made_in_the_stripe_dashboard_cancels_the_order_and_moves_the_ledger_once() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;
    let (id, pi) = paid_and_started(&m).await;

    let refunded = charge_refunded("evt_refunded_dashboard", &pi);
    assert_eq!(send_twice(app, &refunded).await, "APPLIED");
    let again = charge_refunded("evt_refunded_dashboard_2", &pi);
    assert_eq!(send(app, &again).await, "STALE");

    let cancelled = order(app, &m.client, &id).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(last_step(&cancelled), (json!("PROVIDER_REFUNDED"), json!("SYSTEM")));
    assert_eq!(order_ledger(app, &id).await, [FUNDED, REFUNDED_TO_CARD,]);
    // Stripe already refunded: nothing is asked of it.
    assert!(no_provider_calls(app).await);
    assert!(mock.requests_to("/v1/refunds").is_empty());
    // A charge of someone else's.
    let foreign = charge_refunded("evt_refunded_foreign", "pi_foreign000000000001");
    assert_eq!(send(app, &foreign).await, "UNMATCHED");
    assert_books_balance(app).await;
}

#[tokio::test]
async fn a_card_dispute_freezes_the_order_and_charges_the_escrow_back_once() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;

    // Paid and in progress: DISPUTED, opened by the client, escrow charged back.
    let (id, pi) = paid_and_started(&m).await;
    let dispute = dispute_created("evt_dispute", "dp_card00000000000001", &pi, "product_not_received");
    let deliveries = futures_util::future::join_all((0..5).map(|_| send(app, &dispute))).await;
    assert_eq!(
        deliveries.iter().filter(|o| *o == "APPLIED").count(),
        1,
        "{deliveries:?}"
    );
    assert!(
        deliveries.iter().all(|o| o == "APPLIED" || o == "duplicate"),
        "{deliveries:?}"
    );
    // The same dispute in another event: nothing more.
    let resent = dispute_created(
        "evt_dispute_resent",
        "dp_card00000000000001",
        &pi,
        "product_not_received",
    );
    assert_eq!(send(app, &resent).await, "STALE");

    let disputed = order(app, &m.client, &id).await;
    assert_eq!(disputed["status"], "DISPUTED");
    assert_eq!(disputed["disputes"], json!([{ "status": "OPEN" }]));
    assert_eq!(
        one(app, &format!("SELECT opened_by || ' ' || reason || ' ' || stripe_dispute_id AS value FROM disputes WHERE order_id = '{id}'")).await,
        format!("{} Card dispute (product not received) dp_card00000000000001", m.client.id)
    );
    assert_eq!(
        order_ledger(app, &id).await,
        [FUNDED, "CHARGEBACK:EXTERNAL=10000,PLATFORM_ESCROW=-10000",]
    );
    for party in [&m.client, &m.freelancer] {
        assert_eq!(notification_titles(app, party, "DISPUTE").await.len(), 1);
    }
    // An admin settles it: the issuer already took the money, nothing more moves.
    let settle = "mutation($id: ID!) { overrideOrderStatus(id: $id, status: CANCELLED, reason: \"Card issuer refunded the client\") { status } }";
    ok(&m, &m.admin, settle, &id).await;
    assert_eq!(order_ledger(app, &id).await.len(), 2);
    assert!(no_provider_calls(app).await);

    // Completed and not cleared yet: recorded, and clearing waits for it.
    let (done, pi_done) = paid_and_started(&m).await;
    ok(&m, &m.freelancer, SUBMIT, &done).await;
    ok(&m, &m.client, APPROVE, &done).await;
    let late = dispute_created("evt_dispute_late", "dp_card00000000000002", &pi_done, "fraudulent");
    assert_eq!(send_twice(app, &late).await, "APPLIED");
    assert_eq!(status(app, &done).await, "COMPLETED");
    assert_eq!(
        order(app, &m.client, &done).await["disputes"],
        json!([{ "status": "OPEN" }])
    );
    assert_eq!(
        clear_earnings(&app.state, chrono::Duration::zero())
            .await
            .expect("clear")
            .orders,
        0
    );
    assert_eq!(
        order_ledger(app, &done).await.len(),
        2,
        "funded and released, nothing more"
    );

    // The order is final: its dispute can only be dismissed, and then the earnings clear.
    let late_dispute = one(
        app,
        &format!("SELECT id::text AS value FROM disputes WHERE order_id = '{done}'"),
    )
    .await;
    let rule = |outcome: &str| {
        app.gql_as(
            &m.admin,
            "mutation($d: ID!, $o: DisputeOutcome!) { resolveDispute(disputeId: $d, outcome: $o, note: \"Bank sided with the freelancer\") { status order { status } } }",
            json!({ "d": late_dispute, "o": outcome }),
        )
    };
    assert_eq!(rule("CLIENT").await.fields(), ["outcome"]);
    let dismissed = rule("DISMISSED").await;
    assert_eq!(
        dismissed.data()["resolveDispute"],
        json!({ "status": "DISMISSED", "order": { "status": "COMPLETED" } })
    );
    assert_eq!(rule("DISMISSED").await.code(), "CONFLICT");
    assert_eq!(
        clear_earnings(&app.state, chrono::Duration::zero())
            .await
            .expect("clear")
            .orders,
        1
    );
    assert_books_balance(app).await;
}

#[tokio::test]
async fn an_admin_settling_a_card_paid_order_as_cancelled_refunds_the_card_and_unpaid_sessions_wait() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;

    // A session completed without the money yet (a delayed method): the order waits.
    let waiting = gig_order(&m).await;
    let mut unpaid: Value = serde_json::from_str(&session_completed(
        "evt_unpaid",
        "cs_test_unpaid",
        &waiting,
        "pi_unpaid000000000001",
    ))
    .expect("json");
    unpaid["data"]["object"]["payment_status"] = json!("unpaid");
    assert_eq!(send(app, &unpaid.to_string()).await, "IGNORED");
    assert_eq!(status(app, &waiting).await, "PENDING_PAYMENT");
    assert!(order_ledger(app, &waiting).await.is_empty());

    let (id, pi) = paid_and_started(&m).await;
    let settle = "mutation($id: ID!) { overrideOrderStatus(id: $id, status: CANCELLED, reason: \"The client was never served\") { status } }";
    ok(&m, &m.admin, settle, &id).await;
    assert_eq!(order_ledger(app, &id).await, [FUNDED, REFUNDED_TO_CARD]);
    assert_eq!(
        one(app, &format!("SELECT kind || ' ' || target || ' ' || idempotency_key AS value FROM provider_calls WHERE order_id = '{id}'")).await,
        format!("REFUND {pi} gigmarket:refund:{id}")
    );
    assert_books_balance(app).await;
}

#[tokio::test]
async fn a_payment_the_order_cannot_take_goes_back_to_the_card_once() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let app = &m.app;

    // Paid on Stripe's page, but called off before the webhook arrived.
    let id = gig_order(&m).await;
    ok(&m, &m.client, CANCEL, &id).await;
    let late = "pi_late0000000000000001";
    let paid = session_completed("evt_paid_late", "cs_test_late", &id, late);
    assert_eq!(send_twice(app, &paid).await, "APPLIED");
    // The same payment reported again by its payment intent: returned once.
    assert_eq!(
        send(app, &payment_intent("evt_paid_late_pi", late, &id, true)).await,
        "STALE"
    );
    assert_eq!(status(app, &id).await, "CANCELLED");
    assert_eq!(order_ledger(app, &id).await, [FUNDED, REFUNDED_TO_CARD]);
    assert_eq!(
        one(app, &format!("SELECT target || ' ' || idempotency_key || ' ' || user_id AS value FROM provider_calls WHERE order_id = '{id}'")).await,
        format!("{late} gigmarket:refund:{late} {}", m.client.id)
    );

    // Paid twice: the second payment goes back, the first stays in escrow.
    let (twice, first) = paid_and_started(&m).await;
    let second = "pi_second0000000000009";
    assert_eq!(
        send(app, &payment_intent("evt_paid_twice", second, &twice, true)).await,
        "APPLIED"
    );
    assert_eq!(status(app, &twice).await, "IN_PROGRESS");
    assert_eq!(
        one(
            app,
            &format!("SELECT stripe_payment_intent_id AS value FROM orders WHERE id = '{twice}'")
        )
        .await,
        first
    );
    assert_eq!(order_ledger(app, &twice).await, [FUNDED, FUNDED, REFUNDED_TO_CARD]);
    assert!(notification_titles(app, &m.client, "PAYMENT")
        .await
        .iter()
        .any(|t| t.ends_with("returned")));
    outbox::run_due(&app.state).await.expect("outbox");
    assert_eq!(mock.requests_to("/v1/refunds").len(), 2);
    assert_books_balance(app).await;
}
