//! Booking deposits: a gig that asks 25% of its price up front, booked and paid in two
//! stages — by card (Checkout Sessions against the mock Stripe API, webhooks signed here and
//! by the official `stripe` npm package) and by manual proofs — released whole, refunded
//! exactly the deposit when called off after it, and split whole in a dispute.

use gigmarket::{
    order::{
        model::PaymentStage,
        service::{refund_key, stage_checkout_key},
    },
    payment::{outbox, provider::STAGE_METADATA_KEY},
};
use serde_json::{json, Value};

use crate::{
    common::{TestApp, TestUser},
    escrow::{assert_nothing_available, assert_released, clear_now, split_dispute},
    orders::{assert_books_balance, one, Market},
    payments::{account_updated, app_with_stripe, now, onboard},
    stripe_events::{
        assert_applied_once, charge_refunded, dispute_created, order_ledger, paid_session, payment_intent, send,
    },
    stripe_mock::MockStripe,
};

/// BASIC package of the market's gig: $100.00, 25% of it as a deposit, 8% fee.
const PRICE: i64 = 10_000;
const DEPOSIT: i64 = 2_500;
const BALANCE: i64 = PRICE - DEPOSIT;
const FEE: i64 = 800;

const ORDER: &str = "query($id: ID!) { order(id: $id) { status amountCents depositCents depositPaidAt fundedAt paidCents balanceDueCents paymentDueStage paymentDueCents feeBps settledAt availableActions } }";
const CHECKOUT: &str =
    "mutation($id: ID!) { createOrderCheckout(orderId: $id) { url sessionId stage amountCents order { status } } }";
const ACCEPT: &str =
    "mutation($id: ID!) { acceptOrder(orderId: $id) { status depositCents paymentDueStage paymentDueCents } }";
const PROOF: &str =
    "mutation($id: ID!, $p: PaymentProofInput!) { submitPaymentProof(orderId: $id, input: $p) { status } }";
const CONFIRM: &str = "mutation($id: ID!) { confirmPayment(orderId: $id) { status } }";
const REJECT: &str = "mutation($id: ID!) { rejectPaymentProof(orderId: $id, reason: \"Not received\") { status } }";
const START: &str = "mutation($id: ID!) { startWork(orderId: $id) { status } }";
const SUBMIT: &str = "mutation($id: ID!) { submitWork(input: { orderId: $id, message: \"Both sets played.\", links: [\"https://example.com/set\"] }) { status } }";
const APPROVE: &str = "mutation($id: ID!) { approveWork(orderId: $id) { status } }";
const CANCEL: &str = "mutation($id: ID!) { cancelOrder(orderId: $id, reason: \"The venue closed\") { status } }";

/// The ledger line of the deposit entering escrow.
const DEPOSIT_FUNDED: &str = "FUND:EXTERNAL=-2500,PLATFORM_ESCROW=2500";
/// The ledger line of the balance entering escrow.
const BALANCE_FUNDED: &str = "FUND:EXTERNAL=-7500,PLATFORM_ESCROW=7500";

/// A market whose gig asks a 25% deposit of bookings, with its server talking to `mock` (or
/// to no Stripe at all).
async fn deposit_market(mock: Option<&MockStripe>) -> Market {
    let app = match mock {
        Some(mock) => app_with_stripe(mock).await,
        None => TestApp::spawn().await,
    };
    let m = Market::with(app).await;
    let r = m
        .app
        .gql_as(
            &m.freelancer,
            "mutation($id: ID!) { updateGig(id: $id, input: { bookingDepositBps: 2500 }) { bookingDepositBps } }",
            json!({ "id": m.gig }),
        )
        .await;
    assert_eq!(r.data()["updateGig"]["bookingDepositBps"], 2500, "{:#}", r.body);
    m
}

/// Runs `query` on order `id` as `user`; it must succeed.
async fn ok(m: &Market, user: &TestUser, query: &str, id: &str) -> Value {
    let r = m.app.gql_as(user, query, json!({ "id": id })).await;
    assert!(r.body.get("errors").is_none(), "{query}: {:#}", r.body);
    r.data().clone()
}

async fn order(m: &Market, id: &str) -> Value {
    ok(m, &m.client, ORDER, id).await["order"].clone()
}

