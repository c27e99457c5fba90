//! Creating, listing and marking notifications.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{self, NotificationRow};
use crate::{
    db::{
        page::{Page, PageRequest},
        Db,
    },
    error::{AppError, AppResult},
    events::{self, topic},
};

/// The event kind on a user's topic when a notification is created.
pub const NOTIFICATION_ADDED: &str = "NOTIFICATION_ADDED";

/// What a notification is about (the same type the rows and the schema use).
pub use super::model::NotificationKind as Kind;

/// Creates a notification for `user_id` in the caller's transaction and emits it on the
/// user's topic. The caller kicks the bus after commit.
pub async fn notify(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    kind: Kind,
    title: &str,
    body: &str,
    data: serde_json::Value,
) -> AppResult<NotificationRow> {
    let row = NotificationRow {
        id: Uuid::now_v7(),
        user_id,
        kind,
        title: title.to_owned(),
        body: body.to_owned(),
        data,
        read_at: None,
        created_at: Utc::now(),
    };
    model::insert(conn, &row).await?;
    events::emit(conn, &topic::user(user_id), NOTIFICATION_ADDED, &row).await?;
    Ok(row)
}

/// One notification each for several users (title, body and data per user), written and
/// emitted with one statement per table, in the caller's transaction.
pub async fn notify_many(
    conn: &mut AsyncPgConnection,
    kind: Kind,
    items: Vec<(Uuid, String, String, serde_json::Value)>,
) -> AppResult<Vec<NotificationRow>> {
    let now = Utc::now();
    let rows: Vec<NotificationRow> = items
        .into_iter()
        .map(|(user_id, title, body, data)| NotificationRow {
            id: Uuid::now_v7(),
            user_id,
            kind,
            title,
            body,
            data,
            read_at: None,
            created_at: now,
        })
        .collect();
    model::insert_many(conn, &rows).await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let payload = serde_json::to_value(row).map_err(AppError::internal)?;
        events.push((topic::user(row.user_id), NOTIFICATION_ADDED, payload));
    }
    crate::events::model::insert_many(conn, events).await?;
    Ok(rows)
}

/// A page of the user's notifications (or only the unread ones), newest first.
pub async fn page(
    db: &Db,
    user_id: Uuid,
    unread_only: bool,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<NotificationRow>> {
    let mut conn = db.conn().await?;
    Ok(model::page(&mut conn, user_id, unread_only, request).await?)
}

/// How many notifications the user has (or unread ones).
pub async fn count(db: &Db, user_id: Uuid, unread_only: bool) -> AppResult<i64> {
    let mut conn = db.conn().await?;
    Ok(model::count(&mut conn, user_id, unread_only).await?)
}

/// Marks one of the viewer's notifications read; `NOT_FOUND` for anyone else's.
pub async fn mark_read(db: &Db, user_id: Uuid, id: Uuid) -> AppResult<NotificationRow> {
    let mut conn = db.conn().await?;
    model::mark_read(&mut conn, id, user_id)
        .await?
        .ok_or_else(|| AppError::not_found("Notification"))
}

/// Marks every notification of the viewer read; returns how many changed.
pub async fn mark_all_read(db: &Db, user_id: Uuid) -> AppResult<usize> {
    let mut conn = db.conn().await?;
    Ok(model::mark_all_read(&mut conn, user_id).await?)
}
