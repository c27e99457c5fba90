//! Logging time: an entry is a stretch of work on one day (`[startTime, startTime +
//! minutes)`, ending by midnight) in the week's timesheet. In one transaction under the
//! order's lock: the week must be open (or disputed), the entry may not overlap another of
//! that day, the week may not pass the weekly cap, and the time not billed yet may not cost
//! more than the escrow still holds (`LIMIT_EXCEEDED` for the last two).

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{contract, Contract, Party};
use crate::{
    error::{AppError, AppResult, FieldErrors},
    profile::model::UserRow,
    state::AppState,
    timesheet::{
        model::{self, EntryRow, TimesheetRow, LOGGING},
        rules,
    },
    validation,
};

/// A note is at most this long.
const NOTE_MAX: usize = 1_000;

/// What `logTime` takes.
pub struct EntryInput {
    pub order_id: Uuid,
    pub date: NaiveDate,
    /// `HH:MM`, 24-hour, in the freelancer's own time.
    pub start_time: String,
    pub minutes: i32,
    pub note: String,
}

/// What `updateTimeEntry` changes (omitted: unchanged).
pub struct EntryPatch {
    pub date: Option<NaiveDate>,
    pub start_time: Option<String>,
    pub minutes: Option<i32>,
    pub note: Option<String>,
}

/// An entry's fields, checked.
struct Checked {
    date: NaiveDate,
    start: NaiveTime,
    minutes: i32,
    note: String,
}

/// Checks an entry's fields, naming each bad one: a date not after today where the
/// freelancer lives nor before the contract was funded, a start `HH:MM`, 1 minute or more
/// ending by midnight, a note of at most 1,000 characters.
fn check(
    order_started: NaiveDate,
    today: NaiveDate,
    date: NaiveDate,
    start: &str,
    minutes: i32,
    note: &str,
) -> AppResult<Checked> {
    let mut errors = FieldErrors::new();
    if date > today {
        errors.add("date", format!("must not be in the future (today is {today})"));
    } else if date < order_started {
        errors.add(
            "date",
            format!("must not be before the contract started ({order_started})"),
        );
    }
    let start = NaiveTime::parse_from_str(start.trim(), "%H:%M").ok();
    if start.is_none() {
        errors.add("startTime", "must be a time of day as HH:MM (24-hour)");
    }
    if minutes < 1 {
        errors.add("minutes", "must be at least 1");
    } else if let Some(start) = start {
        if rules::end_minute(start, minutes) > rules::MINUTES_PER_DAY {
            errors.add("minutes", "must end by midnight: log the rest on the next day");
        }
    }
    let note = validation::text("note", note, 0, NOTE_MAX, true, &mut errors);
    errors.into_result()?;
    Ok(Checked {
        date,
        start: start.unwrap_or_default(),
        minutes,
        note,
    })
}

/// The day the contract started (was funded) and today, both where the freelancer lives.
fn days(contract: &Contract, freelancer: &UserRow) -> (NaiveDate, NaiveDate) {
    let tz = freelancer.timezone.as_deref();
    let started = contract.order.funded_at.unwrap_or_else(Utc::now);
    (rules::today_in(tz, started), rules::today_in(tz, Utc::now()))
}

/// The week of `date`, locked, refusing a week whose entries are frozen.
async fn editable_week(conn: &mut AsyncPgConnection, order_id: Uuid, date: NaiveDate) -> AppResult<TimesheetRow> {
    let week = model::lock_week(conn, order_id, rules::week_start(date)).await?;
    editable(&week)?;
    Ok(week)
}

fn editable(week: &TimesheetRow) -> AppResult<()> {
    if week.status.editable() {
        return Ok(());
    }
    Err(AppError::Conflict(format!(
        "The week of {} is {}: its entries can no longer change.",
        week.week_start, week.status
    )))
}

/// The entry may not share a minute with another entry of its day (`skip`: the entry being
/// edited). VALIDATION_ERROR on `startTime` naming the one it overlaps.
async fn check_overlap(
    conn: &mut AsyncPgConnection,
    week: &TimesheetRow,
    entry: &Checked,
    skip: Option<Uuid>,
) -> AppResult<()> {
    let day = model::entries_on(conn, week.id, entry.date).await?;
    if let Some(other) = day
        .iter()
        .filter(|e| Some(e.id) != skip)
        .find(|e| rules::overlaps((e.start_time, e.minutes), (entry.start, entry.minutes)))
    {
        let end = other.start_time + chrono::Duration::minutes(i64::from(other.minutes));
        return Err(AppError::field(
            "startTime",
            format!(
                "overlaps your entry of {} from {} to {}",
                other.work_date,
                other.start_time.format("%H:%M"),
                end.format("%H:%M")
            ),
        ));
    }
    Ok(())
}