/// A booking of the deposit gig, accepted: PENDING_PAYMENT for the deposit.
async fn accepted_booking(m: &Market) -> String {
    let id = m.booking().await;
    let accepted = ok(m, &m.freelancer, ACCEPT, &id).await;
    assert_eq!(
        accepted["acceptOrder"],
        json!({ "status": "PENDING_PAYMENT", "depositCents": DEPOSIT, "paymentDueStage": "DEPOSIT", "paymentDueCents": DEPOSIT })
    );
    id
}

/// Reports a manual payment of `amount` on `id` by the client.
async fn prove(m: &Market, id: &str, amount: i64) -> crate::common::Gql {
    let proof = json!({ "reference": "TX-77", "payerName": "Ann Client", "amountCents": amount });
    m.app.gql_as(&m.client, PROOF, json!({ "id": id, "p": proof })).await
}

/// Asks for the Checkout Session of the stage due; checks what it takes and answers its id.
async fn checkout(m: &Market, id: &str, stage: &str, amount: i64) -> String {
    let r = ok(m, &m.client, CHECKOUT, id).await;
    let checkout = &r["createOrderCheckout"];
    assert_eq!(
        (&checkout["stage"], &checkout["amountCents"]),
        (&json!(stage), &json!(amount))
    );
    checkout["sessionId"].as_str().expect("session").to_owned()
}

