//! Orders: the state machine walked exhaustively, random walks that keep the books balanced,
//! concurrency, `orderUpdated`, and every order, payment and ledger operation.

use std::sync::atomic::{AtomicI64, Ordering};

use futures_util::future::join_all;
use gigmarket::{
    order::{
        machine::{self, Action},
        model::{ActorRole, OrderStatus},
    },
    scheduler::Outcome,
};
use serde_json::{json, Value};

use crate::{
    common::{Gql, TestApp, TestUser},
    ws::{WsClient, TRANSPORT_WS},
};

const CREATE_GIG: &str = "mutation($i: CreateGigInput!) { createGig(input: $i) { id } }";
const GIG_STATUS: &str = "mutation($id: ID!) { setGigStatus(id: $id, status: ACTIVE) { status } }";
const BOOK: &str = "mutation($i: RequestBookingInput!) { requestBooking(input: $i) { id status } }";
const ORDER_GIG: &str =
    "mutation($i: OrderGigInput!) { orderGig(input: $i) { id status amountCents revisionLimit onSite } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { id status amountCents feeBps feeCents fundedAt settledAt revisionsUsed availableActions history { action fromStatus toStatus actorRole note } paymentProofs { status amountCents } deliverables { message links revision } milestones { id title amountCents checklist { text done } } board { id title status } disputes { status } client { id } freelancer { id } } }";

/// BASIC: $100.00, one revision. PREMIUM: $300.00, three revisions.
const PRICE: i64 = 10_000;

/// A freelancer with an active gig, a client, an admin and an outsider.
pub struct Market {
    pub app: TestApp,
    pub client: TestUser,
    pub freelancer: TestUser,
    pub admin: TestUser,
    pub stranger: TestUser,
    pub gig: String,
    day: AtomicI64,
}

impl Market {
    pub async fn new() -> Self {
        Self::with(TestApp::spawn().await).await
    }

    pub async fn with(app: TestApp) -> Self {
        let (client, freelancer, stranger) = (app.with_user().await, app.with_user().await, app.with_user().await);
        let admin = app.with_admin().await;
        let gig = active_gig(&app, &freelancer).await;
        Market {
            app,
            client,
            freelancer,
            admin,
            stranger,
            gig,
            day: AtomicI64::new(1),
        }
    }

    /// A future date no other order of this market uses.
    fn next_day(&self) -> String {
        let n = self.day.fetch_add(1, Ordering::Relaxed);
        (chrono::Utc::now().date_naive() + chrono::Duration::days(n)).to_string()
    }

    pub async fn booking(&self) -> String {
        let date = self.next_day();
        let r = self
            .app
            .gql_as(
                &self.client,
                BOOK,
                json!({ "i": { "gigId": self.gig, "tier": "BASIC", "date": date, "requirements": "A two-hour set" } }),
            )
            .await;
        r.data()["requestBooking"]["id"].as_str().unwrap().to_owned()
    }

    async fn act(&self, id: &str, action: Action, actor: &TestUser) -> Gql {
        let (query, vars) = action_request(id, action);
        self.app.gql_as(actor, query, vars).await
    }

    async fn ok(&self, id: &str, action: Action, actor: &TestUser) {
        let r = self.act(id, action, actor).await;
        assert!(r.body.get("errors").is_none(), "{action:?} failed: {:#}", r.body);
    }

    /// A fresh order (a booking) brought to `target` through the API.
    pub async fn drive(&self, target: OrderStatus) -> String {
        use OrderStatus::*;
        let id = self.booking().await;
        // The happy path, then the detours; each step says whether the client takes it.
        const MAIN: [(Action, bool); 5] = [
            (Action::Accept, false),
            (Action::SubmitPaymentProof, true),
            (Action::ConfirmPayment, false),
            (Action::StartWork, false),
            (Action::SubmitWork, false),
        ];
        let (steps, tail): (usize, &[(Action, bool)]) = match target {
            DepositPaid => unreachable!("the market's gig asks no deposit: tests/api/deposits.rs walks DEPOSIT_PAID"),
            Requested => (0, &[]),
            Declined => (0, &[(Action::Decline, false)]),
            Cancelled => (0, &[(Action::Cancel, true)]),
            PendingPayment => (1, &[]),
            PaymentSubmitted => (2, &[]),
            PaymentConfirmed => (3, &[]),
            Disputed => (3, &[(Action::OpenDispute, true)]),
            InProgress => (4, &[]),
            Submitted => (5, &[]),
            RevisionRequested => (5, &[(Action::RequestRevision, true)]),
            Completed => (5, &[(Action::ApproveWork, true)]),
        };
        let path = MAIN[..steps].iter().chain(tail);
        for (action, by_client) in path {
            let actor = if *by_client { &self.client } else { &self.freelancer };
            self.ok(&id, *action, actor).await;
        }
        assert_eq!(self.status(&id).await, target.as_str());
        id
    }

    async fn status(&self, id: &str) -> String {
        one(
            &self.app,
            &format!("SELECT status AS value FROM orders WHERE id = '{id}'"),
        )
        .await
    }

    /// What must not change when an action is refused.
    async fn fingerprint(&self, id: &str) -> String {
        one(
            &self.app,
            &format!(
                "SELECT concat_ws('|', (SELECT status || updated_at::text FROM orders WHERE id = '{id}'), \
                 (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM events), \
                 (SELECT count(*) FROM order_history), (SELECT count(*) FROM notifications)) AS value"
            ),
        )
        .await
    }
}

/// Runs the scheduler's escrow release once (it may find the server's own run holding it).
pub async fn release_escrow(app: &TestApp) {
    let outcome = gigmarket::scheduler::run_named(&app.state, "releaseEscrow").await;
    assert!(
        matches!(outcome, Some(Outcome::Done(_) | Outcome::Skipped)),
        "{outcome:?}"
    );
}

pub async fn one(app: &TestApp, sql: &str) -> String {
    app.texts(sql).await.pop().unwrap_or_default()
}

pub async fn active_gig(app: &TestApp, owner: &TestUser) -> String {
    let input = json!({
        "title": "Live jazz trio for your event",
        "description": "A jazz trio for weddings, parties and corporate events, two sets of an hour.",
        "category": "music",
        "tags": ["jazz"],
        "packages": [
            { "tier": "BASIC", "title": "One set", "priceCents": PRICE, "deliveryDays": 3, "revisions": 1 },
            { "tier": "PREMIUM", "title": "Two sets", "priceCents": PRICE * 3, "deliveryDays": 5, "revisions": 3 },
        ],
    });
    let created = app.gql_as(owner, CREATE_GIG, json!({ "i": input })).await;
    let id = created.data()["createGig"]["id"].as_str().unwrap().to_owned();
    app.gql_as(owner, GIG_STATUS, json!({ "id": id })).await.data();
    id
}

