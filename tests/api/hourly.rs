//! Hourly contracts through the public API: an HOURLY task hired with a weekly cap, time
//! logged across a week (the cap, future dates and overlaps refused), the week submitted,
//! approved and billed out of escrow exactly once under concurrent approvals, a disputed week
//! amended, an unanswered week approved by the scheduler once with two runs at it, the
//! contract ended with the unspent retainer back to the client, and outsiders kept out.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use futures_util::future::join_all;
use gigmarket::scheduler::{self, Outcome};
use serde_json::{json, Value};

use crate::{
    common::{Gql, TestUser},
    orders::{assert_books_balance, one, Market},
};

/// $50.00 an hour.
const RATE: i64 = 5_000;
/// Ten hours a week.
const CAP_HOURS: i64 = 10;
/// The retainer: four weeks (ONE_TO_FOUR_WEEKS) at the cap.
const RETAINER: i64 = 4 * CAP_HOURS * RATE;

const LOG: &str =
    "mutation($i: LogTimeInput!) { logTime(input: $i) { id date startTime endTime minutes note timesheet { id weekStart status minutes amountCents } } }";
const UPDATE: &str = "mutation($i: UpdateTimeEntryInput!) { updateTimeEntry(input: $i) { id minutes note } }";
const SUBMIT: &str = "mutation($id: ID!) { submitTimesheet(id: $id) { id status submittedAt reviewDueAt } }";
const APPROVE: &str = "mutation($id: ID!) { approveTimesheet(id: $id) { id status amountCents feeCents payoutCents autoApproved decidedBy { id } } }";
const DISPUTE: &str =
    "mutation($i: DisputeTimesheetInput!) { disputeTimesheet(input: $i) { id status disputeReason } }";
const SHEETS: &str = "query($o: ID!) { timesheets(orderId: $o) { totalCount edges { node { id weekStart weekEnd status minutes amountCents entries { date startTime minutes } } } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { status billing amountCents hourlyRateCents weeklyHourCap contractWeeks billedCents escrowRemainingCents feeBps timesheets { weekStart status minutes amountCents } } }";

/// The Monday `weeks_ago` weeks before this week's (UTC: the freelancer set no time zone).
fn monday(weeks_ago: i64) -> NaiveDate {
    let today = Utc::now().date_naive();
    today - Duration::days(i64::from(today.weekday().num_days_from_monday())) - Duration::weeks(weeks_ago)
}

fn ok(r: &Gql, what: &str) -> Value {
    assert!(r.body.get("errors").is_none(), "{what}: {:#}", r.body);
    r.data().clone()
}