/// Pays the stage due of `id` by card through the webhook; answers the payment intent.
async fn pay_by_card(m: &Market, id: &str, stage: &str, amount: i64) -> String {
    let session = checkout(m, id, stage, amount).await;
    let pi = format!("pi_{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
    let payload = paid_session(&format!("evt_{pi}"), &session, id, &pi, amount, Some(stage));
    assert_eq!(send(&m.app, &payload).await, "APPLIED");
    pi
}

async fn refund_calls(app: &TestApp, id: &str) -> Vec<String> {
    app.texts(&format!(
        "SELECT kind || ' ' || target || ' ' || amount_cents || ' ' || idempotency_key AS value \
         FROM provider_calls WHERE order_id = '{id}' AND kind = 'REFUND' ORDER BY created_at, id"
    ))
    .await
}

#[tokio::test]
async fn a_booking_with_a_deposit_is_paid_by_card_in_two_stages_and_released_whole() {
    let mock = MockStripe::start().await;
    let m = deposit_market(Some(&mock)).await;
    let app = &m.app;
    let id = m.booking().await;
    let requested = order(&m, &id).await;
    assert_eq!(
        (&requested["depositCents"], &requested["paymentDueCents"]),
        (&json!(DEPOSIT), &Value::Null),
        "fixed at the request; nothing due before acceptance"
    );
    ok(&m, &m.freelancer, ACCEPT, &id).await;
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");

    // Stage one: the deposit's page.
    let session = checkout(&m, &id, "DEPOSIT", DEPOSIT).await;
    let creates = mock.requests_to("/v1/checkout/sessions");
    assert_eq!(creates.len(), 1);
    let deposit_key = stage_checkout_key(order_uuid, PaymentStage::Deposit, 0);
    assert_eq!(creates[0].idempotency_key.as_deref(), Some(deposit_key.as_str()));
    assert_eq!(deposit_key, format!("gigmarket:checkout:{id}:deposit:0"));
    assert_eq!(creates[0].field("line_items[0][price_data][unit_amount]"), Some("2500"));
    assert_eq!(
        creates[0].field(&format!("metadata[{STAGE_METADATA_KEY}]")),
        Some("DEPOSIT")
    );
    assert_eq!(
        creates[0].field(&format!("payment_intent_data[metadata][{STAGE_METADATA_KEY}]")),
        Some("DEPOSIT")
    );

    // The deposit's webhook five times at once (one signed by the official stripe package):
    // the money moves once.
    let pi_deposit = "pi_deposit000000000001";
    let payload = paid_session("evt_deposit_paid", &session, &id, pi_deposit, DEPOSIT, Some("DEPOSIT"));
    assert_applied_once(app, &payload).await;
    // The same payment told again by another event: recorded, nothing moves.
    let again = paid_session("evt_deposit_again", &session, &id, pi_deposit, DEPOSIT, Some("DEPOSIT"));
    assert_eq!(send(app, &again).await, "STALE");

    let deposited = order(&m, &id).await;
    assert_eq!(deposited["status"], "DEPOSIT_PAID");
    assert_eq!(deposited["feeBps"], FEE, "the fee rate is fixed with the deposit");
    assert!(deposited["depositPaidAt"].is_string());
    assert_eq!(deposited["fundedAt"], Value::Null);
    assert_eq!(
        (&deposited["paidCents"], &deposited["balanceDueCents"]),
        (&json!(DEPOSIT), &json!(BALANCE))
    );
    assert_eq!(
        (&deposited["paymentDueStage"], &deposited["paymentDueCents"]),
        (&json!("BALANCE"), &json!(BALANCE))
    );
    assert_eq!(order_ledger(app, &id).await, [DEPOSIT_FUNDED]);
    assert_books_balance(app).await;

    // Work waits for the balance.
    let early = app.gql_as(&m.freelancer, START, json!({ "id": id })).await;
    assert_eq!(early.code(), "CONFLICT", "{:#}", early.body);
    assert!(
        early.body.to_string().contains("balance of 7500 cents"),
        "{:#}",
        early.body
    );

    // Stage two: the balance's page, under its own key.
    let session = checkout(&m, &id, "BALANCE", BALANCE).await;
    let creates = mock.requests_to("/v1/checkout/sessions");
    assert_eq!(
        creates[1].idempotency_key.as_deref(),
        Some(format!("gigmarket:checkout:{id}:balance:0").as_str())
    );
    assert_eq!(creates[1].field("line_items[0][price_data][unit_amount]"), Some("7500"));
    // A balance reported with the deposit's amount is not the balance: it goes back.
    let wrong = paid_session(
        "evt_wrong",
        &session,
        &id,
        "pi_wrong00000000000001",
        DEPOSIT,
        Some("BALANCE"),
    );
    assert_eq!(send(app, &wrong).await, "APPLIED");
    assert_eq!(order(&m, &id).await["status"], "DEPOSIT_PAID");
    let pi_balance = "pi_balance000000000001";
    let paid = paid_session("evt_balance_paid", &session, &id, pi_balance, BALANCE, Some("BALANCE"));
    assert_eq!(send(app, &paid).await, "APPLIED");
    let full = order(&m, &id).await;
    assert_eq!(full["status"], "PAYMENT_CONFIRMED");
    assert!(full["fundedAt"].is_string());
    assert_eq!(
        (&full["paidCents"], &full["balanceDueCents"], &full["paymentDueCents"]),
        (&json!(PRICE), &json!(0), &Value::Null)
    );
    assert_eq!(
        app.gql_as(&m.client, CHECKOUT, json!({ "id": id })).await.code(),
        "CONFLICT",
        "nothing left to pay"
    );

    // Work, approval, and the release of everything held after the dispute window.
    let account = onboard(app, &m.freelancer).await;
    let enabled = account_updated("evt_deposit_account", &account, now(), true, json!({}));
    assert_eq!(send(app, &enabled).await, "APPLIED");
    ok(&m, &m.freelancer, START, &id).await;
    ok(&m, &m.freelancer, SUBMIT, &id).await;
    ok(&m, &m.client, APPROVE, &id).await;
    assert_eq!(clear_now(app).await, 1);
    assert_released(&mock, &id, &account);
    assert_eq!(mock.requests_to("/v1/transfers").len(), 1);
    assert_eq!(
        order_ledger(app, &id).await,
        [
            DEPOSIT_FUNDED,
            "FUND:EXTERNAL=-2500,PLATFORM_ESCROW=2500",
            "REFUND:EXTERNAL=2500,PLATFORM_ESCROW=-2500",
            BALANCE_FUNDED,
            "RELEASE:PLATFORM_ESCROW=-10000,PLATFORM_FEES=800,USER_PENDING=9200",
            "CLEAR:USER_AVAILABLE=9200,USER_PENDING=-9200",
            "PAYOUT:EXTERNAL=9200,USER_AVAILABLE=-9200",
        ]
    );
    assert_eq!(
        one(
            app,
            &format!("SELECT string_agg(stage || ' ' || amount_cents || ' ' || stripe_payment_intent_id, ',' ORDER BY paid_at) AS value FROM order_payments WHERE order_id = '{id}'")
        )
        .await,
        format!("DEPOSIT 2500 {pi_deposit},BALANCE 7500 {pi_balance}")
    );
    assert_books_balance(app).await;
}

#[tokio::test]
async fn a_booking_with_a_deposit_is_paid_by_proof_in_two_stages() {
    let m = deposit_market(None).await;
    let app = &m.app;
    let id = accepted_booking(&m).await;

    // The first proof is of the deposit, not of the whole amount.
    let whole = prove(&m, &id, PRICE).await;
    assert_eq!(whole.fields(), ["amountCents"], "{:#}", whole.body);
    assert!(whole.body.to_string().contains("deposit"), "{:#}", whole.body);
    assert_eq!(
        prove(&m, &id, DEPOSIT).await.data()["submitPaymentProof"]["status"],
        "PAYMENT_SUBMITTED"
    );
    assert_eq!(
        ok(&m, &m.freelancer, REJECT, &id).await["rejectPaymentProof"]["status"],
        "PENDING_PAYMENT"
    );
    prove(&m, &id, DEPOSIT).await;
    assert_eq!(
        ok(&m, &m.freelancer, CONFIRM, &id).await["confirmPayment"]["status"],
        "DEPOSIT_PAID"
    );
    let deposited = order(&m, &id).await;
    assert_eq!(deposited["feeBps"], FEE);
    assert_eq!(deposited["balanceDueCents"], BALANCE);
    let actions: Vec<&str> = deposited["availableActions"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(actions, ["SUBMIT_PAYMENT_PROOF", "CANCEL", "OPEN_DISPUTE"]);
    assert_eq!(
        app.gql_as(&m.freelancer, START, json!({ "id": id })).await.code(),
        "CONFLICT"
    );

    // The second proof is of the balance; a rejected one goes back to DEPOSIT_PAID.
    assert_eq!(prove(&m, &id, DEPOSIT).await.fields(), ["amountCents"]);
    prove(&m, &id, BALANCE).await;
    assert_eq!(
        ok(&m, &m.freelancer, REJECT, &id).await["rejectPaymentProof"]["status"],
        "DEPOSIT_PAID"
    );
    prove(&m, &id, BALANCE).await;
    assert_eq!(
        ok(&m, &m.freelancer, CONFIRM, &id).await["confirmPayment"]["status"],
        "PAYMENT_CONFIRMED"
    );
    ok(&m, &m.freelancer, START, &id).await;
    ok(&m, &m.freelancer, SUBMIT, &id).await;
    ok(&m, &m.client, APPROVE, &id).await;
    assert_eq!(
        order_ledger(app, &id).await,
        [
            DEPOSIT_FUNDED,
            BALANCE_FUNDED,
            "RELEASE:PLATFORM_ESCROW=-10000,PLATFORM_FEES=800,USER_PENDING=9200",
        ]
    );
    assert_eq!(
        app.texts(&format!(
            "SELECT idempotency_key AS value FROM ledger_transactions WHERE order_id = '{id}' ORDER BY created_at"
        ))
        .await,
        [
            format!("order:{id}:fund:deposit"),
            format!("order:{id}:fund:balance"),
            format!("order:{id}:release"),
        ]
    );
    assert_eq!(
        app.texts(&format!(
            "SELECT to_status AS value FROM order_history WHERE order_id = '{id}' ORDER BY created_at, id"
        ))
        .await,
        [
            "REQUESTED",
            "PENDING_PAYMENT",
            "PAYMENT_SUBMITTED",
            "PENDING_PAYMENT",
            "PAYMENT_SUBMITTED",
            "DEPOSIT_PAID",
            "PAYMENT_SUBMITTED",
            "DEPOSIT_PAID",
            "PAYMENT_SUBMITTED",
            "PAYMENT_CONFIRMED",
            "IN_PROGRESS",
            "SUBMITTED",
            "COMPLETED",
        ]
    );
    assert_books_balance(app).await;

    // A direct order of the same gig is paid at once.
    let direct = app
        .gql_as(
            &m.client,
            "mutation($i: OrderGigInput!) { orderGig(input: $i) { depositCents paymentDueStage paymentDueCents } }",
            json!({ "i": { "gigId": m.gig, "tier": "BASIC", "requirements": "" } }),
        )
        .await;
    assert_eq!(
        direct.data()["orderGig"],
        json!({ "depositCents": null, "paymentDueStage": "FULL", "paymentDueCents": PRICE })
    );
}

#[tokio::test]
async fn cancelling_after_the_deposit_refunds_exactly_the_deposit() {
    let mock = MockStripe::start().await;
    let m = deposit_market(Some(&mock)).await;
    let app = &m.app;

    // Paid by card: the deposit goes back to its card, under its own key.
    let id = accepted_booking(&m).await;
    let pi = pay_by_card(&m, &id, "DEPOSIT", DEPOSIT).await;
    ok(&m, &m.client, CANCEL, &id).await;
    let cancelled = order(&m, &id).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert!(cancelled["settledAt"].is_string());
    assert_eq!(
        order_ledger(app, &id).await,
        [DEPOSIT_FUNDED, "REFUND:EXTERNAL=2500,PLATFORM_ESCROW=-2500"]
    );
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    let key = format!("{}:deposit", refund_key(order_uuid));
    assert_eq!(refund_calls(app, &id).await, [format!("REFUND {pi} 2500 {key}")]);
    outbox::run_due(&app.state).await.expect("outbox");
    let refunds = mock.requests_to("/v1/refunds");
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].idempotency_key.as_deref(), Some(key.as_str()));
    assert_eq!(refunds[0].field("payment_intent"), Some(pi.as_str()));
    assert_eq!(refunds[0].field("amount"), Some("2500"));
    assert_nothing_available(app, &m.client).await;

    // Paid by proof: the deposit goes back to the client's balance.
    let manual = accepted_booking(&m).await;
    prove(&m, &manual, DEPOSIT).await;
    ok(&m, &m.freelancer, CONFIRM, &manual).await;
    ok(&m, &m.freelancer, CANCEL, &manual).await;
    assert_eq!(
        order_ledger(app, &manual).await,
        [DEPOSIT_FUNDED, "REFUND:PLATFORM_ESCROW=-2500,USER_AVAILABLE=2500"]
    );
    let balance = app
        .gql_as(&m.client, "{ myBalance { currency availableCents } }", json!({}))
        .await;
    assert_eq!(
        balance.data()["myBalance"],
        json!([{ "currency": "USD", "availableCents": DEPOSIT }])
    );
    assert!(refund_calls(app, &manual).await.is_empty());
    assert_books_balance(app).await;
}