/// The GraphQL request for `action` on order `id`.
fn action_request(id: &str, action: Action) -> (&'static str, Value) {
    let plain = json!({ "id": id });
    match action {
        Action::Accept => ("mutation($id: ID!) { acceptOrder(orderId: $id) { status } }", plain),
        Action::Decline => ("mutation($id: ID!) { declineOrder(orderId: $id, reason: \"Busy\") { status } }", plain),
        Action::SubmitPaymentProof => (
            "mutation($id: ID!, $p: PaymentProofInput!) { submitPaymentProof(orderId: $id, input: $p) { status } }",
            json!({ "id": id, "p": { "reference": "TX-1234", "payerName": "Ann Client", "amountCents": PRICE } }),
        ),
        Action::RejectPaymentProof => (
            "mutation($id: ID!) { rejectPaymentProof(orderId: $id, reason: \"Not received\") { status } }",
            plain,
        ),
        Action::ConfirmPayment => ("mutation($id: ID!) { confirmPayment(orderId: $id) { status } }", plain),
        Action::StartWork => ("mutation($id: ID!) { startWork(orderId: $id) { status } }", plain),
        Action::SubmitWork => (
            "mutation($i: SubmitWorkInput!) { submitWork(input: $i) { status } }",
            json!({ "i": { "orderId": id, "message": "Done: see the recording.", "links": ["https://example.com/set"] } }),
        ),
        Action::RequestRevision => (
            "mutation($id: ID!) { requestRevision(orderId: $id, note: \"Please add the encore\") { status } }",
            plain,
        ),
        Action::ApproveWork => ("mutation($id: ID!) { approveWork(orderId: $id) { status } }", plain),
        Action::Cancel => ("mutation($id: ID!) { cancelOrder(orderId: $id, reason: \"Plans changed\") { status } }", plain),
        Action::OpenDispute => (
            "mutation($id: ID!) { openDispute(orderId: $id, reason: \"The set was cut short\") { status } }",
            plain,
        ),
        Action::ForceComplete => (
            "mutation($id: ID!) { overrideOrderStatus(id: $id, status: COMPLETED, reason: \"Evidence shows delivery\") { status } }",
            plain,
        ),
        Action::ForceCancel => (
            "mutation($id: ID!) { overrideOrderStatus(id: $id, status: CANCELLED, reason: \"Evidence shows no delivery\") { status } }",
            plain,
        ),
        Action::ProviderPaymentSucceeded | Action::ProviderRefunded | Action::ProviderDispute => {
            unreachable!("not a GraphQL operation")
        }
        Action::SettleForClient | Action::SettleForFreelancer | Action::SettleSplit | Action::DismissDispute => {
            unreachable!("taken on a dispute (resolveDispute), not an order: tests/api/disputes.rs")
        }
    }
}

const API_ACTIONS: [Action; 13] = [
    Action::Accept,
    Action::Decline,
    Action::SubmitPaymentProof,
    Action::RejectPaymentProof,
    Action::ConfirmPayment,
    Action::StartWork,
    Action::SubmitWork,
    Action::RequestRevision,
    Action::ApproveWork,
    Action::Cancel,
    Action::OpenDispute,
    Action::ForceComplete,
    Action::ForceCancel,
];

/// What the table (plus the remote-order guard on approval) allows `role` to do in `state`.
fn allowed(state: OrderStatus, action: Action, role: Option<ActorRole>) -> Option<OrderStatus> {
    let role = role?;
    // On remote orders only the client approves (the freelancer's way is the on-site end code).
    if action == Action::ApproveWork && role == ActorRole::Freelancer {
        return None;
    }
    // The walked actions all have a fixed target (only a dismissal resumes a status); the
    // market's gig asks no deposit, so a payment completes the amount.
    machine::decide(state, action, &[role])
        .ok()?
        .to
        .status_for(false, false)
}

/// Sum zero per transaction and overall, balances match their entries, nothing but EXTERNAL
/// below zero, escrow equals the funded-but-unsettled orders (less hourly orders' billed
/// weeks).
pub async fn assert_books_balance(app: &TestApp) {
    let books = one(
        app,
        "SELECT concat_ws(',', \
           (SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY 1 HAVING sum(amount_cents) <> 0) x), \
           (SELECT COALESCE(sum(amount_cents), 0) FROM ledger_entries), \
           (SELECT count(*) FROM ledger_accounts WHERE kind <> 'EXTERNAL' AND balance_cents < 0), \
           (SELECT count(*) FROM ledger_accounts a WHERE balance_cents <> \
              COALESCE((SELECT sum(amount_cents) FROM ledger_entries e WHERE e.account_id = a.id), 0)), \
           (SELECT COALESCE((SELECT balance_cents FROM ledger_accounts WHERE kind = 'PLATFORM_ESCROW'), 0) \
              - COALESCE((SELECT sum(CASE WHEN funded_at IS NOT NULL THEN amount_cents ELSE deposit_cents END \
                                      - COALESCE(billed_cents, 0)) FROM orders \
                 WHERE (funded_at IS NOT NULL OR deposit_paid_at IS NOT NULL) AND settled_at IS NULL), 0))) AS value",
    )
    .await;
    assert_eq!(
        books, "0,0,0,0,0",
        "unbalanced transactions, total, negative balances, stale balances, escrow gap"
    );
}

