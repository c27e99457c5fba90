//! Rows and queries of applications.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::applications;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = applications, check_for_backend(diesel::pg::Pg))]
pub struct ApplicationRow {
    pub id: Uuid,
    pub task_id: Uuid,
    pub freelancer_id: Uuid,
    pub cover_letter: String,
    pub proposed_rate_cents: i64,
    pub proposed_timeline: String,
    pub portfolio_items: Vec<String>,
    pub ai_tools_to_use: Vec<String>,
    pub milestones: serde_json::Value,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Revision rounds included in the proposal (the order inherits them).
    pub revisions: i32,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &ApplicationRow) -> QueryResult<()> {
    diesel::insert_into(applications::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn lock_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<ApplicationRow>> {
    applications::table
        .filter(applications::id.eq_any(ids))
        .order(applications::id)
        .select(ApplicationRow::as_select())
        .for_update()
        .load(conn)
        .await
}

pub async fn set_status(conn: &mut AsyncPgConnection, ids: &[Uuid], status: &str) -> QueryResult<Vec<ApplicationRow>> {
    diesel::update(applications::table.filter(applications::id.eq_any(ids)))
        .set((applications::status.eq(status), applications::updated_at.eq(Utc::now())))
        .returning(ApplicationRow::as_returning())
        .get_results(conn)
        .await
}

/// A page of applications, newest first, of one task or one freelancer, optionally in one
/// status, strictly older than `before`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    task_id: Option<Uuid>,
    freelancer_id: Option<Uuid>,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<ApplicationRow>> {
    let mut query = applications::table
        .select(ApplicationRow::as_select())
        .order(applications::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(task_id) = task_id {
        query = query.filter(applications::task_id.eq(task_id));
    }
    if let Some(freelancer_id) = freelancer_id {
        query = query.filter(applications::freelancer_id.eq(freelancer_id));
    }
    if let Some(status) = status {
        query = query.filter(applications::status.eq(status.to_owned()));
    }
    if let Some(before) = before {
        query = query.filter(applications::id.lt(before));
    }
    query.load(conn).await
}

/// How many applications one task or one freelancer has, optionally in one status.
pub async fn count(
    conn: &mut AsyncPgConnection,
    task_id: Option<Uuid>,
    freelancer_id: Option<Uuid>,
    status: Option<&str>,
) -> QueryResult<i64> {
    let mut query = applications::table.count().into_boxed();
    if let Some(task_id) = task_id {
        query = query.filter(applications::task_id.eq(task_id));
    }
    if let Some(freelancer_id) = freelancer_id {
        query = query.filter(applications::freelancer_id.eq(freelancer_id));
    }
    if let Some(status) = status {
        query = query.filter(applications::status.eq(status.to_owned()));
    }
    query.get_result(conn).await
}

/// The ids of a task's applications still under consideration.
pub async fn open_of_task(conn: &mut AsyncPgConnection, task_id: Uuid) -> QueryResult<Vec<Uuid>> {
    applications::table
        .filter(applications::task_id.eq(task_id))
        .filter(applications::status.eq_any(["PENDING", "REVIEWING", "SHORTLISTED"]))
        .select(applications::id)
        .load(conn)
        .await
}

pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<ApplicationRow>> {
    applications::table
        .filter(applications::id.eq_any(ids))
        .select(ApplicationRow::as_select())
        .load(conn)
        .await
}
