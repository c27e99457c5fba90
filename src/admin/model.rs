//! The audit log and moderation holds.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    schema::{audit_log, moderation_holds},
    text_enum::pg_enum,
};

pg_enum! {
    /// What an admin can take out of public view.
    pub enum HoldTarget {
        Gig = "GIG",
        Task = "TASK",
    }
}

/// An admin's hold on a gig or task (see the migration that creates `moderation_holds`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = moderation_holds, check_for_backend(diesel::pg::Pg))]
pub struct HoldRow {
    pub target_type: HoldTarget,
    pub target_id: Uuid,
    pub actor_id: Uuid,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// `actor_id` places a hold on a gig or task for `reason` unless one stands; true when
/// placed.
pub async fn hold(
    conn: &mut AsyncPgConnection,
    target: HoldTarget,
    id: Uuid,
    actor_id: Uuid,
    reason: &str,
) -> QueryResult<bool> {
    diesel::insert_into(moderation_holds::table)
        .values(HoldRow {
            target_type: target,
            target_id: id,
            actor_id,
            reason: reason.to_owned(),
            created_at: Utc::now(),
        })
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

/// The hold on a gig or task, if any.
pub async fn hold_on(conn: &mut AsyncPgConnection, target: HoldTarget, id: Uuid) -> QueryResult<Option<HoldRow>> {
    moderation_holds::table
        .find((target, id))
        .select(HoldRow::as_select())
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditRow {
    pub id: Uuid,
    pub actor_id: Uuid,
    pub action: String,
    pub target_type: String,
    pub target_id: Uuid,
    pub reason: String,
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// Records an admin action in the caller's transaction.
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor_id: Uuid,
    action: &str,
    target_type: &str,
    target_id: Uuid,
    reason: &str,
    data: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(AuditRow {
            id: Uuid::now_v7(),
            actor_id,
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id,
            reason: reason.to_owned(),
            data,
            created_at: Utc::now(),
        })
        .execute(conn)
        .await
        .map(drop)
}

/// What the audit log can be narrowed to.
#[derive(Debug, Default)]
pub struct Filter {
    pub actor_id: Option<Uuid>,
    pub target_type: Option<String>,
    pub target_id: Option<Uuid>,
}

fn filtered(filter: &Filter) -> audit_log::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = audit_log::table.into_boxed();
    if let Some(actor) = filter.actor_id {
        query = query.filter(audit_log::actor_id.eq(actor));
    }
    if let Some(kind) = &filter.target_type {
        query = query.filter(audit_log::target_type.eq(kind.clone()));
    }
    if let Some(target) = filter.target_id {
        query = query.filter(audit_log::target_id.eq(target));
    }
    query
}

/// A page of the log, newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut query = filtered(filter)
        .select(AuditRow::as_select())
        .order(audit_log::id.desc())
        .limit(limit);
    if let Some(before) = before {
        query = query.filter(audit_log::id.lt(before));
    }
    query.load(conn).await
}

pub async fn count(conn: &mut AsyncPgConnection, filter: &Filter) -> QueryResult<i64> {
    filtered(filter).count().get_result(conn).await
}