#[tokio::test]
async fn every_state_action_and_actor_does_exactly_what_the_table_says() {
    let m = Market::new().await;
    // DEPOSIT_PAID needs a gig that asks a deposit: tests/api/deposits.rs walks it.
    let states: Vec<OrderStatus> = OrderStatus::ALL
        .iter()
        .copied()
        .filter(|s| *s != OrderStatus::DepositPaid)
        .collect();
    let actors: [(Option<ActorRole>, &TestUser); 4] = [
        (Some(ActorRole::Client), &m.client),
        (Some(ActorRole::Freelancer), &m.freelancer),
        (Some(ActorRole::Admin), &m.admin),
        (None, &m.stranger),
    ];
    let mut moved = 0;
    for &state in &states {
        let standing = m.drive(state).await;
        for action in API_ACTIONS {
            for (role, user) in actors {
                if let Some(to) = allowed(state, action, role) {
                    let fresh = m.drive(state).await;
                    let r = m.act(&fresh, action, user).await;
                    assert!(
                        r.body.get("errors").is_none(),
                        "{action:?} by {role:?} from {state:?}: {:#}",
                        r.body
                    );
                    assert_eq!(
                        m.status(&fresh).await,
                        to.as_str(),
                        "{action:?} by {role:?} from {state:?}"
                    );
                    moved += 1;
                } else {
                    let before = m.fingerprint(&standing).await;
                    let r = m.act(&standing, action, user).await;
                    let code = r.code().to_owned();
                    let expected: &[&str] = if role.is_none() {
                        // Outsiders learn nothing (and are no admins).
                        &["NOT_FOUND", "FORBIDDEN"]
                    } else {
                        &["CONFLICT", "FORBIDDEN"]
                    };
                    assert!(
                        expected.contains(&code.as_str()),
                        "{action:?} by {role:?} from {state:?} answered {code}"
                    );
                    assert_eq!(
                        m.fingerprint(&standing).await,
                        before,
                        "{action:?} by {role:?} from {state:?} changed something"
                    );
                }
            }
        }
    }
    assert!(moved > 40, "only {moved} allowed moves were exercised");
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn random_walks_keep_the_books_balanced() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let seed: u64 = std::env::var("ORDER_WALK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("ORDER_WALK_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let m = Market::new().await;
    let mut orders = Vec::new();
    for _ in 0..8 {
        orders.push((m.booking().await, OrderStatus::Requested));
    }
    let actors: [(Option<ActorRole>, &TestUser); 4] = [
        (Some(ActorRole::Client), &m.client),
        (Some(ActorRole::Freelancer), &m.freelancer),
        (Some(ActorRole::Admin), &m.admin),
        (None, &m.stranger),
    ];
    for step in 0..200 {
        let i = rng.random_range(0..orders.len());
        let (id, state) = orders[i].clone();
        // Mostly legal moves, so orders travel far; some illegal ones on the way.
        let legal: Vec<(Action, usize)> = API_ACTIONS
            .iter()
            .flat_map(|a| (0..actors.len()).map(move |k| (*a, k)))
            .filter(|(a, k)| allowed(state, *a, actors[*k].0).is_some())
            // Admin overrides end orders quickly; keep them rare.
            .filter(|(a, _)| !matches!(a, Action::ForceComplete | Action::ForceCancel) || rng.random_bool(0.2))
            .collect();
        let (action, k) = if !legal.is_empty() && rng.random_bool(0.75) {
            legal[rng.random_range(0..legal.len())]
        } else {
            (
                API_ACTIONS[rng.random_range(0..API_ACTIONS.len())],
                rng.random_range(0..actors.len()),
            )
        };
        let (role, user) = actors[k];
        // The machine allows a revision request from SUBMITTED; the package's revision limit
        // (one for the booked BASIC package) then refuses it with LIMIT_EXCEEDED.
        let revisions_left: i64 = one(
            &m.app,
            &format!("SELECT (revision_limit - revisions_used)::text AS value FROM orders WHERE id = '{id}'"),
        )
        .await
        .parse()
        .expect("revisions left");
        let r = m.act(&id, action, user).await;
        match allowed(state, action, role) {
            Some(_) if action == Action::RequestRevision && revisions_left <= 0 => {
                assert_eq!(r.code(), "LIMIT_EXCEEDED", "step {step}: {:#}", r.body);
            }
            Some(to) => {
                assert!(
                    r.body.get("errors").is_none(),
                    "step {step}: {action:?} by {role:?} from {state:?}: {:#}",
                    r.body
                );
                orders[i].1 = to;
            }
            None => assert!(
                r.body.get("errors").is_some(),
                "step {step}: {action:?} by {role:?} from {state:?} passed"
            ),
        }
        assert_eq!(m.status(&id).await, orders[i].1.as_str(), "step {step}");
        assert_books_balance(&m.app).await;
        if orders[i].1.is_final() {
            orders[i] = (m.booking().await, OrderStatus::Requested);
        }
    }
}

#[tokio::test]
async fn fifty_parallel_confirmations_or_approvals_move_money_once() {
    let m = Market::new().await;
    let submitted = m.drive(OrderStatus::PaymentSubmitted).await;
    let calls = (0..50).map(|_| m.act(&submitted, Action::ConfirmPayment, &m.freelancer));
    let answers = join_all(calls).await;
    let won = answers.iter().filter(|r| r.body.get("errors").is_none()).count();
    assert_eq!(won, 1);
    assert!(answers
        .iter()
        .filter(|r| r.body.get("errors").is_some())
        .all(|r| r.code() == "CONFLICT"));
    let funds = one(
        &m.app,
        &format!(
            "SELECT count(*)::text AS value FROM ledger_transactions WHERE order_id = '{submitted}' AND kind = 'FUND'"
        ),
    )
    .await;
    assert_eq!(funds, "1");

    let done = m.drive(OrderStatus::Submitted).await;
    let calls = (0..50).map(|_| m.act(&done, Action::ApproveWork, &m.client));
    let answers = join_all(calls).await;
    assert_eq!(answers.iter().filter(|r| r.body.get("errors").is_none()).count(), 1);
    assert!(answers
        .iter()
        .filter(|r| r.body.get("errors").is_some())
        .all(|r| r.code() == "CONFLICT"));
    let releases = one(
        &m.app,
        &format!(
            "SELECT count(*)::text AS value FROM ledger_transactions WHERE order_id = '{done}' AND kind = 'RELEASE'"
        ),
    )
    .await;
    assert_eq!(releases, "1");
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn two_clients_booking_one_date_one_wins() {
    let m = Market::new().await;
    let other = m.app.with_user().await;
    let date = m.next_day();
    let vars = json!({ "i": { "gigId": m.gig, "tier": "BASIC", "date": date } });
    // Requests may both be made; accepting blocks the date, so only one acceptance wins.
    let (a, b) = tokio::join!(
        m.app.gql_as(&m.client, BOOK, vars.clone()),
        m.app.gql_as(&other, BOOK, vars.clone())
    );
    let (a, b) = (
        a.data()["requestBooking"]["id"].as_str().unwrap().to_owned(),
        b.data()["requestBooking"]["id"].as_str().unwrap().to_owned(),
    );
    let (ra, rb) = tokio::join!(
        m.act(&a, Action::Accept, &m.freelancer),
        m.act(&b, Action::Accept, &m.freelancer)
    );
    let wins = [&ra, &rb].iter().filter(|r| r.body.get("errors").is_none()).count();
    assert_eq!(wins, 1, "{:#} {:#}", ra.body, rb.body);
    let loser = if ra.body.get("errors").is_some() { &ra } else { &rb };
    assert_eq!(loser.code(), "CONFLICT");

    // Direct orders for a date race the same way: one gets it.
    let date = m.next_day();
    let vars = json!({ "i": { "gigId": m.gig, "tier": "BASIC", "scheduledFor": date } });
    let (ra, rb) = tokio::join!(
        m.app.gql_as(&m.client, ORDER_GIG, vars.clone()),
        m.app.gql_as(&other, ORDER_GIG, vars.clone())
    );
    assert_eq!([&ra, &rb].iter().filter(|r| r.body.get("errors").is_none()).count(), 1);
    // And the taken date refuses new requests at once.
    let again = m
        .app
        .gql_as(
            &other,
            BOOK,
            json!({ "i": { "gigId": m.gig, "tier": "BASIC", "date": date } }),
        )
        .await;
    assert_eq!(again.code(), "CONFLICT");
    assert_eq!(
        one(
            &m.app,
            "SELECT count(*)::text AS value FROM availability_dates WHERE status = 'BOOKED'"
        )
        .await,
        "2"
    );
}

#[tokio::test]
async fn a_subscription_shows_related_records_as_they_are_at_each_delivery() {
    let m = Market::new().await;
    let id = m.booking().await;
    let mut ws = WsClient::connect(&m.app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&m.client.token)).await;
    ws.subscribe(
        "o",
        "subscription($id: ID!) { orderUpdated(orderId: $id, after: \"0\") { toStatus order { gig { title } } } }",
        json!({ "id": id }),
    )
    .await;
    let first = ws.next_data("o").await;
    let before = first["orderUpdated"]["order"]["gig"]["title"]
        .as_str()
        .unwrap()
        .to_owned();
    // The freelancer renames the gig, then accepts: the delivery shows the new title (the
    // subscription's loader keeps nothing from one delivery to the next).
    m.app
        .gql_as(
            &m.freelancer,
            "mutation($id: ID!, $i: UpdateGigInput!) { updateGig(id: $id, input: $i) { title } }",
            json!({ "id": m.gig, "i": { "title": "A renamed gig, fresh in every delivery" } }),
        )
        .await
        .data();
    m.ok(&id, Action::Accept, &m.freelancer).await;
    let second = ws.next_data("o").await;
    assert_eq!(second["orderUpdated"]["toStatus"], "PENDING_PAYMENT");
    assert_ne!(before, "A renamed gig, fresh in every delivery");
    assert_eq!(
        second["orderUpdated"]["order"]["gig"]["title"],
        "A renamed gig, fresh in every delivery"
    );
}

#[tokio::test]
async fn subscribers_see_every_transition_once_in_order() {
    let m = Market::new().await;
    let id = m.booking().await;
    let mut ws = WsClient::connect(&m.app.ws_url(), TRANSPORT_WS).await;
    ws.init(Some(&m.client.token)).await;
    // Resuming from the start makes the test independent of when the subscription lands.
    ws.subscribe(
        "o",
        "subscription($id: ID!, $after: String) { orderUpdated(orderId: $id, after: $after) { action fromStatus toStatus eventCursor order { status history { action } } } }",
        json!({ "id": id, "after": "0" }),
    )
    .await;
    let steps = [
        (Action::Accept, false),
        (Action::SubmitPaymentProof, true),
        (Action::ConfirmPayment, false),
        (Action::StartWork, false),
        (Action::SubmitWork, false),
        (Action::RequestRevision, true),
        (Action::SubmitWork, false),
        (Action::ApproveWork, true),
    ];
    for (action, by_client) in steps {
        m.ok(&id, action, if by_client { &m.client } else { &m.freelancer })
            .await;
    }
    let mut seen = Vec::new();
    let mut last_cursor = 0i64;
    for expected in 0..=steps.len() {
        let data = ws.next_data("o").await;
        let update = &data["orderUpdated"];
        let cursor: i64 = update["eventCursor"].as_str().unwrap().parse().unwrap();
        assert!(cursor > last_cursor, "cursors grow");
        last_cursor = cursor;
        assert_eq!(update["order"]["status"], update["toStatus"]);
        if expected == steps.len() {
            // The subscription's loader is cleared per delivery: the last sees every step.
            assert_eq!(update["order"]["history"].as_array().unwrap().len(), steps.len() + 1);
        }
        seen.push(update["toStatus"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen,
        [
            "REQUESTED",
            "PENDING_PAYMENT",
            "PAYMENT_SUBMITTED",
            "PAYMENT_CONFIRMED",
            "IN_PROGRESS",
            "SUBMITTED",
            "REVISION_REQUESTED",
            "SUBMITTED",
            "COMPLETED"
        ]
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.expect_json().await["type"], "pong", "nothing delivered twice");

    // Outsiders cannot subscribe.
    let mut outsider = WsClient::connect(&m.app.ws_url(), TRANSPORT_WS).await;
    outsider.init(Some(&m.stranger.token)).await;
    outsider
        .subscribe(
            "x",
            "subscription($id: ID!) { orderUpdated(orderId: $id) { action } }",
            json!({ "id": id }),
        )
        .await;
    let refused = outsider.expect_json().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "NOT_FOUND");
}

async fn order(m: &Market, user: &TestUser, id: &str) -> Value {
    m.app.gql_as(user, ORDER, json!({ "id": id })).await.data()["order"].clone()
}

async fn balance(m: &Market, user: &TestUser) -> Value {
    m.app
        .gql_as(
            user,
            "{ myBalance { currency availableCents pendingCents } }",
            json!({}),
        )
        .await
        .data()["myBalance"]
        .clone()
}

#[tokio::test]
async fn a_gig_order_from_payment_to_cleared_earnings() {
    let m = Market::new().await;
    let created = m
        .app
        .gql_as(
            &m.client,
            ORDER_GIG,
            json!({ "i": { "gigId": m.gig, "tier": "BASIC", "requirements": "Saturday evening" } }),
        )
        .await;
    let o = &created.data()["orderGig"];
    assert_eq!(
        (&o["status"], &o["amountCents"], &o["revisionLimit"], &o["onSite"]),
        (&json!("PENDING_PAYMENT"), &json!(PRICE), &json!(1), &json!(false))
    );
    let id = o["id"].as_str().unwrap().to_owned();

    // The proof must name the order amount.
    let short = m
        .app
        .gql_as(
            &m.client,
            "mutation($id: ID!) { submitPaymentProof(orderId: $id, input: { reference: \"TX-1\", payerName: \"Ann\", amountCents: 5 }) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        (short.code(), short.fields()),
        ("VALIDATION_ERROR", vec!["amountCents".to_owned()])
    );
    m.ok(&id, Action::SubmitPaymentProof, &m.client).await;
    m.ok(&id, Action::RejectPaymentProof, &m.freelancer).await;
    assert_eq!(m.status(&id).await, "PENDING_PAYMENT");
    m.ok(&id, Action::SubmitPaymentProof, &m.client).await;
    m.ok(&id, Action::ConfirmPayment, &m.freelancer).await;
    let funded = order(&m, &m.client, &id).await;
    assert_eq!((&funded["feeBps"], &funded["feeCents"]), (&json!(800), &json!(800)));
    assert_eq!(
        funded["paymentProofs"],
        json!([{ "status": "REJECTED", "amountCents": PRICE }, { "status": "CONFIRMED", "amountCents": PRICE }])
    );
    assert!(funded["fundedAt"].is_string());

    m.ok(&id, Action::StartWork, &m.freelancer).await;
    m.ok(&id, Action::SubmitWork, &m.freelancer).await;
    m.ok(&id, Action::RequestRevision, &m.client).await;
    m.ok(&id, Action::SubmitWork, &m.freelancer).await;
    // BASIC includes one revision.
    let more = m.act(&id, Action::RequestRevision, &m.client).await;
    assert_eq!(more.code(), "LIMIT_EXCEEDED");
    m.ok(&id, Action::ApproveWork, &m.client).await;

    let done = order(&m, &m.freelancer, &id).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["revisionsUsed"], 1);
    assert_eq!(
        done["deliverables"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["revision"].clone())
            .collect::<Vec<_>>(),
        [json!(0), json!(1)]
    );
    let actions: Vec<&str> = done["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "CREATE",
            "SUBMIT_PAYMENT_PROOF",
            "REJECT_PAYMENT_PROOF",
            "SUBMIT_PAYMENT_PROOF",
            "CONFIRM_PAYMENT",
            "START_WORK",
            "SUBMIT_WORK",
            "REQUEST_REVISION",
            "SUBMIT_WORK",
            "APPROVE_WORK"
        ]
    );
    assert_eq!(done["availableActions"], json!([]));

    // Released: the freelancer's net is pending, the fee is the platform's.
    assert_eq!(
        balance(&m, &m.freelancer).await,
        json!([{ "currency": "USD", "availableCents": 0, "pendingCents": PRICE - 800 }])
    );
    assert_eq!(balance(&m, &m.client).await, json!([]));
    let ledger = m
        .app
        .gql_as(
            &m.freelancer,
            "{ myLedger { totalCount edges { node { amountCents balance kind order { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ledger.data()["myLedger"],
        json!({ "totalCount": 1, "edges": [{ "node": { "amountCents": PRICE - 800, "balance": "PENDING", "kind": "RELEASE", "order": { "id": id } } }] })
    );

    // After the hold, earnings clear into the available balance (once, however often the job runs).
    release_escrow(&m.app).await;
    assert_eq!(balance(&m, &m.freelancer).await[0]["pendingCents"], PRICE - 800);
    m.app
        .sql(&format!(
            "UPDATE orders SET settled_at = now() - interval '25 hours' WHERE id = '{id}'"
        ))
        .await;
    release_escrow(&m.app).await;
    release_escrow(&m.app).await;
    assert_eq!(
        balance(&m, &m.freelancer).await,
        json!([{ "currency": "USD", "availableCents": PRICE - 800, "pendingCents": 0 }])
    );
    assert_books_balance(&m.app).await;

    // A third user neither sees nor touches the order.
    assert_eq!(order(&m, &m.stranger, &id).await, json!(null));
    let mine = m
        .app
        .gql_as(&m.stranger, "{ myOrders { totalCount } }", json!({}))
        .await;
    assert_eq!(mine.data()["myOrders"]["totalCount"], 0);
    for (side, expected) in [("CLIENT", (1, 0)), ("FREELANCER", (0, 1))] {
        let q = format!("{{ myOrders(side: {side}) {{ totalCount edges {{ node {{ id }} }} }} }}");
        let client = m.app.gql_as(&m.client, &q, json!({})).await.data()["myOrders"]["totalCount"].clone();
        let freelancer = m.app.gql_as(&m.freelancer, &q, json!({})).await.data()["myOrders"]["totalCount"].clone();
        assert_eq!((client, freelancer), (json!(expected.0), json!(expected.1)), "{side}");
    }
}