#[tokio::test]
async fn disputes_and_card_disputes_settle_everything_both_stages_hold() {
    let mock = MockStripe::start().await;
    let m = deposit_market(Some(&mock)).await;
    let app = &m.app;

    // Both stages paid by card, then a split: the client's 30% comes back from the balance.
    let id = accepted_booking(&m).await;
    pay_by_card(&m, &id, "DEPOSIT", DEPOSIT).await;
    let pi_balance = pay_by_card(&m, &id, "BALANCE", BALANCE).await;
    ok(&m, &m.freelancer, START, &id).await;
    assert_eq!(
        split_dispute(&m, &id).await,
        json!({ "status": "RESOLVED_SPLIT", "clientCents": 3000, "freelancerCents": 7000 })
    );
    assert_eq!(
        order_ledger(app, &id).await,
        [
            DEPOSIT_FUNDED,
            BALANCE_FUNDED,
            "RELEASE:PLATFORM_ESCROW=-7000,PLATFORM_FEES=560,USER_PENDING=6440",
            "REFUND:EXTERNAL=3000,PLATFORM_ESCROW=-3000",
        ]
    );
    let order_uuid: uuid::Uuid = id.parse().expect("uuid");
    assert_eq!(
        refund_calls(app, &id).await,
        [format!("REFUND {pi_balance} 3000 {}:balance", refund_key(order_uuid))]
    );

    // A card dispute on the deposit of a fully paid booking: the deposit is charged back,
    // the balance goes back to its card, once however often Stripe tells it.
    let disputed = accepted_booking(&m).await;
    let pi_deposit = pay_by_card(&m, &disputed, "DEPOSIT", DEPOSIT).await;
    let pi_rest = pay_by_card(&m, &disputed, "BALANCE", BALANCE).await;
    let card = dispute_created(
        "evt_deposit_dispute",
        "dp_deposit000000000001",
        &pi_deposit,
        "fraudulent",
    );
    let outcomes = futures_util::future::join_all((0..3).map(|_| send(app, &card))).await;
    assert_eq!(outcomes.iter().filter(|o| *o == "APPLIED").count(), 1, "{outcomes:?}");
    assert_eq!(order(&m, &disputed).await["status"], "DISPUTED");
    assert_eq!(
        order_ledger(app, &disputed).await,
        [
            DEPOSIT_FUNDED,
            BALANCE_FUNDED,
            "CHARGEBACK:EXTERNAL=2500,PLATFORM_ESCROW=-2500",
            "REFUND:EXTERNAL=7500,PLATFORM_ESCROW=-7500",
        ]
    );
    let disputed_uuid: uuid::Uuid = disputed.parse().expect("uuid");
    assert_eq!(
        refund_calls(app, &disputed).await,
        [format!("REFUND {pi_rest} 7500 {}:balance", refund_key(disputed_uuid))]
    );
    assert_books_balance(app).await;
}

