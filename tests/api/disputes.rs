//! Disputes through the public API: evidence of each kind, a mediator, and rulings that move
//! the escrow through the ledger — a split hammered by 20 concurrent rulings, each side's
//! ruling, and a dismissal that puts the order back where it stood.

use futures_util::future::join_all;
use gigmarket::order::model::OrderStatus;
use serde_json::{json, Value};

use crate::{
    common::{Gql, TestApp, TestUser},
    orders::{assert_books_balance, one, Market},
};

const DISPUTE_OF: &str = "query($id: ID!) { order(id: $id) { status dispute { id status } } }";
const DISPUTE: &str = "query($id: ID!) { dispute(id: $id) { id status reason fromCardIssuer openedBy { id } mediator { id } assignedAt resolvedAt resolvedBy { id } resolutionNote splitBps clientCents freelancerCents order { id status } evidence { kind note url author { id } message { id content } file { fileName contentType sizeBytes } } } }";
const EVIDENCE: &str = "mutation($d: ID!, $i: DisputeEvidenceInput!) { addDisputeEvidence(disputeId: $d, input: $i) { id kind note url } }";
const ASSIGN: &str =
    "mutation($d: ID!, $m: ID) { assignDispute(disputeId: $d, mediatorId: $m) { status mediator { id } } }";
const RESOLVE: &str = "mutation($d: ID!, $o: DisputeOutcome!, $s: Int, $n: String!) { resolveDispute(disputeId: $d, outcome: $o, splitBps: $s, note: $n) { status splitBps clientCents freelancerCents order { status } } }";
/// The market's booking: $100.00 at the default 800 bps fee.
const PRICE: i64 = 10_000;

/// The order's current dispute id.
async fn dispute_of(m: &Market, order: &str) -> String {
    let r = m.app.gql_as(&m.client, DISPUTE_OF, json!({ "id": order })).await;
    assert_eq!(r.data()["order"]["status"], "DISPUTED", "{:#}", r.body);
    r.data()["order"]["dispute"]["id"]
        .as_str()
        .expect("dispute id")
        .to_owned()
}

async fn resolve(m: &Market, dispute: &str, outcome: &str, split: Option<i32>, note: &str) -> Gql {
    m.app
        .gql_as(
            &m.admin,
            RESOLVE,
            json!({ "d": dispute, "o": outcome, "s": split, "n": note }),
        )
        .await
}

/// A ledger account's balance: a user's (`owner`) or the platform's.
async fn balance(app: &TestApp, owner: Option<&TestUser>, kind: &str) -> i64 {
    let owner = owner.map_or("owner_id IS NULL".to_owned(), |u| format!("owner_id = '{}'", u.id));
    one(
        app,
        &format!("SELECT COALESCE(sum(balance_cents), 0)::text AS value FROM ledger_accounts WHERE {owner} AND kind = '{kind}'"),
    )
    .await
    .parse()
    .expect("a number")
}

/// (client available, freelancer pending, platform fees, platform escrow).
async fn balances(m: &Market) -> [i64; 4] {
    [
        balance(&m.app, Some(&m.client), "USER_AVAILABLE").await,
        balance(&m.app, Some(&m.freelancer), "USER_PENDING").await,
        balance(&m.app, None, "PLATFORM_FEES").await,
        balance(&m.app, None, "PLATFORM_ESCROW").await,
    ]
}

/// The id of a message `from` sends `to` in their direct conversation.
async fn message(app: &TestApp, from: &TestUser, to: &TestUser, content: &str) -> String {
    let started = app
        .gql_as(
            from,
            "mutation($p: ID!) { startConversation(participantId: $p) { id } }",
            json!({ "p": to.id }),
        )
        .await;
    let conversation = started.data()["startConversation"]["id"].clone();
    let sent = app
        .gql_as(
            from,
            "mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }",
            json!({ "i": { "conversationId": conversation, "content": content } }),
        )
        .await;
    sent.data()["sendMessage"]["id"]
        .as_str()
        .expect("message id")
        .to_owned()
}

/// FILE evidence: a multipart request with a small PDF.
async fn file_evidence(app: &TestApp, author: &TestUser, dispute: &str) -> Gql {
    let operations = json!({
        "query": "mutation($d: ID!, $i: DisputeEvidenceInput!, $f: Upload) { addDisputeEvidence(disputeId: $d, input: $i, file: $f) { id kind file { fileName contentType } } }",
        "variables": { "d": dispute, "i": { "kind": "FILE", "note": "The signed set list" }, "f": null },
    });
    let pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", r#"{ "0": ["variables.f"] }"#)
        .part("0", reqwest::multipart::Part::bytes(pdf).file_name("setlist.pdf"));
    app.send(
        app.client
            .post(app.url("/graphql"))
            .bearer_auth(&author.token)
            .header("graphql-preflight", "1")
            .multipart(form),
    )
    .await
}

