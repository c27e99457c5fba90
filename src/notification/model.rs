//! Rows and queries of `notifications`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{
    page::{Page, PageRequest},
    schema::notifications,
    text_enum::pg_enum,
};

pg_enum! {
    /// What a notification is about; `Notification.data` holds the ids to open it with.
    #[derive(async_graphql::Enum)]
    pub enum NotificationKind {
        /// Someone applied to your task. Data: `taskId`, `applicationId`.
        NewApplication = "NEW_APPLICATION",
        /// Your application changed status (including when the task went to someone else).
        /// Data: `taskId`, `applicationId`, `status`.
        ApplicationStatus = "APPLICATION_STATUS",
        /// A message arrived in a conversation you were not watching (`messageAdded`).
        /// Data: `conversationId`, `messageId`.
        NewMessage = "NEW_MESSAGE",
        /// Someone else (the other party or an admin) created or moved one of your orders.
        /// Data: `orderId`, `status`, and `action` for a move or `taskId` (may be null) for a new
        /// order.
        OrderStatus = "ORDER_STATUS",
        /// A payment step on one of your orders (proof submitted, confirmed or rejected).
        /// Data: `orderId`, `status`, `action`.
        Payment = "PAYMENT",
        /// A call was scheduled with you. Not sent yet: calls are not available.
        CallScheduled = "CALL_SCHEDULED",
        /// A review of you became public. Data: `reviewId`, `orderId`, `rating`.
        ReviewReceived = "REVIEW_RECEIVED",
        /// You have not reviewed a completed order yet and its review window is open. Data:
        /// `orderId`, `windowClosesAt`.
        ReviewReminder = "REVIEW_REMINDER",
        /// A task was posted near you while you were offline. Data: `taskId`,
        /// `distanceMeters`, `mode`.
        TaskNearby = "TASK_NEARBY",
        /// A dispute on one of your orders was opened, took evidence, was taken on by a
        /// mediator or was settled. Data: `orderId`, and `status` and `action` when the order
        /// moved, or `disputeId` (and `evidenceId` for new evidence).
        Dispute = "DISPUTE",
        /// A change to a gig you follow. Not sent yet.
        GigUpdate = "GIG_UPDATE",
        /// Anything else: invitations, vouches, verification reviews, SOS alerts and their
        /// handling, expired tasks, the CI checks of a linked pull request turning passing or
        /// failing (`orderId`, `pullRequestId`, `checksState`). `data` says what it concerns.
        System = "SYSTEM",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: NotificationKind,
    pub title: String,
    pub body: String,
    pub data: serde_json::Value,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &NotificationRow) -> QueryResult<()> {
    diesel::insert_into(notifications::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_many(conn: &mut AsyncPgConnection, rows: &[NotificationRow]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(notifications::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}

/// The statement of a page of a user's notifications, newest first, strictly older than
/// `before` (an id).
fn page_query(
    user_id: Uuid,
    unread_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> notifications::BoxedQuery<
    'static,
    diesel::pg::Pg,
    diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<NotificationRow, diesel::pg::Pg>>,
> {
    let mut query = mine(user_id, unread_only)
        .select(NotificationRow::as_select())
        .order(notifications::id.desc())
        .limit(limit);
    if let Some(before) = before {
        query = query.filter(notifications::id.lt(before));
    }
    query
}

/// A user's notifications, or only the unread ones.
fn mine(user_id: Uuid, unread_only: bool) -> notifications::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    query
}

/// How many notifications a user has (or unread ones).
pub async fn count(conn: &mut AsyncPgConnection, user_id: Uuid, unread_only: bool) -> QueryResult<i64> {
    mine(user_id, unread_only).count().get_result(conn).await
}

/// A page of a user's notifications (or unread ones), newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    unread_only: bool,
    request: &PageRequest<Uuid>,
) -> QueryResult<Page<NotificationRow>> {
    request
        .fetch(
            conn,
            async |c, before, limit| page_query(user_id, unread_only, before.copied(), limit).load(c).await,
            async |c| count(c, user_id, unread_only).await,
        )
        .await
}

/// Marks one of the user's notifications read (keeping the first read time).
pub async fn mark_read(conn: &mut AsyncPgConnection, id: Uuid, user_id: Uuid) -> QueryResult<Option<NotificationRow>> {
    diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::user_id.eq(user_id)),
    )
    .set(notifications::read_at.eq(diesel::dsl::sql::<
        diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
    >("COALESCE(read_at, now())")))
    .returning(NotificationRow::as_returning())
    .get_result(conn)
    .await
    .optional()
}

pub async fn mark_all_read(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(Utc::now()))
    .execute(conn)
    .await
}