#[tokio::test]
async fn a_gigs_deposit_is_validated_and_can_be_stopped() {
    let m = deposit_market(None).await;
    let update = "mutation($id: ID!, $bps: Int!) { updateGig(id: $id, input: { bookingDepositBps: $bps }) { bookingDepositBps } }";
    for bad in [10_000, -1] {
        let r = m
            .app
            .gql_as(&m.freelancer, update, json!({ "id": m.gig, "bps": bad }))
            .await;
        assert_eq!(r.fields(), ["bookingDepositBps"], "{bad}: {:#}", r.body);
    }
    let gig = m
        .app
        .gql(
            "query($id: ID!) { gig(id: $id) { bookingDepositBps } }",
            json!({ "id": m.gig }),
        )
        .await;
    assert_eq!(gig.data()["gig"]["bookingDepositBps"], 2500);

    // A booking requested before the change keeps its deposit; later ones are paid at once.
    let before = m.booking().await;
    let r = m
        .app
        .gql_as(&m.freelancer, update, json!({ "id": m.gig, "bps": 0 }))
        .await;
    assert_eq!(r.data()["updateGig"]["bookingDepositBps"], Value::Null);
    let after = m.booking().await;
    assert_eq!(order(&m, &before).await["depositCents"], DEPOSIT);
    assert_eq!(order(&m, &after).await["depositCents"], Value::Null);
}