fn no_errors(r: &Gql) -> &Value {
    assert!(r.body.get("errors").is_none(), "{:#}", r.body);
    r.data()
}

#[tokio::test]
async fn a_dispute_with_evidence_of_each_kind_split_30_70_moves_exactly_those_amounts_once() {
    let m = Market::new().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::Disputed).await;
    let dispute = dispute_of(&m, &order).await;

    // Evidence of each kind, by either party.
    let said = message(app, &m.client, &m.freelancer, "You promised two full sets.").await;
    let kinds = [
        (
            &m.client,
            json!({ "kind": "MESSAGE", "ref": said, "note": "The promise" }),
        ),
        (
            &m.freelancer,
            json!({ "kind": "LINK", "ref": "https://example.com/recording" }),
        ),
        (
            &m.client,
            json!({ "kind": "NOTE", "note": "The second set lasted ten minutes." }),
        ),
    ];
    for (author, input) in kinds {
        no_errors(&app.gql_as(author, EVIDENCE, json!({ "d": dispute, "i": input })).await);
    }
    let file = file_evidence(app, &m.freelancer, &dispute).await;
    assert_eq!(
        no_errors(&file)["addDisputeEvidence"]["file"],
        json!({ "fileName": "setlist.pdf", "contentType": "application/pdf" })
    );

    // What is refused, and why.
    let elsewhere = message(app, &m.client, &m.stranger, "Unrelated").await;
    let refused = [
        (&m.client, json!({ "kind": "MESSAGE", "ref": elsewhere }), "ref"),
        (&m.client, json!({ "kind": "MESSAGE", "ref": "not-an-id" }), "ref"),
        (
            &m.client,
            json!({ "kind": "LINK", "ref": "ftp://example.com/x" }),
            "ref",
        ),
        (&m.client, json!({ "kind": "NOTE" }), "note"),
        (
            &m.client,
            json!({ "kind": "NOTE", "note": "x", "ref": "https://example.com" }),
            "ref",
        ),
        (&m.freelancer, json!({ "kind": "FILE" }), "file"),
    ];
    for (author, input, field) in refused {
        let r = app
            .gql_as(author, EVIDENCE, json!({ "d": dispute, "i": input.clone() }))
            .await;
        assert_eq!(r.fields(), [field], "{input}: {:#}", r.body);
    }
    let outsider = app
        .gql_as(
            &m.stranger,
            EVIDENCE,
            json!({ "d": dispute, "i": { "kind": "NOTE", "note": "me too" } }),
        )
        .await;
    assert_eq!(outsider.code(), "NOT_FOUND");
    let admin_evidence = app
        .gql_as(
            &m.admin,
            EVIDENCE,
            json!({ "d": dispute, "i": { "kind": "NOTE", "note": "admin" } }),
        )
        .await;
    assert_eq!(admin_evidence.code(), "FORBIDDEN");
    let hidden = app.gql_as(&m.stranger, DISPUTE, json!({ "id": dispute })).await;
    assert_eq!(hidden.data()["dispute"], Value::Null);

    // A mediator takes it on; the parties see the evidence in order.
    let assigned = app.gql_as(&m.admin, ASSIGN, json!({ "d": dispute, "m": null })).await;
    assert_eq!(
        no_errors(&assigned)["assignDispute"],
        json!({ "status": "IN_MEDIATION", "mediator": { "id": m.admin.id } })
    );
    let again = app
        .gql_as(&m.admin, ASSIGN, json!({ "d": dispute, "m": m.admin.id }))
        .await;
    assert_eq!(again.code(), "CONFLICT");
    let not_admin = app
        .gql_as(&m.admin, ASSIGN, json!({ "d": dispute, "m": m.client.id }))
        .await;
    assert_eq!(not_admin.fields(), ["mediatorId"]);
    let seen = app.gql_as(&m.freelancer, DISPUTE, json!({ "id": dispute })).await;
    let seen = &no_errors(&seen)["dispute"];
    let evidence = seen["evidence"].as_array().expect("evidence");
    let kinds: Vec<&str> = evidence.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds, ["MESSAGE", "LINK", "NOTE", "FILE"]);
    assert_eq!(evidence[0]["message"]["content"], "You promised two full sets.");
    assert_eq!(evidence[1]["url"], "https://example.com/recording");
    assert_eq!(seen["status"], "IN_MEDIATION");
    assert_eq!(seen["fromCardIssuer"], false);

    // A split without its share, or a share for another outcome, is refused.
    assert_eq!(
        resolve(&m, &dispute, "SPLIT", None, "Half done").await.fields(),
        ["splitBps"]
    );
    assert_eq!(
        resolve(&m, &dispute, "SPLIT", Some(10_000), "All of it").await.fields(),
        ["splitBps"]
    );
    assert_eq!(
        resolve(&m, &dispute, "CLIENT", Some(5_000), "Refund").await.fields(),
        ["splitBps"]
    );
    let stranger_rules = app
        .gql_as(
            &m.client,
            RESOLVE,
            json!({ "d": dispute, "o": "CLIENT", "s": null, "n": "Mine" }),
        )
        .await;
    assert_eq!(stranger_rules.code(), "FORBIDDEN");

    // 20 admins' rulings at once: 30 % to the client, 70 % to the freelancer. One wins.
    let before = balances(&m).await;
    let rulings = (0..20).map(|_| resolve(&m, &dispute, "SPLIT", Some(7_000), "Most of the work was delivered."));
    let answers = join_all(rulings).await;
    let won: Vec<&Gql> = answers.iter().filter(|r| r.body.get("errors").is_none()).collect();
    assert_eq!(won.len(), 1, "exactly one ruling wins");
    for lost in answers.iter().filter(|r| r.body.get("errors").is_some()) {
        assert_eq!(lost.code(), "CONFLICT", "{:#}", lost.body);
    }
    assert_eq!(
        won[0].data()["resolveDispute"],
        json!({
            "status": "RESOLVED_SPLIT", "splitBps": 7000, "clientCents": 3000, "freelancerCents": 7000,
            "order": { "status": "COMPLETED" },
        })
    );
    let fee = 560; // 8 % of the freelancer's 7,000
    let after = balances(&m).await;
    assert_eq!(
        [
            after[0] - before[0],
            after[1] - before[1],
            after[2] - before[2],
            after[3] - before[3]
        ],
        [3_000, 7_000 - fee, fee, -PRICE]
    );
    assert_books_balance(app).await;
    assert_eq!(
        one(
            app,
            &format!("SELECT released_cents::text AS value FROM orders WHERE id = '{order}'")
        )
        .await,
        "7000"
    );

    // Settled: a second ruling, more evidence or a new mediator change nothing.
    let fingerprint = ledger_fingerprint(app).await;
    assert_eq!(
        resolve(&m, &dispute, "CLIENT", None, "Changed my mind").await.code(),
        "CONFLICT"
    );
    let late = app
        .gql_as(
            &m.client,
            EVIDENCE,
            json!({ "d": dispute, "i": { "kind": "NOTE", "note": "One more thing" } }),
        )
        .await;
    assert_eq!(late.code(), "CONFLICT");
    assert_eq!(
        app.gql_as(&m.admin, ASSIGN, json!({ "d": dispute })).await.code(),
        "CONFLICT"
    );
    assert_eq!(ledger_fingerprint(app).await, fingerprint);

    // Both parties were told, with the mediator's note; the audit log has the ruling.
    for party in [&m.client, &m.freelancer] {
        let bodies = app
            .texts(&format!(
                "SELECT body AS value FROM notifications WHERE user_id = '{}' AND kind = 'DISPUTE' ORDER BY id",
                party.id
            ))
            .await;
        let ruling = bodies.last().expect("a DISPUTE notification");
        assert!(
            ruling.contains("70% of the escrow to the freelancer, 30% back to the client"),
            "{ruling}"
        );
        assert!(ruling.contains("Most of the work was delivered."), "{ruling}");
    }
    let resolved = app.gql_as(&m.client, DISPUTE, json!({ "id": dispute })).await;
    let resolved = &no_errors(&resolved)["dispute"];
    assert_eq!(resolved["resolvedBy"]["id"], m.admin.id);
    assert_eq!(resolved["resolutionNote"], "Most of the work was delivered.");
    assert_eq!(
        app.audit_actions(&m.admin, "ORDER", Some(&order)).await,
        ["order.settle_split"]
    );
    assert_eq!(
        app.audit_actions(&m.admin, "DISPUTE", Some(&dispute)).await,
        ["dispute.assign"]
    );
    let audit = one(
        app,
        &format!("SELECT reason || ' ' || (data->'dispute'->>'clientCents') || '/' || (data->'dispute'->>'freelancerCents') || ' ' || actor_id AS value FROM audit_log WHERE target_id = '{order}'"),
    )
    .await;
    assert_eq!(
        audit,
        format!("Most of the work was delivered. 3000/7000 {}", m.admin.id)
    );

    // The freelancer's share clears (less the fee) after the dispute window.
    gigmarket::order::service::clear_earnings(&app.state, chrono::Duration::zero())
        .await
        .expect("clearing");
    assert_eq!(balance(app, Some(&m.freelancer), "USER_PENDING").await, 0);
    assert_eq!(balance(app, Some(&m.freelancer), "USER_AVAILABLE").await, 7_000 - fee);
    assert_books_balance(app).await;
}