/// The week's cap and the escrow, with `changes` (timesheet id → minutes it would hold)
/// applied: LIMIT_EXCEEDED when `week` passes the weekly cap, or when everything logged and
/// not billed would cost more than the escrow still holds.
async fn check_room(
    conn: &mut AsyncPgConnection,
    contract: &Contract,
    week: Uuid,
    changes: &HashMap<Uuid, i32>,
) -> AppResult<()> {
    let cap = contract.terms.weekly_minute_cap;
    if let Some(minutes) = changes.get(&week).filter(|m| **m > cap) {
        return Err(AppError::LimitExceeded(format!(
            "The weekly cap is {}: this week would hold {}.",
            rules::human_minutes(cap),
            rules::human_minutes(*minutes)
        )));
    }
    let rate = contract.terms.hourly_rate_cents;
    let unbilled: i64 = model::unbilled_of(conn, contract.order.id)
        .await?
        .iter()
        .map(|t| rules::amount_cents(changes.get(&t.id).copied().unwrap_or(t.minutes), rate))
        .sum();
    let escrow = contract.order.escrow_cents();
    if unbilled > escrow {
        return Err(AppError::LimitExceeded(format!(
            "The escrow holds {escrow} cents and the time not billed yet would cost {unbilled}: ask the client to fund a new contract for more."
        )));
    }
    Ok(())
}

/// Freelancer: logs an entry in its week of an hourly order that is IN_PROGRESS (or
/// REVISION_REQUESTED). Returns the entry.
pub async fn log_time(app: &AppState, freelancer: &UserRow, input: EntryInput) -> AppResult<EntryRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let contract = contract(
                conn,
                freelancer,
                input.order_id,
                Party::Freelancer,
                &LOGGING,
                "log time",
            )
            .await?;
            let (started, today) = days(&contract, freelancer);
            let entry = check(
                started,
                today,
                input.date,
                &input.start_time,
                input.minutes,
                &input.note,
            )?;
            let week = editable_week(conn, contract.order.id, entry.date).await?;
            check_overlap(conn, &week, &entry, None).await?;
            let changes = HashMap::from([(week.id, week.minutes + entry.minutes)]);
            check_room(conn, &contract, week.id, &changes).await?;
            let now = Utc::now();
            let row = EntryRow {
                id: Uuid::now_v7(),
                timesheet_id: week.id,
                work_date: entry.date,
                start_time: entry.start,
                minutes: entry.minutes,
                note: entry.note,
                created_at: now,
                updated_at: now,
            };
            model::insert_entry(conn, &row).await?;
            model::refresh_totals(conn, week.id, contract.terms.hourly_rate_cents).await?;
            Ok(row)
        })
        .await
}

/// The entry `id` of an order the freelancer works on, with the order locked: NOT_FOUND for
/// entries of other people's orders.
async fn locked_entry(
    conn: &mut AsyncPgConnection,
    freelancer: &UserRow,
    id: Uuid,
    doing: &str,
) -> AppResult<(EntryRow, Contract, TimesheetRow)> {
    let (entry, order_id) = model::find_entry(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("TimeEntry"))?;
    let contract = contract(conn, freelancer, order_id, Party::Freelancer, &LOGGING, doing)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::not_found("TimeEntry"),
            e => e,
        })?;
    let week = model::lock(conn, entry.timesheet_id)
        .await?
        .ok_or_else(|| AppError::not_found("TimeEntry"))?;
    editable(&week)?;
    Ok((entry, contract, week))
}

/// Freelancer: changes an entry of a week still open (or disputed); it may move to another
/// day, and so another week, that is open too. Returns the entry.
pub async fn update_entry(app: &AppState, freelancer: &UserRow, id: Uuid, patch: EntryPatch) -> AppResult<EntryRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let (old, contract, old_week) = locked_entry(conn, freelancer, id, "edit time").await?;
            let (started, today) = days(&contract, freelancer);
            let start = patch
                .start_time
                .clone()
                .unwrap_or_else(|| old.start_time.format("%H:%M").to_string());
            let note = patch.note.clone().unwrap_or_else(|| old.note.clone());
            let date = patch.date.unwrap_or(old.work_date);
            let entry = check(
                started,
                today,
                date,
                &start,
                patch.minutes.unwrap_or(old.minutes),
                &note,
            )?;
            let week = if rules::week_start(date) == old_week.week_start {
                old_week.clone()
            } else {
                editable_week(conn, contract.order.id, date).await?
            };
            check_overlap(conn, &week, &entry, Some(old.id)).await?;
            let mut changes = HashMap::from([(old_week.id, old_week.minutes - old.minutes)]);
            *changes.entry(week.id).or_insert(week.minutes) += entry.minutes;
            check_room(conn, &contract, week.id, &changes).await?;
            let updated = model::update_entry(
                conn,
                &EntryRow {
                    timesheet_id: week.id,
                    work_date: entry.date,
                    start_time: entry.start,
                    minutes: entry.minutes,
                    note: entry.note,
                    updated_at: Utc::now(),
                    ..old
                },
            )
            .await?;
            let rate = contract.terms.hourly_rate_cents;
            model::refresh_totals(conn, old_week.id, rate).await?;
            if week.id != old_week.id {
                model::refresh_totals(conn, week.id, rate).await?;
            }
            Ok(updated)
        })
        .await
}

/// Freelancer: deletes an entry of a week still open (or disputed). Returns the week.
pub async fn delete_entry(app: &AppState, freelancer: &UserRow, id: Uuid) -> AppResult<TimesheetRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let (entry, contract, week) = locked_entry(conn, freelancer, id, "delete time").await?;
            model::delete_entry(conn, entry.id).await?;
            Ok(model::refresh_totals(conn, week.id, contract.terms.hourly_rate_cents).await?)
        })
        .await
}
