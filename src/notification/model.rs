//! Rows and queries of `notifications`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::schema::notifications;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = notifications, check_for_backend(diesel::pg::Pg))]
pub struct NotificationRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
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

/// A page of a user's notifications, newest first, strictly older than `before` (an id).
pub async fn page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    unread_only: bool,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .select(NotificationRow::as_select())
        .order(notifications::id.desc())
        .limit(limit)
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    if let Some(before) = before {
        query = query.filter(notifications::id.lt(before));
    }
    query.load(conn).await
}

pub async fn count(conn: &mut AsyncPgConnection, user_id: Uuid, unread_only: bool) -> QueryResult<i64> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .count()
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::read_at.is_null());
    }
    query.get_result(conn).await
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