/// Count and sum of ledger entries, and the order statuses: what a refused ruling must leave.
async fn ledger_fingerprint(app: &TestApp) -> String {
    one(
        app,
        "SELECT concat_ws('|', (SELECT count(*) FROM ledger_entries), (SELECT string_agg(status, ',' ORDER BY id) FROM orders), \
         (SELECT string_agg(status, ',' ORDER BY id) FROM disputes), (SELECT count(*) FROM dispute_evidence)) AS value",
    )
    .await
}

#[tokio::test]
async fn each_ruling_moves_the_escrow_its_way_and_a_dismissal_lets_the_order_go_on() {
    let m = Market::new().await;
    let app = &m.app;

    // For the client: all of it back to their balance (a manual payment), order cancelled.
    let refunded = m.drive(OrderStatus::Disputed).await;
    let dispute = dispute_of(&m, &refunded).await;
    let before = balances(&m).await;
    let r = resolve(&m, &dispute, "CLIENT", None, "Nothing was delivered.").await;
    assert_eq!(
        no_errors(&r)["resolveDispute"],
        json!({ "status": "RESOLVED_CLIENT", "splitBps": null, "clientCents": PRICE, "freelancerCents": 0, "order": { "status": "CANCELLED" } })
    );
    let after = balances(&m).await;
    assert_eq!([after[0] - before[0], after[3] - before[3]], [PRICE, -PRICE]);

    // For the freelancer: released less the fee, order completed.
    let released = m.drive(OrderStatus::Disputed).await;
    let dispute = dispute_of(&m, &released).await;
    let before = balances(&m).await;
    let r = resolve(&m, &dispute, "FREELANCER", None, "The work matches the brief.").await;
    assert_eq!(
        no_errors(&r)["resolveDispute"],
        json!({ "status": "RESOLVED_FREELANCER", "splitBps": null, "clientCents": 0, "freelancerCents": PRICE, "order": { "status": "COMPLETED" } })
    );
    let after = balances(&m).await;
    assert_eq!(
        [after[1] - before[1], after[2] - before[2], after[3] - before[3]],
        [PRICE - 800, 800, -PRICE]
    );

    // Dismissed: back to PAYMENT_CONFIRMED with the escrow held, and the work goes on.
    let dismissed = m.drive(OrderStatus::Disputed).await;
    let dispute = dispute_of(&m, &dismissed).await;
    let before = balances(&m).await;
    let r = resolve(&m, &dispute, "DISMISSED", None, "Talk it through first.").await;
    assert_eq!(
        no_errors(&r)["resolveDispute"],
        json!({ "status": "DISMISSED", "splitBps": null, "clientCents": null, "freelancerCents": null, "order": { "status": "PAYMENT_CONFIRMED" } })
    );
    assert_eq!(balances(&m).await, before);
    let started = app
        .gql_as(
            &m.freelancer,
            "mutation($id: ID!) { startWork(orderId: $id) { status } }",
            json!({ "id": dismissed }),
        )
        .await;
    assert_eq!(no_errors(&started)["startWork"]["status"], "IN_PROGRESS");
    // A second dispute on the same order is a new one; the old id stays settled.
    let reopened = app
        .gql_as(
            &m.client,
            "mutation($id: ID!) { openDispute(orderId: $id, reason: \"It stopped again\") { status dispute { id status } disputes { status } } }",
            json!({ "id": dismissed }),
        )
        .await;
    let reopened = &no_errors(&reopened)["openDispute"];
    assert_eq!(
        reopened["disputes"],
        json!([{ "status": "DISMISSED" }, { "status": "OPEN" }])
    );
    assert_ne!(reopened["dispute"]["id"], json!(dispute));
    assert_eq!(
        resolve(&m, &dispute, "CLIENT", None, "Stale ruling").await.code(),
        "CONFLICT"
    );
    let second = reopened["dispute"]["id"].as_str().expect("id").to_owned();
    let r = resolve(&m, &second, "DISMISSED", None, "Still talking.").await;
    assert_eq!(no_errors(&r)["resolveDispute"]["order"]["status"], "IN_PROGRESS");

    // The queue: oldest first, narrowed by status.
    let queue = app
        .gql_as(
            &m.admin,
            "query($s: DisputeStatus) { disputes(status: $s, first: 10) { totalCount nodes { status order { id } } } }",
            json!({ "s": "DISMISSED" }),
        )
        .await;
    let queue = &no_errors(&queue)["disputes"];
    assert_eq!(queue["totalCount"], 2);
    assert!(queue["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .all(|d| d["order"]["id"] == json!(dismissed)));
    assert_eq!(
        app.gql_as(&m.client, "{ disputes { totalCount } }", json!({}))
            .await
            .code(),
        "FORBIDDEN"
    );
    assert_books_balance(app).await;
}
