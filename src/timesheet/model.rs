//! Rows and queries of hourly terms, weekly timesheets and their time entries.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::{
    db::{
        by_id,
        schema::{hourly_terms, orders, time_entries, timesheets},
        text_enum::pg_enum,
    },
    order::model::OrderStatus,
};

pg_enum! {
    /// Where a weekly timesheet stands.
    #[derive(async_graphql::Enum)]
    pub enum TimesheetStatus {
        /// The freelancer is logging time in it.
        Open = "OPEN",
        /// Submitted: the client approves or disputes it before `reviewDueAt`, or it is
        /// approved on its own then. Its entries are frozen.
        Submitted = "SUBMITTED",
        /// Approved (by the client or when the review window closed) and billed: its amount
        /// left escrow for the freelancer, less the fee (final).
        Approved = "APPROVED",
        /// The client disputed it with a reason: the freelancer amends its entries and
        /// submits it again.
        Disputed = "DISPUTED",
    }
}

impl TimesheetStatus {
    /// Whether the week's entries may still change.
    pub fn editable(self) -> bool {
        matches!(self, Self::Open | Self::Disputed)
    }
}

/// The order statuses in which the freelancer logs time.
pub const LOGGING: [OrderStatus; 2] = [OrderStatus::InProgress, OrderStatus::RevisionRequested];
/// The order statuses in which weeks are submitted, approved, disputed and auto-approved
/// (also after the freelancer delivered, until the contract ends).
pub const REVIEWING: [OrderStatus; 3] = [
    OrderStatus::InProgress,
    OrderStatus::Submitted,
    OrderStatus::RevisionRequested,
];

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = hourly_terms, check_for_backend(diesel::pg::Pg))]
pub struct TermsRow {
    pub order_id: Uuid,
    pub hourly_rate_cents: i64,
    pub weekly_minute_cap: i32,
    pub weeks: i32,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = timesheets, check_for_backend(diesel::pg::Pg))]
pub struct TimesheetRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub week_start: NaiveDate,
    pub status: TimesheetStatus,
    pub minutes: i32,
    pub amount_cents: i64,
    pub fee_cents: Option<i64>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub review_due_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    pub auto_approved: bool,
    pub dispute_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = time_entries, check_for_backend(diesel::pg::Pg))]
