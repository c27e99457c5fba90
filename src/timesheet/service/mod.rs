//! Hourly contracts' operations. Every change locks the order row first (then the week's
//! timesheet): the order lock serialises logging, review and billing of one contract, so
//! the cap and escrow checks see every concurrent change and a week is billed once.
//!
//! [`entries`]: logging, editing and deleting time; [`review`]: submitting, approving,
//! disputing and auto-approving weeks, and billing them through the ledger.

mod entries;
mod review;

use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

pub use self::{
    entries::{delete_entry, log_time, update_entry, EntryInput, EntryPatch},
    review::{approve, auto_approve_due, dispute, submit},
};
use super::{
    model::{self, TermsRow, TimesheetRow, TimesheetStatus},
    rules,
};
use crate::{
    db::page::{Page, PageRequest},
    error::{AppError, AppResult},
    order::{
        self,
        model::{OrderRow, OrderStatus},
    },
    profile::model::UserRow,
    state::AppState,
    task::model::{BudgetType, TaskRow},
};

/// Which party of a contract may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    /// Logs time and submits weeks.
    Freelancer,
    /// Approves or disputes weeks.
    Client,
}

/// An hourly order locked for a change, with its terms.
struct Contract {
    order: OrderRow,
    terms: TermsRow,
}

/// Locks the order `order_id` for `viewer` acting as `party` on it: NOT_FOUND when it is not
/// theirs to see (admins see every order but act on none here), FORBIDDEN for the other
/// side, CONFLICT for a fixed-price order or one whose status is not in `statuses`.
async fn contract(
    conn: &mut AsyncPgConnection,
    viewer: &UserRow,
    order_id: Uuid,
    party: Party,
    statuses: &[OrderStatus],
    doing: &str,
) -> AppResult<Contract> {
    let order = order::model::lock(conn, order_id)
        .await?
        .filter(|o| o.is_party(viewer.id) || viewer.is_admin)
        .ok_or_else(|| AppError::not_found("Order"))?;
    let allowed = match party {
        Party::Freelancer => order.freelancer_id == viewer.id,
        Party::Client => order.client_id == viewer.id,
    };
    if !allowed {
        let who = match party {
            Party::Freelancer => "the freelancer",
            Party::Client => "the client",
        };
        return Err(AppError::Forbidden(format!("Only {who} of the order may {doing}.")));
    }
    let terms = model::find_terms(conn, order_id)
        .await?
        .filter(|_| order.billed_cents.is_some())
        .ok_or_else(|| AppError::Conflict("This is a fixed-price order: it has no timesheets.".into()))?;
    if !statuses.contains(&order.status) || order.funded_at.is_none() || order.settled_at.is_some() {
        return Err(AppError::Conflict(format!(
            "An order that is {} cannot {doing}.",
            order.status
        )));
    }
    Ok(Contract { order, terms })
}

/// The order `order_id` if `viewer` may see it (a party or an admin); NOT_FOUND otherwise.
async fn visible_order(conn: &mut AsyncPgConnection, viewer: &UserRow, order_id: Uuid) -> AppResult<OrderRow> {
    order::model::find(conn, order_id)
        .await?
        .filter(|o| o.is_party(viewer.id) || viewer.is_admin)
        .ok_or_else(|| AppError::not_found("Order"))
}

/// A timesheet of an order the viewer may see; NOT_FOUND otherwise.
pub async fn find(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<TimesheetRow> {
    let mut conn = app.db.conn().await?;
    let timesheet = model::find(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Timesheet"))?;
    visible_order(&mut conn, viewer, timesheet.order_id)
        .await
        .map_err(|_| AppError::not_found("Timesheet"))?;
    Ok(timesheet)
}

/// A page of an order's timesheets (the viewer's as a party, or any as an admin), latest
/// week first, optionally in one status.
pub async fn page(
    app: &AppState,
    viewer: &UserRow,
    order_id: Uuid,
    status: Option<TimesheetStatus>,
    request: &PageRequest<NaiveDate>,
) -> AppResult<Page<TimesheetRow>> {
    let mut conn = app.db.conn().await?;
    visible_order(&mut conn, viewer, order_id).await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, before, limit| model::page(c, order_id, status, before.copied(), limit).await,
            async |c| model::count(c, order_id, status).await,
        )
        .await?)
}

/// The terms an order made from `task` gets when it is hired at `rate_cents` an hour with a
/// weekly cap of `weekly_hour_cap` hours (the caller names the field the cap came in);
/// `None` for a FIXED task. VALIDATION_ERROR when an hourly task's cap is missing or out of
/// range, or a fixed task is given one.
pub fn hire_terms(
    task: &TaskRow,
    order_id: Uuid,
    rate_cents: i64,
    weekly_hour_cap: Option<i32>,
    field: &str,
) -> AppResult<Option<TermsRow>> {
    let hours = match (task.budget_type, weekly_hour_cap) {
        (BudgetType::Fixed, None) => return Ok(None),
        (BudgetType::Fixed, Some(_)) => return Err(AppError::field(field, "applies to HOURLY tasks only")),
        (BudgetType::Hourly, None) => return Err(AppError::field(field, "is required to hire for an HOURLY task")),
        (BudgetType::Hourly, Some(hours)) => hours,
    };
    if !(1..=rules::MAX_WEEKLY_HOURS).contains(&hours) {
        return Err(AppError::field(
            field,
            format!("must be 1 to {} hours", rules::MAX_WEEKLY_HOURS),
        ));
    }
    let terms = TermsRow {
        order_id,
        hourly_rate_cents: rate_cents,
        weekly_minute_cap: hours * 60,
        weeks: rules::weeks_for(task.duration),
    };
    if rate_cents <= 0 || retainer(&terms).is_none() {
        return Err(AppError::field(field, "makes a retainer too large to hold"));
    }
    Ok(Some(terms))
}

/// The escrow an hourly order is funded with: its weeks at the cap.
pub fn retainer(terms: &TermsRow) -> Option<i64> {
    rules::retainer_cents(terms.hourly_rate_cents, terms.weekly_minute_cap, terms.weeks)
}

/// CONFLICT while an hourly order has time logged in a week not billed (open, submitted or
/// disputed): the contract ends (`approveWork`) only once every week is settled.
pub async fn check_all_billed(conn: &mut AsyncPgConnection, order_id: Uuid) -> AppResult<()> {
    let unbilled = model::unbilled_of(conn, order_id).await?;
    if let Some(week) = unbilled.iter().filter(|t| t.minutes > 0).min_by_key(|t| t.week_start) {
        return Err(AppError::Conflict(format!(
            "The week of {} is {} and not billed yet: submit and approve every week before ending the contract.",
            week.week_start, week.status
        )));
    }
    Ok(())
}
