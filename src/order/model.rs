//! Rows and queries of orders and what hangs off them.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::schema::{
    availability_dates, disputes, order_board_items, order_codes, order_deliverables, order_history, order_milestones,
    orders, payment_proofs,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub freelancer_id: Uuid,
    pub origin: String,
    pub gig_id: Option<Uuid>,
    pub package_tier: Option<String>,
    pub task_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub title: String,
    pub requirements: String,
    pub amount_cents: i64,
    pub currency: String,
    pub fee_bps: Option<i32>,
    pub status: String,
    pub revision_limit: i32,
    pub revisions_used: i32,
    pub on_site: bool,
    pub scheduled_for: Option<NaiveDate>,
    pub event_location: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub funded_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    pub fn is_party(&self, user_id: Uuid) -> bool {
        self.client_id == user_id || self.freelancer_id == user_id
    }
}

/// The fields a transition may change.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = orders)]
pub struct Transition {
    pub status: String,
    pub fee_bps: Option<i32>,
    pub revisions_used: i32,
    pub funded_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_milestones, check_for_backend(diesel::pg::Pg))]
pub struct MilestoneRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub position: i32,
    pub title: String,
    pub amount_cents: i64,
    pub due_at: Option<DateTime<Utc>>,
    pub checklist: serde_json::Value,
}

/// One definition-of-done item of a milestone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChecklistItem {
    pub text: String,
    pub done: bool,
}

impl MilestoneRow {
    pub fn checklist_items(&self) -> Vec<ChecklistItem> {
        serde_json::from_value(self.checklist.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_history, check_for_backend(diesel::pg::Pg))]
pub struct HistoryRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_id: Option<Uuid>,
    pub actor_role: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_proofs, check_for_backend(diesel::pg::Pg))]
pub struct ProofRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub submitted_by: Uuid,
    pub reference: String,
    pub payer_name: String,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub review_note: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_deliverables, check_for_backend(diesel::pg::Pg))]
pub struct DeliverableRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub author_id: Uuid,
    pub message: String,
    pub links: Vec<String>,
    pub attachments: serde_json::Value,
    pub revision: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_board_items, check_for_backend(diesel::pg::Pg))]
pub struct BoardItemRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub title: String,
    pub status: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_codes, check_for_backend(diesel::pg::Pg))]
pub struct CodeRow {
    pub order_id: Uuid,
    pub purpose: String,
    pub code_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub attempts: i32,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disputes, check_for_backend(diesel::pg::Pg))]
pub struct DisputeRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub opened_by: Uuid,
    pub reason: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &OrderRow, milestones: &[MilestoneRow]) -> QueryResult<()> {
    diesel::insert_into(orders::table).values(row).execute(conn).await?;
    diesel::insert_into(order_milestones::table)
        .values(milestones)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::id.eq_any(ids))
        .select(OrderRow::as_select())
        .load(conn)
        .await
}