/// An HOURLY task of the market's client (four weeks expected), the freelancer's application
/// at [`RATE`], hired with a [`CAP_HOURS`] cap, paid by a manual payment the freelancer
/// confirms, and started; funded three weeks ago on the books, so that the last weeks can be
/// logged. Returns the order id.
async fn hourly_order(m: &Market) -> String {
    let task = json!({
        "title": "Maintain our booking API",
        "description": "Ongoing maintenance of our booking API: bug fixes, upgrades and small features.",
        "category": "development", "skillsRequired": ["Rust"], "budgetType": "HOURLY",
        "budgetMinCents": 3000, "budgetMaxCents": 8000, "duration": "ONE_TO_FOUR_WEEKS", "locationType": "REMOTE",
    });
    let posted = m
        .app
        .gql_as(
            &m.client,
            "mutation($i: PostTaskInput!) { postTask(input: $i) { id } }",
            json!({ "i": { "task": task } }),
        )
        .await;
    let task_id = ok(&posted, "postTask")["postTask"]["id"].as_str().unwrap().to_owned();
    let applied = m
        .app
        .gql_as(
            &m.freelancer,
            "mutation($i: ApplyToTaskInput!) { applyToTask(input: $i) { id } }",
            json!({ "i": { "taskId": task_id, "coverLetter": "I maintain two booking systems like yours already, happily.",
                           "proposedRateCents": RATE, "proposedTimeline": "ongoing" } }),
        )
        .await;
    let application = ok(&applied, "applyToTask")["applyToTask"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let accept = "mutation($id: ID!, $cap: Int) { acceptApplication(id: $id, weeklyHourCap: $cap) { id status billing amountCents hourlyRateCents weeklyHourCap contractWeeks billedCents milestones { amountCents } } }";
    for (cap, why) in [(Value::Null, "is required"), (json!(81), "must be 1 to 80 hours")] {
        let refused = m
            .app
            .gql_as(&m.client, accept, json!({ "id": application, "cap": cap }))
            .await;
        assert_eq!(refused.code(), "VALIDATION_ERROR", "{:#}", refused.body);
        assert_eq!(refused.fields(), ["weeklyHourCap"]);
        assert!(refused.body.to_string().contains(why), "{:#}", refused.body);
    }
    let hired = m
        .app
        .gql_as(&m.client, accept, json!({ "id": application, "cap": CAP_HOURS }))
        .await;
    let order = ok(&hired, "acceptApplication")["acceptApplication"].clone();
    assert_eq!(
        order,
        json!({ "id": order["id"], "status": "PENDING_PAYMENT", "billing": "HOURLY", "amountCents": RETAINER,
                "hourlyRateCents": RATE, "weeklyHourCap": CAP_HOURS, "contractWeeks": 4, "billedCents": 0,
                "milestones": [{ "amountCents": RETAINER }] })
    );
    let id = order["id"].as_str().unwrap().to_owned();
    let pay = "mutation($id: ID!, $p: PaymentProofInput!) { submitPaymentProof(orderId: $id, input: $p) { status } }";
    let proof = json!({ "reference": "TX-77", "payerName": "Ann Client", "amountCents": RETAINER });
    ok(
        &m.app.gql_as(&m.client, pay, json!({ "id": id, "p": proof })).await,
        "submitPaymentProof",
    );
    for step in ["confirmPayment", "startWork"] {
        let query = format!("mutation($id: ID!) {{ {step}(orderId: $id) {{ status }} }}");
        ok(&m.app.gql_as(&m.freelancer, &query, json!({ "id": id })).await, step);
    }
    m.app
        .sql(&format!(
            "UPDATE orders SET funded_at = now() - interval '21 days' WHERE id = '{id}'"
        ))
        .await;
    id
}

async fn log(m: &Market, user: &TestUser, order: &str, date: NaiveDate, start: &str, minutes: i64) -> Gql {
    let input = json!({ "orderId": order, "date": date.to_string(), "startTime": start, "minutes": minutes, "note": "API work" });
    m.app.gql_as(user, LOG, json!({ "i": input })).await
}

/// The ledger transactions that billed a week.
async fn billings(m: &Market, timesheet: &str) -> String {
    one(
        &m.app,
        &format!("SELECT count(*)::text AS value FROM ledger_transactions WHERE idempotency_key = 'timesheet:{timesheet}:release'"),
    )
    .await
}

async fn balance(m: &Market, user: &TestUser) -> Value {
    let r = m
        .app
        .gql_as(
            user,
            "{ myBalance { currency availableCents pendingCents } }",
            json!({}),
        )
        .await;
    ok(&r, "myBalance")["myBalance"].clone()
}

async fn notification_titles(m: &Market, user: &TestUser) -> Vec<String> {
    let r = m
        .app
        .gql_as(user, "{ notifications { edges { node { kind title } } } }", json!({}))
        .await;
    ok(&r, "notifications")["notifications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}: {}",
                e["node"]["kind"].as_str().unwrap(),
                e["node"]["title"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn an_hourly_week_is_logged_submitted_approved_and_billed_once() {
    let m = Market::new().await;
    let order = hourly_order(&m).await;
    let week = monday(1);
    let day = |n: i64| week + Duration::days(n);

    // Nine hours across the week, then more than the cap allows is refused.
    for (n, start, minutes) in [(0, "09:00", 180), (1, "09:00", 240), (2, "13:00", 120)] {
        ok(&log(&m, &m.freelancer, &order, day(n), start, minutes).await, "logTime");
    }
    let over = log(&m, &m.freelancer, &order, day(3), "09:00", 120).await;
    assert_eq!(over.code(), "LIMIT_EXCEEDED", "{:#}", over.body);
    // Overlapping the Monday morning, or dated tomorrow: refused, naming the field.
    let overlap = log(&m, &m.freelancer, &order, day(0), "11:30", 30).await;
    assert_eq!(overlap.code(), "VALIDATION_ERROR", "{:#}", overlap.body);
    assert_eq!(overlap.fields(), ["startTime"]);
    let tomorrow = Utc::now().date_naive() + Duration::days(1);
    let future = log(&m, &m.freelancer, &order, tomorrow, "09:00", 30).await;
    assert_eq!(future.code(), "VALIDATION_ERROR");
    assert_eq!(future.fields(), ["date"]);
    let past_midnight = log(&m, &m.freelancer, &order, day(4), "23:30", 60).await;
    assert_eq!(past_midnight.fields(), ["minutes"]);
    // Back to back is no overlap, and exactly the cap is fine.
    let last = log(&m, &m.freelancer, &order, day(0), "12:00", 60).await;
    let last = ok(&last, "logTime")["logTime"].clone();
    assert_eq!(last["endTime"], "13:00");
    assert_eq!(last["timesheet"]["minutes"], 600);
    assert_eq!(last["timesheet"]["amountCents"], CAP_HOURS * RATE);
    assert_eq!(last["timesheet"]["weekStart"], week.to_string());
    let sheet = last["timesheet"]["id"].as_str().unwrap().to_owned();
    let entry = last["id"].as_str().unwrap().to_owned();
    let edited = m
        .app
        .gql_as(
            &m.freelancer,
            UPDATE,
            json!({ "i": { "id": entry, "note": "Upgraded the ORM" } }),
        )
        .await;
    assert_eq!(
        ok(&edited, "updateTimeEntry")["updateTimeEntry"]["note"],
        "Upgraded the ORM"
    );
    let longer = m
        .app
        .gql_as(&m.freelancer, UPDATE, json!({ "i": { "id": entry, "minutes": 61 } }))
        .await;
    assert_eq!(longer.code(), "LIMIT_EXCEEDED", "an edit may not pass the cap either");

    // Who may do what: the client neither logs nor submits; nobody approves an open week.
    assert_eq!(
        log(&m, &m.client, &order, day(4), "09:00", 30).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        m.app.gql_as(&m.client, SUBMIT, json!({ "id": sheet })).await.code(),
        "FORBIDDEN"
    );
    assert_eq!(
        m.app.gql_as(&m.client, APPROVE, json!({ "id": sheet })).await.code(),
        "CONFLICT"
    );
    assert_eq!(
        m.app
            .gql_as(&m.freelancer, APPROVE, json!({ "id": sheet }))
            .await
            .code(),
        "FORBIDDEN"
    );

    // A third user neither sees nor touches the contract's time.
    let stranger = &m.stranger;
    assert_eq!(log(&m, stranger, &order, day(4), "09:00", 30).await.code(), "NOT_FOUND");
    for (query, vars) in [
        (SHEETS, json!({ "o": order })),
        ("query($id: ID!) { timesheet(id: $id) { id } }", json!({ "id": sheet })),
        (SUBMIT, json!({ "id": sheet })),
        (APPROVE, json!({ "id": sheet })),
        (UPDATE, json!({ "i": { "id": entry, "minutes": 1 } })),
        (
            "mutation($id: ID!) { deleteTimeEntry(id: $id) { id } }",
            json!({ "id": entry }),
        ),
    ] {
        let r = m.app.gql_as(stranger, query, vars).await;
        assert_eq!(r.code(), "NOT_FOUND", "{query}: {:#}", r.body);
    }

    // The week's totals, as the client sees them.
    let sheets = m.app.gql_as(&m.client, SHEETS, json!({ "o": order })).await;
    let node = ok(&sheets, "timesheets")["timesheets"]["edges"][0]["node"].clone();
    assert_eq!(sheets.data()["timesheets"]["totalCount"], 1);
    assert_eq!(node["status"], "OPEN");
    assert_eq!(node["minutes"], 600);
    assert_eq!(node["weekEnd"], day(6).to_string());
    assert_eq!(node["entries"].as_array().unwrap().len(), 4);
    assert_eq!(
        node["entries"][0],
        json!({ "date": day(0).to_string(), "startTime": "09:00", "minutes": 180 })
    );

    // Submitted: the entries freeze and the client hears of it.
    let submitted = m.app.gql_as(&m.freelancer, SUBMIT, json!({ "id": sheet })).await;
    let submitted = ok(&submitted, "submitTimesheet")["submitTimesheet"].clone();
    assert_eq!(submitted["status"], "SUBMITTED");
    let due = chrono::DateTime::parse_from_rfc3339(submitted["reviewDueAt"].as_str().unwrap()).unwrap();
    let window = due.to_utc() - Utc::now();
    assert!(
        window > Duration::hours(71) && window <= Duration::hours(72),
        "{window}"
    );
    assert_eq!(
        log(&m, &m.freelancer, &order, day(5), "09:00", 30).await.code(),
        "CONFLICT"
    );
    let frozen = m
        .app
        .gql_as(&m.freelancer, UPDATE, json!({ "i": { "id": entry, "minutes": 30 } }))
        .await;
    assert_eq!(frozen.code(), "CONFLICT");
    assert!(notification_titles(&m, &m.client)
        .await
        .iter()
        .any(|t| t.starts_with("ORDER_STATUS: A timesheet is waiting for your review")));

    // Ten approvals at once bill the week once.
    let approvals = (0..10).map(|_| m.app.gql_as(&m.client, APPROVE, json!({ "id": sheet })));
    let answers = join_all(approvals).await;
    let won: Vec<&Gql> = answers.iter().filter(|a| a.body.get("errors").is_none()).collect();
    assert_eq!(
        won.len(),
        1,
        "{:#?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    for lost in answers.iter().filter(|a| a.body.get("errors").is_some()) {
        assert_eq!(lost.code(), "CONFLICT", "{:#}", lost.body);
    }
    let fee = CAP_HOURS * RATE * 8 / 100;
    assert_eq!(
        won[0].data()["approveTimesheet"],
        json!({ "id": sheet, "status": "APPROVED", "amountCents": CAP_HOURS * RATE, "feeCents": fee,
                "payoutCents": CAP_HOURS * RATE - fee, "autoApproved": false, "decidedBy": { "id": m.client.id } })
    );
    assert_eq!(billings(&m, &sheet).await, "1");
    assert_books_balance(&m.app).await;

    // The order shows what was billed and what escrow still holds; the freelancer's balance
    // and ledger show the week, less the fee.
    let shown = m.app.gql_as(&m.freelancer, ORDER, json!({ "id": order })).await;
    assert_eq!(
        ok(&shown, "order")["order"],
        json!({ "status": "IN_PROGRESS", "billing": "HOURLY", "amountCents": RETAINER, "hourlyRateCents": RATE,
                "weeklyHourCap": CAP_HOURS, "contractWeeks": 4, "billedCents": CAP_HOURS * RATE,
                "escrowRemainingCents": RETAINER - CAP_HOURS * RATE, "feeBps": 800,
                "timesheets": [{ "weekStart": week.to_string(), "status": "APPROVED", "minutes": 600, "amountCents": CAP_HOURS * RATE }] })
    );
    assert_eq!(
        balance(&m, &m.freelancer).await,
        json!([{ "currency": "USD", "availableCents": CAP_HOURS * RATE - fee, "pendingCents": 0 }])
    );
    let ledger = m
        .app
        .gql_as(
            &m.freelancer,
            "{ myLedger { totalCount edges { node { amountCents balance kind order { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ok(&ledger, "myLedger")["myLedger"],
        json!({ "totalCount": 1, "edges": [{ "node": { "amountCents": CAP_HOURS * RATE - fee, "balance": "AVAILABLE",
                                                       "kind": "RELEASE", "order": { "id": order } } }] })
    );
    assert!(notification_titles(&m, &m.freelancer)
        .await
        .iter()
        .any(|t| t.starts_with("PAYMENT: A timesheet was approved and billed")));
    let history = m
        .app
        .texts(&format!(
            "SELECT action AS value FROM order_history WHERE order_id = '{order}' AND action LIKE '%TIMESHEET' ORDER BY id"
        ))
        .await;
    assert_eq!(history, ["SUBMIT_TIMESHEET", "APPROVE_TIMESHEET"]);
    // Each step told the order's watchers (orderUpdated), the billed total with it.
    let events = m
        .app
        .texts(&format!(
            "SELECT concat_ws(':', payload->>'action', payload->'order'->>'billed_cents') AS value FROM events \
             WHERE topic = 'order:{order}' AND kind = 'ORDER_UPDATED' AND payload->>'action' LIKE '%TIMESHEET' ORDER BY id"
        ))
        .await;
    assert_eq!(
        events,
        ["SUBMIT_TIMESHEET:0", &format!("APPROVE_TIMESHEET:{}", CAP_HOURS * RATE)]
    );
}

#[tokio::test]
async fn a_disputed_week_is_amended_and_an_unanswered_one_approves_itself_once() {
    let m = Market::new().await;
    let order = hourly_order(&m).await;
    let week = monday(2);
    let logged = log(&m, &m.freelancer, &order, week, "09:00", 120).await;
    let logged = ok(&logged, "logTime")["logTime"].clone();
    let sheet = logged["timesheet"]["id"].as_str().unwrap().to_owned();
    let entry = logged["id"].as_str().unwrap().to_owned();
    ok(
        &m.app.gql_as(&m.freelancer, SUBMIT, json!({ "id": sheet })).await,
        "submit",
    );

    // Disputed: back to the freelancer, who amends it and submits again.
    let short = m
        .app
        .gql_as(&m.client, DISPUTE, json!({ "i": { "id": sheet, "reason": "" } }))
        .await;
    assert_eq!(short.fields(), ["reason"]);
    let reason = "We agreed on 90 minutes for this review.";
    let disputed = m
        .app
        .gql_as(&m.client, DISPUTE, json!({ "i": { "id": sheet, "reason": reason } }))
        .await;
    assert_eq!(
        ok(&disputed, "disputeTimesheet")["disputeTimesheet"],
        json!({ "id": sheet, "status": "DISPUTED", "disputeReason": reason })
    );
    assert!(notification_titles(&m, &m.freelancer)
        .await
        .iter()
        .any(|t| t.starts_with("ORDER_STATUS: The client disputed your timesheet")));
    let amended = m
        .app
        .gql_as(&m.freelancer, UPDATE, json!({ "i": { "id": entry, "minutes": 90 } }))
        .await;
    assert_eq!(ok(&amended, "updateTimeEntry")["updateTimeEntry"]["minutes"], 90);
    ok(
        &m.app.gql_as(&m.freelancer, SUBMIT, json!({ "id": sheet })).await,
        "resubmit",
    );

    // The contract cannot end while a week with time in it is unbilled.
    let deliver = "mutation($i: SubmitWorkInput!) { submitWork(input: $i) { status } }";
    let delivery = json!({ "i": { "orderId": order, "message": "All done, handing over.", "links": [] } });
    ok(&m.app.gql_as(&m.freelancer, deliver, delivery).await, "submitWork");
    let approve_work = "mutation($id: ID!) { approveWork(orderId: $id) { status } }";
    let early = m.app.gql_as(&m.client, approve_work, json!({ "id": order })).await;
    assert_eq!(early.code(), "CONFLICT", "{:#}", early.body);

    // The client never answers: once the window closes, two runs of the job (and the work
    // run directly beside them) approve and bill it once.
    m.app
        .sql(&format!(
            "UPDATE timesheets SET review_due_at = now() - interval '1 minute' WHERE id = '{sheet}'"
        ))
        .await;
    let runs = (0..2).map(|_| scheduler::run_named(&m.app.state, "approveTimesheets"));
    let direct = (0..2).map(|_| gigmarket::timesheet::service::auto_approve_due(&m.app.state));
    let (runs, direct) = tokio::join!(join_all(runs), join_all(direct));
    let mut approved = 0;
    for run in runs {
        match run {
            Some(Outcome::Done(counts)) => approved += counts.get("approved").unwrap_or(0),
            Some(Outcome::Skipped) => {}
            other => panic!("{other:?}"),
        }
    }
    for run in direct {
        approved += run.expect("auto-approval");
    }
    // The server's own scheduler may have been the one to do it.
    assert!(approved <= 1, "approved {approved} times");
    let amount = 90 * RATE / 60;
    let state = one(
        &m.app,
        &format!("SELECT concat_ws(',', status, auto_approved, amount_cents, fee_cents) AS value FROM timesheets WHERE id = '{sheet}'"),
    )
    .await;
    assert_eq!(state, format!("APPROVED,t,{amount},{}", amount * 8 / 100));
    assert_eq!(billings(&m, &sheet).await, "1");
    assert!(notification_titles(&m, &m.client)
        .await
        .iter()
        .any(|t| t.starts_with("PAYMENT: A timesheet you did not review was approved")));

    // Now the contract ends: the unspent retainer goes back to the client.
    let ended = m.app.gql_as(&m.client, approve_work, json!({ "id": order })).await;
    assert_eq!(ok(&ended, "approveWork")["approveWork"]["status"], "COMPLETED");
    assert_eq!(
        balance(&m, &m.client).await,
        json!([{ "currency": "USD", "availableCents": RETAINER - amount, "pendingCents": 0 }])
    );
    assert_eq!(
        balance(&m, &m.freelancer).await,
        json!([{ "currency": "USD", "availableCents": amount - amount * 8 / 100, "pendingCents": 0 }])
    );
    assert_books_balance(&m.app).await;
    // Clearing finds nothing more to pay: the weeks were paid as they were billed.
    m.app
        .sql(&format!(
            "UPDATE orders SET settled_at = now() - interval '25 hours' WHERE id = '{order}'"
        ))
        .await;
    crate::orders::release_escrow(&m.app).await;
    assert_eq!(
        balance(&m, &m.freelancer).await,
        json!([{ "currency": "USD", "availableCents": amount - amount * 8 / 100, "pendingCents": 0 }])
    );
    assert_books_balance(&m.app).await;
}

#[tokio::test]
async fn concurrent_logging_never_passes_the_cap() {
    let m = Market::new().await;
    let order = hourly_order(&m).await;
    let week = monday(1);
    // Six three-hour entries on six days at once against a ten-hour cap: three fit.
    let logs = (0..6).map(|n| log(&m, &m.freelancer, &order, week + Duration::days(n), "09:00", 180));
    let answers = join_all(logs).await;
    let fitted = answers.iter().filter(|a| a.body.get("errors").is_none()).count();
    assert_eq!(fitted, 3, "{:#?}", answers.iter().map(|a| &a.body).collect::<Vec<_>>());
    for refused in answers.iter().filter(|a| a.body.get("errors").is_some()) {
        assert_eq!(refused.code(), "LIMIT_EXCEEDED", "{:#}", refused.body);
    }
    let total = one(
        &m.app,
        &format!("SELECT concat_ws(',', minutes, (SELECT sum(minutes) FROM time_entries e WHERE e.timesheet_id = t.id)) AS value FROM timesheets t WHERE order_id = '{order}'"),
    )
    .await;
    assert_eq!(total, "540,540");

    // Deleting an entry makes room again.
    let first = answers.iter().find(|a| a.body.get("errors").is_none()).unwrap();
    let entry = first.data()["logTime"]["id"].as_str().unwrap();
    let deleted = m
        .app
        .gql_as(
            &m.freelancer,
            "mutation($id: ID!) { deleteTimeEntry(id: $id) { status minutes amountCents entries { id } } }",
            json!({ "id": entry }),
        )
        .await;
    let week_left = ok(&deleted, "deleteTimeEntry")["deleteTimeEntry"].clone();
    assert_eq!(week_left["minutes"], 360);
    assert_eq!(week_left["amountCents"], 6 * RATE);
    assert_eq!(week_left["entries"].as_array().unwrap().len(), 2);
    let day = first.data()["logTime"]["date"]
        .as_str()
        .unwrap()
        .parse::<NaiveDate>()
        .unwrap();
    ok(
        &log(&m, &m.freelancer, &order, day, "14:00", 240).await,
        "logTime after a delete",
    );
}
