//! The outbox of payment-provider calls: cleared earnings transfer to the freelancer's
//! connected account, once, with one idempotency key however often Stripe fails; a call
//! Stripe refuses to the end returns its amount to the balance; earnings credited before
//! onboarding leave when payouts turn on.

use chrono::Duration;
use futures_util::future::join_all;
use gigmarket::{
    order::{model::OrderStatus, service::clear_earnings},
    payment::outbox::{run_due, Report, MAX_ATTEMPTS},
};
use serde_json::{json, Value};

use crate::{
    orders::{assert_books_balance, one, Market},
    payments::{
        account_updated, app_with_stripe, deliver, now, onboard, payment_notifications, signed, WEBHOOK_SECRET,
    },
    stripe_mock::MockStripe,
};

/// BASIC at $100.00 less the default 8 % fee.
const EARNED: i64 = 10_000 - 800;

/// A market whose server talks to `mock`.
async fn market(mock: &MockStripe) -> Market {
    Market::with(app_with_stripe(mock).await).await
}

/// Onboards the freelancer and reports their account's payouts as enabled; answers the
/// account id.
async fn payouts_on(m: &Market) -> String {
    let account = onboard(&m.app, &m.freelancer).await;
    let event = account_updated(
        &format!("evt_{}", uuid::Uuid::new_v4().simple()),
        &account,
        now(),
        true,
        json!({}),
    );
    let (status, _) = deliver(&m.app, &event, Some(&signed(&event, WEBHOOK_SECRET))).await;
    assert!(status.is_success());
    account
}

/// A completed order whose dispute window has passed, cleared.
async fn cleared_order(m: &Market) -> String {
    let id = m.drive(OrderStatus::Completed).await;
    m.app
        .sql(&format!(
            "UPDATE orders SET settled_at = now() - interval '2 days' WHERE id = '{id}'"
        ))
        .await;
    let cleared = clear_earnings(&m.app.state, Duration::hours(24))
        .await
        .expect("clearing");
    assert_eq!(cleared.orders, 1);
    id
}

async fn available(m: &Market) -> i64 {
    let r = m
        .app
        .gql_as(&m.freelancer, "{ myBalance { availableCents } }", json!({}))
        .await;
    r.data()["myBalance"]
        .as_array()
        .and_then(|b| b.first())
        .map_or(0, |b| b["availableCents"].as_i64().expect("cents"))
}

async fn calls(m: &Market) -> Vec<String> {
    m.app
        .texts("SELECT concat_ws(' ', kind, status, attempts, amount_cents, target) AS value FROM provider_calls ORDER BY created_at")
        .await
}

async fn ledger_kinds(m: &Market) -> Vec<String> {
    let r = m
        .app
        .gql_as(
            &m.freelancer,
            "{ myLedger(first: 20) { nodes { kind amountCents } } }",
            json!({}),
        )
        .await;
    r.data()["myLedger"]["nodes"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| format!("{} {}", e["kind"].as_str().unwrap_or_default(), e["amountCents"]))
        .collect()
}

/// Makes every pending call due now.
async fn due_now(m: &Market) {
    m.app
        .sql("UPDATE provider_calls SET next_attempt_at = now() WHERE status = 'PENDING'")
        .await;
}