/// Reads the order and locks its row until the transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn apply(conn: &mut AsyncPgConnection, id: Uuid, change: &Transition) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id))
        .set(change)
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn mark_cleared(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set(orders::cleared_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}

/// Completed orders whose earnings settled before `before` and have not cleared, locked
/// (skipping any another instance holds).
pub async fn lock_uncleared(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::status.eq("COMPLETED"))
        .filter(orders::cleared_at.is_null())
        .filter(orders::settled_at.lt(before))
        .order(orders::settled_at)
        .limit(limit)
        .select(OrderRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// Which role the viewer plays in the list of their orders.
#[derive(Debug, Clone, Copy)]
pub enum Side {
    Client,
    Freelancer,
    Either,
}

/// A page of a user's orders, newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    side: Side,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    let mut query = orders::table
        .select(OrderRow::as_select())
        .order(orders::id.desc())
        .limit(limit)
        .into_boxed();
    query = match side {
        Side::Client => query.filter(orders::client_id.eq(user_id)),
        Side::Freelancer => query.filter(orders::freelancer_id.eq(user_id)),
        Side::Either => query.filter(orders::client_id.eq(user_id).or(orders::freelancer_id.eq(user_id))),
    };
    if let Some(status) = status {
        query = query.filter(orders::status.eq(status.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(orders::id.lt(before));
    }
    query.load(conn).await
}

pub async fn count(conn: &mut AsyncPgConnection, user_id: Uuid, side: Side, status: Option<&str>) -> QueryResult<i64> {
    let mut query = orders::table.count().into_boxed();
    query = match side {
        Side::Client => query.filter(orders::client_id.eq(user_id)),
        Side::Freelancer => query.filter(orders::freelancer_id.eq(user_id)),
        Side::Either => query.filter(orders::client_id.eq(user_id).or(orders::freelancer_id.eq(user_id))),
    };
    if let Some(status) = status {
        query = query.filter(orders::status.eq(status.to_owned()));
    }
    query.get_result(conn).await
}

/// Whether `a` and `b` have hired one another: an order between them that was accepted and
/// not called off.
pub async fn share_an_order(conn: &mut AsyncPgConnection, a: Uuid, b: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        orders::table
            .filter(
                (orders::client_id.eq(a).and(orders::freelancer_id.eq(b)))
                    .or(orders::client_id.eq(b).and(orders::freelancer_id.eq(a))),
            )
            .filter(orders::status.ne_all(["REQUESTED", "DECLINED", "CANCELLED"])),
    ))
    .get_result(conn)
    .await
}

pub async fn milestones_of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<MilestoneRow>> {
    order_milestones::table
        .filter(order_milestones::order_id.eq_any(order_ids))
        .order((order_milestones::order_id, order_milestones::position))
        .select(MilestoneRow::as_select())
        .load(conn)
        .await
}

pub async fn lock_milestone(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<MilestoneRow>> {
    order_milestones::table
        .find(id)
        .select(MilestoneRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn set_checklist(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    checklist: serde_json::Value,
) -> QueryResult<MilestoneRow> {
    diesel::update(order_milestones::table.find(id))
        .set(order_milestones::checklist.eq(checklist))
        .returning(MilestoneRow::as_returning())
        .get_result(conn)
        .await
}

/// Marks the order's submitted proof confirmed or rejected.
pub async fn review_proof(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    status: &str,
    reviewer: Uuid,
    note: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        payment_proofs::table
            .filter(payment_proofs::order_id.eq(order_id))
            .filter(payment_proofs::status.eq("SUBMITTED")),
    )
    .set((
        payment_proofs::status.eq(status),
        payment_proofs::reviewed_by.eq(reviewer),
        payment_proofs::reviewed_at.eq(Utc::now()),
        payment_proofs::review_note.eq(note),
    ))
    .execute(conn)
    .await
}

pub async fn find_board_item(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<BoardItemRow>> {
    order_board_items::table
        .find(id)
        .select(BoardItemRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn set_board_item_status(conn: &mut AsyncPgConnection, id: Uuid, status: &str) -> QueryResult<BoardItemRow> {
    diesel::update(order_board_items::table.find(id))
        .set((
            order_board_items::status.eq(status),
            order_board_items::updated_at.eq(Utc::now()),
        ))
        .returning(BoardItemRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_board_item(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(order_board_items::table.find(id)).execute(conn).await
}

pub async fn board_count(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<i64> {
    order_board_items::table
        .filter(order_board_items::order_id.eq(order_id))
        .count()
        .get_result(conn)
        .await
}

/// Stores a fresh code for (order, purpose), replacing any earlier one.
pub async fn put_code(conn: &mut AsyncPgConnection, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(order_codes::table)
        .values(row)
        .on_conflict((order_codes::order_id, order_codes::purpose))
        .do_update()
        .set((
            order_codes::code_hash.eq(&row.code_hash),
            order_codes::expires_at.eq(row.expires_at),
            order_codes::attempts.eq(0),
            order_codes::used_at.eq(None::<DateTime<Utc>>),
            order_codes::created_at.eq(row.created_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn lock_code(conn: &mut AsyncPgConnection, order_id: Uuid, purpose: &str) -> QueryResult<Option<CodeRow>> {
    order_codes::table
        .find((order_id, purpose))
        .select(CodeRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Counts a wrong attempt at a code.
pub async fn count_attempt(conn: &mut AsyncPgConnection, order_id: Uuid, purpose: &str) -> QueryResult<()> {
    diesel::update(order_codes::table.find((order_id, purpose)))
        .set(order_codes::attempts.eq(order_codes::attempts + 1))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes codes that expired before `before`.
pub async fn prune_codes(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(order_codes::table.filter(order_codes::expires_at.lt(before)))
        .execute(conn)
        .await
}

/// Closes the order's open dispute with `status`.
pub async fn resolve_dispute(conn: &mut AsyncPgConnection, order_id: Uuid, status: &str) -> QueryResult<usize> {
    diesel::update(
        disputes::table
            .filter(disputes::order_id.eq(order_id))
            .filter(disputes::status.eq_any(["OPEN", "IN_MEDIATION"])),
    )
    .set((disputes::status.eq(status), disputes::resolved_at.eq(Utc::now())))
    .execute(conn)
    .await
}

/// Books `day` of `user_id` for `order_id`; false when the day is taken or blocked.
pub async fn book_day(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    day: NaiveDate,
    order_id: Uuid,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(availability_dates::table)
        .values((
            availability_dates::user_id.eq(user_id),
            availability_dates::day.eq(day),
            availability_dates::status.eq("BOOKED"),
            availability_dates::order_id.eq(order_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Frees the day an order had booked.
pub async fn free_days_of(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<usize> {
    diesel::delete(availability_dates::table.filter(availability_dates::order_id.eq(order_id)))
        .execute(conn)
        .await
}

/// Spends a code checked moments ago; false when another request spent it first.
pub async fn spend_code(conn: &mut AsyncPgConnection, order_id: Uuid, purpose: &str) -> QueryResult<bool> {
    let spent = diesel::update(
        order_codes::table
            .find((order_id, purpose))
            .filter(order_codes::used_at.is_null()),
    )
    .set(order_codes::used_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(spent == 1)
}

/// The two queries of each record an order accumulates: `$insert` writes one row, `$of` reads
/// the rows of some orders, by order and oldest first (ids are time-ordered).
macro_rules! order_records {
    ($row:ty, $table:ident, $insert:ident, $of:ident) => {
        pub async fn $insert(conn: &mut AsyncPgConnection, row: &$row) -> QueryResult<()> {
            diesel::insert_into($table::table)
                .values(row)
                .execute(conn)
                .await
                .map(drop)
        }

        pub async fn $of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<$row>> {
            $table::table
                .filter($table::order_id.eq_any(order_ids))
                .order(($table::order_id, $table::id))
                .select(<$row>::as_select())
                .load(conn)
                .await
        }
    };
}

order_records!(HistoryRow, order_history, insert_history, history_of);
order_records!(ProofRow, payment_proofs, insert_proof, proofs_of);
order_records!(DeliverableRow, order_deliverables, insert_deliverable, deliverables_of);
order_records!(BoardItemRow, order_board_items, insert_board_item, board_of);
order_records!(DisputeRow, disputes, insert_dispute, disputes_of);