#[tokio::test]
async fn a_failed_balance_keeps_the_deposit_and_a_dashboard_refund_of_the_deposit_cancels_the_booking() {
    let mock = MockStripe::start().await;
    let m = deposit_market(Some(&mock)).await;
    let app = &m.app;
    let id = accepted_booking(&m).await;
    let pi_deposit = pay_by_card(&m, &id, "DEPOSIT", DEPOSIT).await;

    // A failed attempt at the balance is told to the client; the deposit stays held. A failure
    // naming the deposit, already paid, is stale.
    let failed = |evt: &str, pi: &str, stage: &str| {
        let mut payload: Value = serde_json::from_str(&payment_intent(evt, pi, &id, false)).expect("json");
        payload["data"]["object"]["metadata"][STAGE_METADATA_KEY] = json!(stage);
        payload.to_string()
    };
    let balance_failed = failed("evt_balance_failed", "pi_balancefail00000001", "BALANCE");
    assert_eq!(send(app, &balance_failed).await, "APPLIED");
    let deposit_failed = failed("evt_deposit_failed", "pi_depositfail00000001", "DEPOSIT");
    assert_eq!(send(app, &deposit_failed).await, "STALE");
    assert_eq!(order(&m, &id).await["status"], "DEPOSIT_PAID");
    let titles = app
        .texts(&format!(
            "SELECT title AS value FROM notifications WHERE user_id = '{}' AND kind = 'PAYMENT' AND title LIKE '%failed'",
            m.client.id
        ))
        .await;
    assert_eq!(titles.len(), 1, "{titles:?}");

    // The deposit refunded in the Stripe dashboard: the booking is called off, the ledger
    // follows the money to the card once, nothing is asked of Stripe.
    let refunded = charge_refunded("evt_deposit_refunded", &pi_deposit);
    assert_eq!(send(app, &refunded).await, "APPLIED");
    assert_eq!(
        send(app, &charge_refunded("evt_deposit_refunded_2", &pi_deposit)).await,
        "STALE"
    );
    assert_eq!(order(&m, &id).await["status"], "CANCELLED");
    assert_eq!(
        order_ledger(app, &id).await,
        [DEPOSIT_FUNDED, "REFUND:EXTERNAL=2500,PLATFORM_ESCROW=-2500"]
    );
    assert!(refund_calls(app, &id).await.is_empty());
    assert_books_balance(app).await;
}