pub struct EntryRow {
    pub id: Uuid,
    pub timesheet_id: Uuid,
    pub work_date: NaiveDate,
    pub start_time: NaiveTime,
    pub minutes: i32,
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a decision on a submitted week writes.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = timesheets, treat_none_as_null = true)]
pub struct Decision {
    pub status: TimesheetStatus,
    pub fee_cents: Option<i64>,
    pub review_due_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    pub auto_approved: bool,
    pub dispute_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

pub async fn insert_terms(conn: &mut AsyncPgConnection, row: &TermsRow) -> QueryResult<()> {
    diesel::insert_into(hourly_terms::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn find_terms(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Option<TermsRow>> {
    hourly_terms::table
        .find(order_id)
        .select(TermsRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The terms of these orders (fixed-price orders have none).
pub async fn terms_of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<TermsRow>> {
    hourly_terms::table
        .filter(hourly_terms::order_id.eq_any(order_ids))
        .select(TermsRow::as_select())
        .load(conn)
        .await
}

/// The order's timesheet of the week starting `week_start`, made OPEN when there is none yet,
/// locked until the transaction ends.
pub async fn lock_week(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    week_start: NaiveDate,
) -> QueryResult<TimesheetRow> {
    let now = Utc::now();
    diesel::insert_into(timesheets::table)
        .values((
            timesheets::id.eq(Uuid::now_v7()),
            timesheets::order_id.eq(order_id),
            timesheets::week_start.eq(week_start),
            timesheets::status.eq(TimesheetStatus::Open),
            timesheets::created_at.eq(now),
            timesheets::updated_at.eq(now),
        ))
        .on_conflict((timesheets::order_id, timesheets::week_start))
        .do_nothing()
        .execute(conn)
        .await?;
    timesheets::table
        .filter(timesheets::order_id.eq(order_id))
        .filter(timesheets::week_start.eq(week_start))
        .select(TimesheetRow::as_select())
        .for_update()
        .first(conn)
        .await
}

by_id!(TimesheetRow, timesheets, find: find, lock: lock, many: find_many);

/// The timesheets of these orders, by order and latest week first.
pub async fn of_orders(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<TimesheetRow>> {
    timesheets::table
        .filter(timesheets::order_id.eq_any(order_ids))
        .order((timesheets::order_id, timesheets::week_start.desc()))
        .select(TimesheetRow::as_select())
        .load(conn)
        .await
}

/// The order's weeks not billed yet (every status but APPROVED).
pub async fn unbilled_of(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Vec<TimesheetRow>> {
    timesheets::table
        .filter(timesheets::order_id.eq(order_id))
        .filter(timesheets::status.ne(TimesheetStatus::Approved))
        .select(TimesheetRow::as_select())
        .load(conn)
        .await
}

/// A page of an order's timesheets, latest week first, optionally in one status.
pub async fn page(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    status: Option<TimesheetStatus>,
    before: Option<NaiveDate>,
    limit: i64,
) -> QueryResult<Vec<TimesheetRow>> {
    let mut query = timesheets::table
        .filter(timesheets::order_id.eq(order_id))
        .select(TimesheetRow::as_select())
        .order(timesheets::week_start.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(timesheets::status.eq(status));
    }
    if let Some(before) = before {
        query = query.filter(timesheets::week_start.lt(before));
    }
    query.load(conn).await
}

/// How many timesheets [`page`] pages through.
pub async fn count(conn: &mut AsyncPgConnection, order_id: Uuid, status: Option<TimesheetStatus>) -> QueryResult<i64> {
    let mut query = timesheets::table
        .filter(timesheets::order_id.eq(order_id))
        .count()
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(timesheets::status.eq(status));
    }
    query.get_result(conn).await
}

/// Recounts the week's minutes from its entries and prices them at `rate_cents` an hour.
pub async fn refresh_totals(conn: &mut AsyncPgConnection, id: Uuid, rate_cents: i64) -> QueryResult<TimesheetRow> {
    let minutes: Option<i64> = time_entries::table
        .filter(time_entries::timesheet_id.eq(id))
        .select(diesel::dsl::sum(time_entries::minutes))
        .first(conn)
        .await?;
    let minutes = i32::try_from(minutes.unwrap_or(0)).unwrap_or(i32::MAX);
    diesel::update(timesheets::table.find(id))
        .set((
            timesheets::minutes.eq(minutes),
            timesheets::amount_cents.eq(super::rules::amount_cents(minutes, rate_cents)),
            timesheets::updated_at.eq(Utc::now()),
        ))
        .returning(TimesheetRow::as_returning())
        .get_result(conn)
        .await
}

/// Marks the week submitted at `at`, to be reviewed by `due`.
pub async fn submit(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    due: DateTime<Utc>,
) -> QueryResult<TimesheetRow> {
    diesel::update(timesheets::table.find(id))
        .set((
            timesheets::status.eq(TimesheetStatus::Submitted),
            timesheets::submitted_at.eq(at),
            timesheets::review_due_at.eq(due),
            timesheets::updated_at.eq(at),
        ))
        .returning(TimesheetRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn decide(conn: &mut AsyncPgConnection, id: Uuid, decision: &Decision) -> QueryResult<TimesheetRow> {
    diesel::update(timesheets::table.find(id))
        .set(decision)
        .returning(TimesheetRow::as_returning())
        .get_result(conn)
        .await
}

/// Submitted weeks whose review window closed by `now`, of orders still under way, oldest
/// deadline first, locked with their orders (skipping any another instance holds).
pub async fn lock_due(conn: &mut AsyncPgConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<TimesheetRow>> {
    timesheets::table
        .inner_join(orders::table)
        .filter(timesheets::status.eq(TimesheetStatus::Submitted))
        .filter(timesheets::review_due_at.le(now))
        .filter(orders::status.eq_any(REVIEWING))
        .filter(orders::settled_at.is_null())
        .order(timesheets::review_due_at)
        .limit(limit)
        .select(TimesheetRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

pub async fn insert_entry(conn: &mut AsyncPgConnection, row: &EntryRow) -> QueryResult<()> {
    diesel::insert_into(time_entries::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// Rewrites an entry's day, start, length, note and week.
pub async fn update_entry(conn: &mut AsyncPgConnection, row: &EntryRow) -> QueryResult<EntryRow> {
    diesel::update(time_entries::table.find(row.id))
        .set((
            time_entries::timesheet_id.eq(row.timesheet_id),
            time_entries::work_date.eq(row.work_date),
            time_entries::start_time.eq(row.start_time),
            time_entries::minutes.eq(row.minutes),
            time_entries::note.eq(&row.note),
            time_entries::updated_at.eq(row.updated_at),
        ))
        .returning(EntryRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_entry(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(time_entries::table.find(id)).execute(conn).await
}

/// An entry and the order its week belongs to.
pub async fn find_entry(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<(EntryRow, Uuid)>> {
    time_entries::table
        .inner_join(timesheets::table)
        .filter(time_entries::id.eq(id))
        .select((EntryRow::as_select(), timesheets::order_id))
        .first(conn)
        .await
        .optional()
}

/// The week's entries on `date`.
pub async fn entries_on(
    conn: &mut AsyncPgConnection,
    timesheet_id: Uuid,
    date: NaiveDate,
) -> QueryResult<Vec<EntryRow>> {
    time_entries::table
        .filter(time_entries::timesheet_id.eq(timesheet_id))
        .filter(time_entries::work_date.eq(date))
        .select(EntryRow::as_select())
        .load(conn)
        .await
}

/// The entries of these timesheets, by day and start.
pub async fn entries_of(conn: &mut AsyncPgConnection, timesheet_ids: &[Uuid]) -> QueryResult<Vec<EntryRow>> {
    time_entries::table
        .filter(time_entries::timesheet_id.eq_any(timesheet_ids))
        .order((
            time_entries::timesheet_id,
            time_entries::work_date,
            time_entries::start_time,
        ))
        .select(EntryRow::as_select())
        .load(conn)
        .await
}
