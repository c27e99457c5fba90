//! Rows and queries of `sos_alerts`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{by_id, schema::sos_alerts, text_enum::pg_enum};

pg_enum! {
    /// Where an SOS alert stands.
    #[derive(async_graphql::Enum)]
    pub enum SosStatus {
        /// Raised; no admin has answered yet.
        Open = "OPEN",
        /// An admin is on it.
        Acknowledged = "ACKNOWLEDGED",
        /// Handled, with a note.
        Resolved = "RESOLVED",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = sos_alerts, check_for_backend(diesel::pg::Pg))]
pub struct SosRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub raised_by: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    pub message: Option<String>,
    pub status: SosStatus,
    pub acknowledged_by: Option<Uuid>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Inserts `row` unless its raiser already has an unresolved alert on the order; returns
/// whether it went in.
pub async fn insert_unless_open(conn: &mut AsyncPgConnection, row: &SosRow) -> QueryResult<bool> {
    diesel::insert_into(sos_alerts::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

/// The raiser's unresolved alert on the order.
pub async fn unresolved(conn: &mut AsyncPgConnection, order_id: Uuid, raised_by: Uuid) -> QueryResult<Option<SosRow>> {
    sos_alerts::table
        .filter(sos_alerts::order_id.eq(order_id))
        .filter(sos_alerts::raised_by.eq(raised_by))
        .filter(sos_alerts::status.ne(SosStatus::Resolved))
        .select(SosRow::as_select())
        .first(conn)
        .await
        .optional()
}

by_id!(SosRow, sos_alerts, lock: lock);

pub async fn acknowledge(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    admin: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<SosRow> {
    diesel::update(sos_alerts::table.find(id))
        .set((
            sos_alerts::status.eq(SosStatus::Acknowledged),
            sos_alerts::acknowledged_by.eq(admin),
            sos_alerts::acknowledged_at.eq(at),
            sos_alerts::updated_at.eq(at),
        ))
        .returning(SosRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn resolve(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    admin: Uuid,
    note: &str,
    at: DateTime<Utc>,
) -> QueryResult<SosRow> {
    diesel::update(sos_alerts::table.find(id))
        .set((
            sos_alerts::status.eq(SosStatus::Resolved),
            sos_alerts::resolved_by.eq(admin),
            sos_alerts::resolved_at.eq(at),
            sos_alerts::resolution_note.eq(note),
            sos_alerts::updated_at.eq(at),
        ))
        .returning(SosRow::as_returning())
        .get_result(conn)
        .await
}

crate::db::status_listing!(sos_alerts, SosRow, SosStatus);
