//! Reviewing weeks. The freelancer submits a week with time in it (its entries freeze); the
//! client approves it, which bills it, or disputes it with a reason, which hands it back to
//! the freelancer to amend and submit again (a disagreement about money already in escrow
//! goes through the order's own dispute, `openDispute`). A week the client has not answered
//! within the review window (`TIMESHEET_REVIEW_WINDOW_HOURS`) is approved by the scheduler.
//!
//! Each step, in one transaction under the order's lock: the week's new status → the money
//! (billing: the week's price leaves escrow for the freelancer less the fee, through the
//! ledger, keyed by the week; a transfer is queued when they have a payout account) → the
//! order's history row → `ORDER_UPDATED` → the other party's notification.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{contract, Contract, Party};
use crate::{
    db::{self, Batch},
    error::{AppError, AppResult},
    ledger::service::{self as ledger, OrderMoney},
    notification::service::{self as notification, Kind},
    order::{
        self,
        model::{ActorRole, HistoryRow, OrderRow},
    },
    payment::outbox,
    profile::model::UserRow,
    state::AppState,
    timesheet::{
        model::{self, Decision, TimesheetRow, TimesheetStatus, REVIEWING},
        rules,
    },
    validation,
};

/// Weeks approved per transaction by [`auto_approve_due`].
const AUTO_BATCH: i64 = 50;

/// The timesheet `id` and its order, both locked, for `viewer` acting as `party`.
async fn locked_week(
    conn: &mut AsyncPgConnection,
    viewer: &UserRow,
    id: Uuid,
    party: Party,
    doing: &str,
) -> AppResult<(Contract, TimesheetRow)> {
    let order_id = model::find(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Timesheet"))?
        .order_id;
    let contract = contract(conn, viewer, order_id, party, &REVIEWING, doing)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::not_found("Timesheet"),
            e => e,
        })?;
    let week = model::lock(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Timesheet"))?;
    Ok((contract, week))
}

fn refuse(week: &TimesheetRow, doing: &str) -> AppError {
    AppError::Conflict(format!(
        "The week of {} is {}: you cannot {doing} it.",
        week.week_start, week.status
    ))
}

/// Freelancer: submits an open (or disputed) week with time in it for the client's review.
pub async fn submit(app: &AppState, freelancer: &UserRow, id: Uuid) -> AppResult<TimesheetRow> {
    let window = chrono::Duration::from_std(app.config.payments.timesheet_review_window).map_err(AppError::internal)?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let (contract, week) = locked_week(conn, freelancer, id, Party::Freelancer, "submit a timesheet").await?;
            if !week.status.editable() {
                return Err(refuse(&week, "submit"));
            }
            if week.minutes == 0 {
                return Err(AppError::Conflict(format!(
                    "The week of {} has no time logged: there is nothing to submit.",
                    week.week_start
                )));
            }
            let now = Utc::now();
            let submitted = model::submit(conn, week.id, now, now + window).await?;
            let note = format!(
                "Week of {}: {} ({} {}), to review by {}",
                week.week_start,
                rules::human_minutes(week.minutes),
                week.amount_cents,
                contract.order.currency,
                (now + window).format("%Y-%m-%d %H:%M UTC")
            );
            follow(conn, &contract.order, Some(freelancer), "SUBMIT_TIMESHEET", &note).await?;
            tell(
                conn,
                &contract.order,
                contract.order.client_id,
                Kind::OrderStatus,
                "A timesheet is waiting for your review",
                &note,
                &submitted,
            )
            .await?;
            Ok(submitted)
        })
        .await
}

/// Client: approves a submitted week, which bills it.
pub async fn approve(app: &AppState, client: &UserRow, id: Uuid) -> AppResult<TimesheetRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let (contract, week) = locked_week(conn, client, id, Party::Client, "approve a timesheet").await?;
            if week.status != TimesheetStatus::Submitted {
                return Err(refuse(&week, "approve"));
            }
            bill(conn, &contract.order, &week, Some(client), Utc::now()).await
        })
        .await
}

/// Client: disputes a submitted week with a reason (3 to 2,000 characters): it goes back to
/// the freelancer to amend and submit again.
pub async fn dispute(app: &AppState, client: &UserRow, id: Uuid, reason: &str) -> AppResult<TimesheetRow> {
    let reason = validation::reason("reason", reason)?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let (contract, week) = locked_week(conn, client, id, Party::Client, "dispute a timesheet").await?;
            if week.status != TimesheetStatus::Submitted {
                return Err(refuse(&week, "dispute"));
            }
            let now = Utc::now();
            let decision = Decision {
                status: TimesheetStatus::Disputed,
                fee_cents: None,
                review_due_at: None,
                decided_at: Some(now),
                decided_by: Some(client.id),
                auto_approved: false,
                dispute_reason: Some(reason.clone()),
                updated_at: now,
            };
            let disputed = model::decide(conn, week.id, &decision).await?;
            let note = format!("Week of {} disputed: {reason}", week.week_start);
            follow(conn, &contract.order, Some(client), "DISPUTE_TIMESHEET", &note).await?;
            let title = "The client disputed your timesheet: amend it and submit it again";
            tell(
                conn,
                &contract.order,
                contract.order.freelancer_id,
                Kind::OrderStatus,
                title,
                &note,
                &disputed,
            )
            .await?;
            Ok(disputed)
        })
        .await
}