#[tokio::test]
async fn cancelling_refunds_and_admin_overrides_are_audited() {
    let m = Market::new().await;
    let funded = m.drive(OrderStatus::PaymentConfirmed).await;
    m.ok(&funded, Action::Cancel, &m.freelancer).await;
    assert_eq!(
        balance(&m, &m.client).await,
        json!([{ "currency": "USD", "availableCents": PRICE, "pendingCents": 0 }])
    );
    // The booked day is free again.
    assert_eq!(
        one(
            &m.app,
            &format!("SELECT count(*)::text AS value FROM availability_dates WHERE order_id = '{funded}'")
        )
        .await,
        "0"
    );

    let disputed = m.drive(OrderStatus::Disputed).await;
    assert_eq!(
        order(&m, &m.client, &disputed).await["disputes"],
        json!([{ "status": "OPEN" }])
    );
    let by_client = m.act(&disputed, Action::ForceComplete, &m.client).await;
    assert_eq!(by_client.code(), "FORBIDDEN");
    let bad = m
        .app
        .gql_as(
            &m.admin,
            "mutation($id: ID!) { overrideOrderStatus(id: $id, status: IN_PROGRESS, reason: \"Try\") { status } }",
            json!({ "id": disputed }),
        )
        .await;
    assert_eq!(
        (bad.code(), bad.fields()),
        ("VALIDATION_ERROR", vec!["status".to_owned()])
    );
    m.ok(&disputed, Action::ForceComplete, &m.admin).await;
    let settled = order(&m, &m.admin, &disputed).await;
    assert_eq!(settled["disputes"], json!([{ "status": "RESOLVED_FREELANCER" }]));
    assert_eq!(
        settled["history"].as_array().unwrap().last().unwrap()["actorRole"],
        "ADMIN"
    );
    assert_eq!(balance(&m, &m.freelancer).await[0]["pendingCents"], PRICE - 800);

    let log = m
        .app
        .gql_as(
            &m.admin,
            "{ auditLog(filter: { targetType: \"ORDER\" }) { totalCount edges { node { action reason targetId actor { id } data } } } }",
            json!({}),
        )
        .await;
    let log = &log.data()["auditLog"];
    assert_eq!(log["totalCount"], 1);
    let entry = &log["edges"][0]["node"];
    assert_eq!(
        (
            &entry["action"],
            &entry["reason"],
            &entry["targetId"],
            &entry["actor"]["id"]
        ),
        (
            &json!("order.force_complete"),
            &json!("Evidence shows delivery"),
            &json!(disputed),
            &json!(m.admin.id)
        )
    );
    assert_eq!(
        (&entry["data"]["from"], &entry["data"]["to"]),
        (&json!("DISPUTED"), &json!("COMPLETED"))
    );
    // The override settled the open dispute: recorded with what each side received.
    let settled = &entry["data"]["dispute"];
    assert_eq!(
        (&settled["status"], &settled["clientCents"], &settled["freelancerCents"]),
        (&json!("RESOLVED_FREELANCER"), &json!(0), &json!(PRICE))
    );
    let refused = m.app.gql_as(&m.client, "{ auditLog { totalCount } }", json!({})).await;
    assert_eq!(refused.code(), "FORBIDDEN");
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn the_ledger_and_audit_log_refuse_changes_in_the_database_itself() {
    use diesel_async::SimpleAsyncConnection;
    let m = Market::new().await;
    let id = m.drive(OrderStatus::Disputed).await;
    m.ok(&id, Action::ForceCancel, &m.admin).await;
    let mut conn = m.app.state.db.conn().await.unwrap();
    for sql in [
        "UPDATE ledger_entries SET amount_cents = amount_cents * 2",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transactions SET memo = 'x'",
        "DELETE FROM ledger_transactions",
        "TRUNCATE ledger_entries CASCADE",
        "UPDATE audit_log SET reason = 'x'",
        "DELETE FROM audit_log",
    ] {
        let err = conn.batch_execute(sql).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    // An unbalanced transaction fails at commit.
    let err = conn
        .batch_execute(
            "BEGIN; INSERT INTO ledger_transactions (id, kind, idempotency_key) VALUES (gen_random_uuid(), 'FUND', 'manual'); \
             INSERT INTO ledger_entries (transaction_id, account_id, amount_cents) \
               SELECT t.id, a.id, 5 FROM ledger_transactions t, ledger_accounts a \
               WHERE t.idempotency_key = 'manual' AND a.kind = 'EXTERNAL'; COMMIT;",
        )
        .await
        .expect_err("unbalanced");
    assert!(err.to_string().contains("unbalanced"), "{err}");
    conn.batch_execute("ROLLBACK").await.ok();
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn accepting_an_application_hires_and_turns_the_others_down() {
    let m = Market::new().await;
    let poster = &m.client;
    let task = json!({
        "title": "Build our booking API",
        "description": "We need someone to build this for us, with tests and a short handover document.",
        "category": "development", "skillsRequired": ["Rust"], "budgetType": "FIXED",
        "budgetMinCents": 100000, "budgetMaxCents": 300000, "duration": "ONE_TO_FOUR_WEEKS", "locationType": "REMOTE",
    });
    let posted = m
        .app
        .gql_as(
            poster,
            "mutation($i: PostTaskInput!) { postTask(input: $i) { id } }",
            json!({ "i": { "task": task } }),
        )
        .await;
    let task_id = posted.data()["postTask"]["id"].as_str().unwrap().to_owned();
    let apply = "mutation($i: ApplyToTaskInput!) { applyToTask(input: $i) { id revisions } }";
    let letter = "I have built three of these before; here is how I would approach yours.";
    let chosen = m
        .app
        .gql_as(
            &m.freelancer,
            apply,
            json!({ "i": { "taskId": task_id, "coverLetter": letter, "proposedRateCents": 250000, "proposedTimeline": "3 weeks",
                           "revisions": 3,
                           "milestones": [{ "title": "API", "amountCents": 150000, "dueInDays": 7 },
                                          { "title": "Handover", "amountCents": 50000, "dueInDays": 14 }] } }),
        )
        .await;
    assert_eq!(chosen.data()["applyToTask"]["revisions"], 3);
    let chosen = chosen.data()["applyToTask"]["id"].as_str().unwrap().to_owned();
    let other = m
        .app
        .gql_as(
            &m.stranger,
            apply,
            json!({ "i": { "taskId": task_id, "coverLetter": letter, "proposedRateCents": 200000, "proposedTimeline": "2 weeks" } }),
        )
        .await;
    let other = other.data()["applyToTask"]["id"].as_str().unwrap().to_owned();

    let accept = "mutation($id: ID!) { acceptApplication(id: $id) { id status origin amountCents revisionLimit milestones { title amountCents } task { id status } application { id status } } }";
    let by_applicant = m.app.gql_as(&m.freelancer, accept, json!({ "id": chosen })).await;
    assert_eq!(by_applicant.code(), "NOT_FOUND");
    let hired = m.app.gql_as(poster, accept, json!({ "id": chosen })).await;
    let o = &hired.data()["acceptApplication"];
    assert_eq!(o["status"], "PENDING_PAYMENT");
    assert_eq!(o["origin"], "APPLICATION");
    assert_eq!(o["amountCents"], 200000);
    assert_eq!(o["revisionLimit"], 3);
    assert_eq!(
        o["milestones"],
        json!([{ "title": "API", "amountCents": 150000 }, { "title": "Handover", "amountCents": 50000 }])
    );
    assert_eq!(o["task"]["status"], "ASSIGNED");
    assert_eq!(o["application"]["status"], "ACCEPTED");
    let again = m.app.gql_as(poster, accept, json!({ "id": other })).await;
    assert_eq!(again.code(), "CONFLICT");
    let turned_down = one(
        &m.app,
        &format!("SELECT status AS value FROM applications WHERE id = '{other}'"),
    )
    .await;
    assert_eq!(turned_down, "REJECTED");
    let told = m
        .app
        .gql_as(
            &m.stranger,
            "{ notifications { edges { node { kind title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        told.data()["notifications"]["edges"][0]["node"],
        json!({ "kind": "APPLICATION_STATUS", "title": "The task was assigned to someone else" })
    );
    // The order follows the task: cancelling before work reopens it.
    let id = o["id"].as_str().unwrap().to_owned();
    m.ok(&id, Action::Cancel, poster).await;
    assert_eq!(
        one(
            &m.app,
            &format!("SELECT status AS value FROM tasks WHERE id = '{task_id}'")
        )
        .await,
        "OPEN"
    );
}

#[tokio::test]
async fn on_site_orders_start_and_end_with_single_use_codes() {
    let m = Market::new().await;
    let created = m
        .app
        .gql_as(
            &m.client,
            ORDER_GIG,
            json!({ "i": { "gigId": m.gig, "tier": "PREMIUM", "eventLocation": "Town hall, Main Street 1" } }),
        )
        .await;
    assert_eq!(created.data()["orderGig"]["onSite"], true);
    let id = created.data()["orderGig"]["id"].as_str().unwrap().to_owned();
    let issue =
        "mutation($id: ID!, $p: OrderCodePurpose!) { issueOrderCode(orderId: $id, purpose: $p) { code expiresAt } }";
    let early = m.app.gql_as(&m.client, issue, json!({ "id": id, "p": "START" })).await;
    assert_eq!(early.code(), "CONFLICT", "no start code before payment");
    let proof = json!({ "id": id, "p": { "reference": "TX-9", "payerName": "Ann", "amountCents": PRICE * 3 } });
    m.app
        .gql_as(
            &m.client,
            "mutation($id: ID!, $p: PaymentProofInput!) { submitPaymentProof(orderId: $id, input: $p) { status } }",
            proof,
        )
        .await
        .data();
    m.ok(&id, Action::ConfirmPayment, &m.freelancer).await;

    let start = "mutation($id: ID!, $c: String) { startWork(orderId: $id, code: $c) { status } }";
    let missing = m.app.gql_as(&m.freelancer, start, json!({ "id": id })).await;
    assert_eq!(
        (missing.code(), missing.fields()),
        ("VALIDATION_ERROR", vec!["code".to_owned()])
    );
    let not_yours = m
        .app
        .gql_as(&m.freelancer, issue, json!({ "id": id, "p": "START" }))
        .await;
    assert_eq!(not_yours.code(), "FORBIDDEN");
    let issued = m.app.gql_as(&m.client, issue, json!({ "id": id, "p": "START" })).await;
    let code = issued.data()["issueOrderCode"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    let stored = one(
        &m.app,
        &format!("SELECT encode(code_hash, 'hex') AS value FROM order_codes WHERE order_id = '{id}'"),
    )
    .await;
    assert!(!stored.contains(&code) && stored.len() == 64, "stored hashed");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let r = m
            .app
            .gql_as(&m.freelancer, start, json!({ "id": id, "c": wrong }))
            .await;
        assert_eq!(r.code(), "VALIDATION_ERROR");
    }
    let locked = m.app.gql_as(&m.freelancer, start, json!({ "id": id, "c": code })).await;
    assert_eq!(locked.code(), "VALIDATION_ERROR", "five wrong attempts spend the code");
    let issued = m.app.gql_as(&m.client, issue, json!({ "id": id, "p": "START" })).await;
    let code = issued.data()["issueOrderCode"]["code"].as_str().unwrap().to_owned();
    let started = m.app.gql_as(&m.freelancer, start, json!({ "id": id, "c": code })).await;
    assert_eq!(started.data()["startWork"]["status"], "IN_PROGRESS");
    assert!(one(&m.app, &format!("SELECT (used_at IS NOT NULL)::text AS value FROM order_codes WHERE order_id = '{id}' AND purpose = 'START'")).await == "true");

    m.ok(&id, Action::SubmitWork, &m.freelancer).await;
    let approve = "mutation($id: ID!, $c: String) { approveWork(orderId: $id, code: $c) { status } }";
    let issued = m.app.gql_as(&m.client, issue, json!({ "id": id, "p": "END" })).await;
    let end = issued.data()["issueOrderCode"]["code"].as_str().unwrap().to_owned();
    let done = m
        .app
        .gql_as(&m.freelancer, approve, json!({ "id": id, "c": end }))
        .await;
    assert_eq!(done.data()["approveWork"]["status"], "COMPLETED");
    assert_eq!(balance(&m, &m.freelancer).await[0]["pendingCents"], PRICE * 3 - 2_400);
}

#[tokio::test]
async fn idempotency_keys_replay_the_first_answer_and_refuse_other_arguments() {
    let m = Market::new().await;
    let first = m.drive(OrderStatus::PaymentSubmitted).await;
    let second = m.drive(OrderStatus::PaymentSubmitted).await;
    let send = |id: &str, key: &str| {
        let request = m
            .app
            .client
            .post(m.app.url("/graphql"))
            .bearer_auth(&m.freelancer.token)
            .header("Idempotency-Key", key)
            .json(&json!({ "query": "mutation($id: ID!) { confirmPayment(orderId: $id) { id status fundedAt } }", "variables": { "id": id } }));
        m.app.send(request)
    };
    let a = send(&first, "confirm-1").await;
    assert_eq!(a.data()["confirmPayment"]["status"], "PAYMENT_CONFIRMED");
    let replay = send(&first, "confirm-1").await;
    assert_eq!(replay.body, a.body, "the same answer, not a CONFLICT");
    assert_eq!(replay.headers.get("idempotent-replayed").unwrap(), "true");
    let funds = one(
        &m.app,
        "SELECT count(*)::text AS value FROM ledger_transactions WHERE kind = 'FUND'",
    )
    .await;
    assert_eq!(funds, "1");
    let other = send(&second, "confirm-1").await;
    assert_eq!(other.status.as_u16(), 422);
    assert_eq!(other.code(), "CONFLICT");
    assert_eq!(m.status(&second).await, "PAYMENT_SUBMITTED");
    // Without a key a retry is simply refused by the state machine.
    let plain = m.act(&first, Action::ConfirmPayment, &m.freelancer).await;
    assert_eq!(plain.code(), "CONFLICT");
    let bad = send(&second, "has spaces in it").await;
    assert_eq!(
        (bad.code(), bad.fields()),
        ("VALIDATION_ERROR", vec!["Idempotency-Key".to_owned()])
    );
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn boards_checklists_and_the_calendar() {
    let m = Market::new().await;
    let id = m.drive(OrderStatus::InProgress).await;
    let add = "mutation($id: ID!, $t: String!) { addBoardItem(orderId: $id, title: $t) { id status } }";
    let item = m
        .app
        .gql_as(&m.client, add, json!({ "id": id, "t": "Sound check" }))
        .await;
    let item = item.data()["addBoardItem"]["id"].as_str().unwrap().to_owned();
    let outsider = m.app.gql_as(&m.stranger, add, json!({ "id": id, "t": "Nope" })).await;
    assert_eq!(outsider.code(), "NOT_FOUND");
    let empty = m.app.gql_as(&m.client, add, json!({ "id": id, "t": "  " })).await;
    assert_eq!(empty.fields(), ["title"]);
    let moved = m
        .app
        .gql_as(
            &m.freelancer,
            "mutation($id: ID!) { moveBoardItem(id: $id, status: DONE) { status } }",
            json!({ "id": item }),
        )
        .await;
    assert_eq!(moved.data()["moveBoardItem"]["status"], "DONE");
    let milestone = order(&m, &m.client, &id).await["milestones"][0]["id"].clone();
    let checklist = m
        .app
        .gql_as(
            &m.freelancer,
            "mutation($id: ID!, $items: [ChecklistItemInput!]!) { setMilestoneChecklist(milestoneId: $id, items: $items) { checklist { text done } } }",
            json!({ "id": milestone, "items": [{ "text": "Two sets played", "done": true }, { "text": "Encore" }] }),
        )
        .await;
    assert_eq!(
        checklist.data()["setMilestoneChecklist"]["checklist"],
        json!([{ "text": "Two sets played", "done": true }, { "text": "Encore", "done": false }])
    );
    let gone = m
        .app
        .gql_as(
            &m.stranger,
            "mutation($id: ID!) { deleteBoardItem(id: $id) }",
            json!({ "id": item }),
        )
        .await;
    assert_eq!(gone.code(), "NOT_FOUND");
    m.app
        .gql_as(
            &m.client,
            "mutation($id: ID!) { deleteBoardItem(id: $id) }",
            json!({ "id": item }),
        )
        .await
        .data();
    assert_eq!(order(&m, &m.client, &id).await["board"], json!([]));

    // The calendar: block a day, bookings of it are refused; booked days cannot be freed.
    let set = "mutation($i: SetAvailabilityDatesInput!) { setAvailabilityDates(input: $i) { date status } }";
    let blocked = m.next_day();
    m.app
        .gql_as(
            &m.freelancer,
            set,
            json!({ "i": { "dates": [blocked], "available": false } }),
        )
        .await
        .data();
    let refused = m
        .app
        .gql_as(
            &m.client,
            BOOK,
            json!({ "i": { "gigId": m.gig, "tier": "BASIC", "date": blocked } }),
        )
        .await;
    assert_eq!(refused.code(), "CONFLICT");
    let booked_day = one(
        &m.app,
        &format!("SELECT scheduled_for::text AS value FROM orders WHERE id = '{id}'"),
    )
    .await;
    let free_it = m
        .app
        .gql_as(
            &m.freelancer,
            set,
            json!({ "i": { "dates": [booked_day], "available": true } }),
        )
        .await;
    assert_eq!(free_it.code(), "CONFLICT");
    let past = m
        .app
        .gql_as(
            &m.freelancer,
            set,
            json!({ "i": { "dates": ["2020-01-01"], "available": false } }),
        )
        .await;
    assert_eq!(past.fields(), ["dates"]);
    let today = chrono::Utc::now().date_naive();
    let calendar = m
        .app
        .gql_as(
            &m.client,
            "query($u: ID!, $f: Date!, $t: Date!) { availability(userId: $u, from: $f, to: $t) { date status } }",
            json!({ "u": m.freelancer.id, "f": today.to_string(), "t": (today + chrono::Duration::days(10)).to_string() }),
        )
        .await;
    let days = calendar.data()["availability"].as_array().unwrap().clone();
    assert_eq!(days.len(), 11);
    let status_of = |d: &str| days.iter().find(|x| x["date"] == d).unwrap()["status"].clone();
    assert_eq!(status_of(&blocked), "UNAVAILABLE");
    assert_eq!(status_of(&booked_day), "BOOKED");
    assert_eq!(status_of(&today.to_string()), "AVAILABLE");
}

#[tokio::test]
async fn contact_details_pass_once_the_parties_share_an_order() {
    let m = Market::new().await;
    let conversation = crate::realtime::conversation(&m.app, &m.client, &m.freelancer).await;
    let send = "mutation($i: SendMessageInput!) { sendMessage(input: $i) { content masked } }";
    let text = "Call me on +1 (555) 123-4567";
    let before = m
        .app
        .gql_as(
            &m.client,
            send,
            json!({ "i": { "conversationId": conversation, "content": text } }),
        )
        .await;
    assert_eq!(before.data()["sendMessage"]["masked"], true);
    // A request the freelancer has not accepted is no hire yet.
    let id = m.booking().await;
    let requested = m
        .app
        .gql_as(
            &m.client,
            send,
            json!({ "i": { "conversationId": conversation, "content": text } }),
        )
        .await;
    assert_eq!(requested.data()["sendMessage"]["masked"], true);
    m.ok(&id, Action::Accept, &m.freelancer).await;
    let after = m
        .app
        .gql_as(
            &m.client,
            send,
            json!({ "i": { "conversationId": conversation, "content": text } }),
        )
        .await;
    assert_eq!(after.data()["sendMessage"], json!({ "content": text, "masked": false }));
}

#[tokio::test]
async fn a_page_of_orders_costs_the_same_statements_for_one_or_many() {
    let m = Market::new().await;
    let query = "{ myOrders(first: 20) { edges { node { id status client { username } freelancer { username } gig { title } \
                 milestones { title } history { action actor { username } } paymentProofs { status } deliverables { message } \
                 board { title } disputes { status } } } } }";
    let mut costs = Vec::new();
    for more in [1, 5] {
        for _ in 0..more {
            m.drive(OrderStatus::PaymentSubmitted).await;
        }
        let before = m.app.statements();
        let response = m.app.gql_as(&m.client, query, json!({})).await;
        let returned = response.data()["myOrders"]["edges"].as_array().unwrap().len();
        costs.push((returned, m.app.statements() - before));
    }
    assert_eq!((costs[0].0, costs[1].0), (1, 6));
    // At most one statement per relation and nesting level, however many orders: sign-in
    // check, the page, then client+freelancer, gig and the six lists (one batch each), then
    // the history's actors. Users of both levels may share a batch or not (zero-delay
    // batching), so the count is bounded rather than fixed.
    const BOUND: u64 = 1 + 1 + 8 + 1;
    assert!(
        costs.iter().all(|(_, statements)| *statements <= BOUND),
        "statements for 1 vs 6 orders: {costs:?}"
    );
}
