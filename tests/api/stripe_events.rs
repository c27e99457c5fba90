//! Stripe's webhook deliveries as the tests send them: the documented event bodies (API
//! version pinned by `STRIPE_API_VERSION`) for an order's payments, refunds and card disputes,
//! signed with async-stripe's test header or by the official `stripe` npm package and posted
//! to `/webhooks/stripe`; and an order's ledger lines, to check what they moved.

use std::{path::PathBuf, time::Duration};

use gigmarket::payment::provider::{ORDER_METADATA_KEY, STAGE_METADATA_KEY, STRIPE_API_VERSION};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::{
    common::TestApp,
    node,
    payments::{deliver, now, signed, WEBHOOK_SECRET},
};

/// What a payment in these events takes unless told: the market gig's BASIC price.
const PRICE: i64 = 10_000;

/// The documented event envelope around `object`.
fn event(id: &str, kind: &str, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": now(),
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    })
    .to_string()
}

/// `checkout.session.completed` (event `evt`) of a paid Checkout Session of `order`
/// (payment intent `pi`).
pub(crate) fn session_completed(evt: &str, session: &str, order: &str, pi: &str) -> String {
    paid_session(evt, session, order, pi, PRICE, None)
}

/// `checkout.session.completed` (event `evt`) of a Checkout Session of `order` that took
/// `amount` (payment intent `pi`), for the payment `stage` its metadata names, if any.
pub(crate) fn paid_session(
    evt: &str,
    session: &str,
    order: &str,
    pi: &str,
    amount: i64,
    stage: Option<&str>,
) -> String {
    let mut metadata = json!({ ORDER_METADATA_KEY: order });
    if let Some(stage) = stage {
        metadata[STAGE_METADATA_KEY] = json!(stage);
    }
    event(
        evt,
        "checkout.session.completed",
        json!({
            "id": session,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
            "client_reference_id": order,
            "created": now() - 120,
            "currency": "usd",
            "custom_fields": [],
            "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
            "customer": null,
            "customer_details": { "email": "client@example.com", "name": "Ann Client" },
            "expires_at": now() + 3600,
            "livemode": false,
            "metadata": metadata,
            "mode": "payment",
            "payment_intent": pi,
            "payment_method_types": ["card"],
            "payment_status": "paid",
            "shipping_options": [],
            "status": "complete",
            "success_url": "https://gigmarket.example/orders/checkout/success",
            "url": null
        }),
    )
}

/// `payment_intent.succeeded` (event `evt`) for the payment intent `pi` of `order`, or
/// `payment_intent.payment_failed` when not `succeeded`.
pub(crate) fn payment_intent(evt: &str, pi: &str, order: &str, succeeded: bool) -> String {
    let failed = !succeeded;
    let (kind, status) = if succeeded {
        ("payment_intent.succeeded", "succeeded")
    } else {
        ("payment_intent.payment_failed", "requires_payment_method")
    };
    event(
        evt,
        kind,
        json!({
            "id": pi,
            "object": "payment_intent",
            "amount": PRICE,
            "amount_received": if failed { 0 } else { PRICE },
            "capture_method": "automatic",
            "created": now() - 60,
            "currency": "usd",
            "last_payment_error": if failed {
                json!({ "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.", "type": "card_error" })
            } else {
                Value::Null
            },
            "livemode": false,
            "metadata": { ORDER_METADATA_KEY: order },
            "payment_method_types": ["card"],
            "status": status,
            "transfer_group": format!("order_{order}")
        }),
    )
}

/// `charge.refunded` (event `evt`): the charge of `pi` fully refunded.
pub(crate) fn charge_refunded(evt: &str, pi: &str) -> String {
    event(
        evt,
        "charge.refunded",
        json!({
            "id": format!("ch_{}", &pi[3..]),
            "object": "charge",
            "amount": PRICE,
            "amount_captured": PRICE,
            "amount_refunded": PRICE,
            "captured": true,
            "created": now() - 60,
            "currency": "usd",
            "livemode": false,
            "metadata": {},
            "paid": true,
            "payment_intent": pi,
            "refunded": true,
            "status": "succeeded"
        }),
    )
}

/// `charge.dispute.created` (event `evt`): the card dispute `dp` on the charge of `pi`.
pub(crate) fn dispute_created(evt: &str, dp: &str, pi: &str, reason: &str) -> String {
    event(
        evt,
        "charge.dispute.created",
        json!({
            "id": dp,
            "object": "dispute",
            "amount": PRICE,
            "charge": format!("ch_{}", &pi[3..]),
            "created": now() - 10,
            "currency": "usd",
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": pi,
            "reason": reason,
            "status": "needs_response"
        }),
    )
}

/// Delivers `payload` signed with async-stripe's test header; answers the outcome, or
/// `"duplicate"`.
pub(crate) async fn send(app: &TestApp, payload: &str) -> String {
    let (status, body) = deliver(app, payload, Some(&signed(payload, WEBHOOK_SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    if body["duplicate"] == true {
        "duplicate".into()
    } else {
        body["outcome"].as_str().expect("outcome").to_owned()
    }
}

/// Delivers `payload` twice: answers the first outcome (the second must be a duplicate).
pub(crate) async fn send_twice(app: &TestApp, payload: &str) -> String {
    let first = send(app, payload).await;
    assert_eq!(send(app, payload).await, "duplicate");
    first
}

/// The ledger transactions of an order, as `KIND:legs` (legs `account=amount`, sorted).
pub(crate) async fn order_ledger(app: &TestApp, order: &str) -> Vec<String> {
    app.texts(&format!(
        "SELECT t.kind || ':' || string_agg(a.kind || '=' || e.amount_cents, ',' ORDER BY a.kind, e.amount_cents) AS value \
         FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id \
         JOIN ledger_accounts a ON a.id = e.account_id \
         WHERE t.order_id = '{order}' GROUP BY t.id, t.kind ORDER BY t.created_at, t.id"
    ))
    .await
}

/// Delivers `payload` five times at once — one signed by the official stripe package, four
/// by async-stripe — and checks that exactly one delivery applied it (the rest duplicates).
pub(crate) async fn assert_applied_once(app: &TestApp, payload: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/stripe");
    node::ensure_installed(&dir).await;
    let output = node::run(
        &dir,
        "node",
        &["sign.mjs"],
        &[("PAYLOAD", payload), ("WEBHOOK_SECRET", WEBHOOK_SECRET)],
        Duration::from_secs(30),
    )
    .await;
    assert!(output.status.success(), "{}", node::report(&output));
    let npm_signature = String::from_utf8(output.stdout).expect("utf-8");
    assert!(
        npm_signature.starts_with("t=") && npm_signature.contains(",v1="),
        "{npm_signature}"
    );
    let rust_signature = signed(payload, WEBHOOK_SECRET);
    let deliveries = futures_util::future::join_all((0..5).map(|i| {
        let signature = if i == 0 {
            npm_signature.clone()
        } else {
            rust_signature.clone()
        };
        async move { deliver(app, payload, Some(&signature)).await }
    }))
    .await;
    let mut applied = 0;
    for (status, body) in &deliveries {
        assert_eq!(*status, StatusCode::OK, "{body}");
        if body["duplicate"] == false {
            assert_eq!(body["outcome"], "APPLIED");
            applied += 1;
        }
    }
    assert_eq!(applied, 1, "{deliveries:?}");
}