/// Approves and bills every submitted week whose review window has closed, on orders still
/// under way. Weeks are claimed with their orders by `SKIP LOCKED` in the transaction that
/// bills them, and billing is keyed by the week, so several instances bill each week once.
/// Returns how many weeks it approved. The scheduler calls it.
pub async fn auto_approve_due(app: &AppState) -> AppResult<usize> {
    db::drain(AUTO_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        app.bus
            .transaction::<_, AppError, _>(&mut conn, async |conn| {
                let now = Utc::now();
                let due = model::lock_due(conn, now, AUTO_BATCH).await?;
                for week in &due {
                    let order = order::model::find(conn, week.order_id)
                        .await?
                        .ok_or_else(|| AppError::internal(anyhow::anyhow!("timesheet without order")))?;
                    bill(conn, &order, week, None, now).await?;
                }
                Ok(Batch::of(due.len()))
            })
            .await
    })
    .await
}

/// Bills a submitted week of `order` (locked by the caller), approved by `client` or, with
/// `None`, by the closing of its review window: the week's price leaves escrow for the
/// freelancer less the fee, the order's billed total grows, a transfer is queued when the
/// freelancer can be paid out, and the parties hear of it.
async fn bill(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    week: &TimesheetRow,
    client: Option<&UserRow>,
    now: DateTime<Utc>,
) -> AppResult<TimesheetRow> {
    if week.amount_cents > order.escrow_cents() {
        return Err(AppError::internal(anyhow::anyhow!(
            "timesheet {} costs {} but order {} holds {}",
            week.id,
            week.amount_cents,
            order.id,
            order.escrow_cents()
        )));
    }
    let fee_bps = order.fee_bps.unwrap_or_default();
    let money = OrderMoney {
        order_id: order.id,
        client_id: order.client_id,
        freelancer_id: order.freelancer_id,
        amount_cents: week.amount_cents,
        fee_bps,
        // A week is billed under its own key (`bill_week`), not a payment stage's.
        part: None,
    };
    let actor = client.map(|c| c.id);
    if !ledger::bill_week(conn, &money, week.id, &order.currency, actor).await? {
        return Err(AppError::Conflict("This timesheet was already billed.".into()));
    }
    let fee = ledger::fee_cents(week.amount_cents, fee_bps);
    let updated = order::model::add_billed(conn, order.id, week.amount_cents).await?;
    outbox::pay_out(
        conn,
        order.freelancer_id,
        week.amount_cents - fee,
        &order.currency,
        Some(order.id),
        format!("gigmarket:timesheet:{}", week.id),
    )
    .await?;
    let decision = Decision {
        status: TimesheetStatus::Approved,
        fee_cents: Some(fee),
        review_due_at: None,
        decided_at: Some(now),
        decided_by: actor,
        auto_approved: client.is_none(),
        dispute_reason: week.dispute_reason.clone(),
        updated_at: now,
    };
    let approved = model::decide(conn, week.id, &decision).await?;
    let how = if client.is_some() {
        "approved"
    } else {
        "approved automatically (the review window closed)"
    };
    let note = format!(
        "Week of {} {how}: {} billed, {} {} to the freelancer after a {fee} fee",
        week.week_start,
        rules::human_minutes(week.minutes),
        week.amount_cents - fee,
        order.currency
    );
    let action = if client.is_some() {
        "APPROVE_TIMESHEET"
    } else {
        "AUTO_APPROVE_TIMESHEET"
    };
    follow(conn, &updated, client, action, &note).await?;
    tell(
        conn,
        &updated,
        order.freelancer_id,
        Kind::Payment,
        "A timesheet was approved and billed",
        &note,
        &approved,
    )
    .await?;
    if client.is_none() {
        let title = "A timesheet you did not review was approved";
        tell(conn, &updated, order.client_id, Kind::Payment, title, &note, &approved).await?;
    }
    Ok(approved)
}

/// The order's history row for a step on one of its weeks (the order's status does not
/// change) and its `ORDER_UPDATED` event.
async fn follow(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    actor: Option<&UserRow>,
    action: &str,
    note: &str,
) -> AppResult<()> {
    let role = match actor {
        Some(user) if user.id == order.client_id => ActorRole::Client,
        Some(_) => ActorRole::Freelancer,
        None => ActorRole::System,
    };
    order::model::insert_history(
        conn,
        &HistoryRow {
            id: Uuid::now_v7(),
            order_id: order.id,
            action: action.into(),
            from_status: Some(order.status),
            to_status: order.status,
            actor_id: actor.map(|a| a.id),
            actor_role: role,
            note: Some(note.into()),
            created_at: Utc::now(),
        },
    )
    .await?;
    order::service::publish(conn, order, action, Some(order.status), actor.map(|a| a.id)).await
}

/// Notifies `recipient` of a step on `week`.
async fn tell(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    recipient: Uuid,
    kind: Kind,
    title: &str,
    body: &str,
    week: &TimesheetRow,
) -> AppResult<()> {
    notification::notify(
        conn,
        recipient,
        kind,
        &format!("{title}: \"{}\"", order.title),
        body,
        serde_json::json!({
            "orderId": order.id,
            "timesheetId": week.id,
            "weekStart": week.week_start,
            "status": week.status,
        }),
    )
    .await?;
    Ok(())
}