#[tokio::test]
async fn a_refused_transfer_is_retried_with_the_same_key_until_it_succeeds_once() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    let account = payouts_on(&m).await;
    let order = cleared_order(&m).await;

    // Queued with the clearing: the payout already left the available balance.
    assert_eq!(calls(&m).await, [format!("TRANSFER PENDING 0 {EARNED} {account}")]);
    assert_eq!(available(&m).await, 0);
    assert_books_balance(&m.app).await;

    mock.fail_next(500);
    let first = run_due(&m.app.state).await.expect("run");
    assert_eq!(
        first,
        Report {
            succeeded: 0,
            retrying: 1,
            failed: 0
        }
    );
    // Backed off: nothing is due at once.
    assert_eq!(run_due(&m.app.state).await.expect("run"), Report::default());
    let waiting = one(
        &m.app,
        "SELECT (next_attempt_at > now())::text AS value FROM provider_calls",
    )
    .await;
    assert_eq!(waiting, "true");

    due_now(&m).await;
    let second = run_due(&m.app.state).await.expect("run");
    assert_eq!(second.succeeded, 1);
    assert_eq!(run_due(&m.app.state).await.expect("run"), Report::default());

    let transfers = mock.requests_to("/v1/transfers");
    assert_eq!(transfers.len(), 2);
    let key = format!("gigmarket:release:{order}");
    for transfer in &transfers {
        assert_eq!(transfer.idempotency_key.as_deref(), Some(key.as_str()));
        assert_eq!(transfer.field("amount"), Some(EARNED.to_string().as_str()));
        assert_eq!(transfer.field("currency"), Some("usd"));
        assert_eq!(transfer.field("destination"), Some(account.as_str()));
        assert_eq!(transfer.field("metadata[gigmarket_order_id]"), Some(order.as_str()));
    }
    let done = calls(&m).await;
    assert_eq!(done, [format!("TRANSFER SUCCEEDED 2 {EARNED} {account}")]);
    assert_eq!(
        one(&m.app, "SELECT provider_object_id AS value FROM provider_calls").await[..3],
        *"tr_"
    );
    assert_eq!(available(&m).await, 0);
    let kinds = ledger_kinds(&m).await;
    assert_eq!(
        kinds,
        [
            format!("PAYOUT -{EARNED}"),
            format!("CLEAR {EARNED}"),
            format!("CLEAR -{EARNED}"),
            format!("RELEASE {EARNED}"),
        ]
    );
    assert!(payment_notifications(&m.app, &m.freelancer)
        .await
        .contains(&"Payment sent".to_owned()));
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn a_transfer_refused_to_the_end_returns_the_amount_to_the_balance_once() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    payouts_on(&m).await;
    cleared_order(&m).await;
    m.app
        .sql(&format!("UPDATE provider_calls SET attempts = {}", MAX_ATTEMPTS - 1))
        .await;

    mock.fail_next(400);
    let report = run_due(&m.app.state).await.expect("run");
    assert_eq!(
        report,
        Report {
            succeeded: 0,
            retrying: 0,
            failed: 1
        }
    );
    due_now(&m).await;
    assert_eq!(run_due(&m.app.state).await.expect("run"), Report::default());

    assert_eq!(available(&m).await, EARNED);
    let kinds = ledger_kinds(&m).await;
    assert_eq!(kinds[..2], [format!("REVERSAL {EARNED}"), format!("PAYOUT -{EARNED}")]);
    let failed = one(
        &m.app,
        "SELECT concat_ws(' ', status, completed_at IS NOT NULL, last_error IS NOT NULL) AS value FROM provider_calls",
    )
    .await;
    assert_eq!(failed, "FAILED t t");
    assert!(payment_notifications(&m.app, &m.freelancer)
        .await
        .contains(&"Payment not completed".to_owned()));
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn earnings_credited_before_onboarding_leave_when_payouts_turn_on() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    cleared_order(&m).await;
    // No payout account: the earnings wait in the balance.
    assert!(calls(&m).await.is_empty());
    assert_eq!(available(&m).await, EARNED);

    let account = payouts_on(&m).await;
    assert_eq!(calls(&m).await, [format!("TRANSFER PENDING 0 {EARNED} {account}")]);
    assert_eq!(available(&m).await, 0);
    // A repeated account.updated (payouts still on) queues nothing more.
    let again = account_updated("evt_again", &account, now() + 1, true, json!({}));
    deliver(&m.app, &again, Some(&signed(&again, WEBHOOK_SECRET))).await;
    assert_eq!(calls(&m).await.len(), 1);

    assert_eq!(run_due(&m.app.state).await.expect("run").succeeded, 1);
    let transfers = mock.requests_to("/v1/transfers");
    assert_eq!(transfers.len(), 1);
    assert!(transfers[0]
        .idempotency_key
        .as_deref()
        .is_some_and(|k| k.starts_with("gigmarket:sweep:")));
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn workers_racing_over_the_outbox_make_each_call_once() {
    let mock = MockStripe::start().await;
    let m = market(&mock).await;
    payouts_on(&m).await;
    for _ in 0..3 {
        cleared_order(&m).await;
    }
    let runs = (0..8).map(|_| {
        let state = m.app.state.clone();
        async move { run_due(&state).await.expect("run") }
    });
    let reports = join_all(runs).await;
    assert_eq!(reports.iter().map(|r| r.succeeded).sum::<usize>(), 3);
    assert_eq!(mock.requests_to("/v1/transfers").len(), 3);
    let statuses: Vec<Value> = calls(&m).await.into_iter().map(Value::from).collect();
    assert!(statuses
        .iter()
        .all(|s| s.as_str().is_some_and(|s| s.contains("SUCCEEDED 1"))));
}
