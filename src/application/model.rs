//! Rows and queries of applications.

use chrono::{DateTime, Utc};
use diesel::{pg::Pg, prelude::*};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{by_id, schema::applications, text_enum::pg_enum};

pg_enum! {
    /// Where an application stands. REJECTED, ACCEPTED and WITHDRAWN are final.
    #[derive(async_graphql::Enum)]
    pub enum ApplicationStatus {
        /// Sent; the poster has not acted on it yet.
        Pending = "PENDING",
        /// The poster is considering it.
        Reviewing = "REVIEWING",
        /// The poster shortlisted it.
        Shortlisted = "SHORTLISTED",
        /// Turned down by the poster, or automatically when someone else was hired (final).
        Rejected = "REJECTED",
        /// The freelancer was hired and an order made (`acceptApplication`; final).
        Accepted = "ACCEPTED",
        /// The freelancer withdrew it (final).
        Withdrawn = "WITHDRAWN",
    }
}

impl ApplicationStatus {
    /// The statuses of an application still under consideration (it may be accepted).
    pub const OPEN: [Self; 3] = [Self::Pending, Self::Reviewing, Self::Shortlisted];

    /// Whether the application is still under consideration.
    pub fn is_open(self) -> bool {
        Self::OPEN.contains(&self)
    }

    /// Whether the status may be set by the task's poster (ACCEPTED goes through
    /// `acceptApplication`, with orders).
    pub fn poster_may_set(self) -> bool {
        self.is_open() || self == Self::Rejected
    }
}

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
    pub status: ApplicationStatus,
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

pub async fn set_status(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    status: ApplicationStatus,
) -> QueryResult<Vec<ApplicationRow>> {
    diesel::update(applications::table.filter(applications::id.eq_any(ids)))
        .set((applications::status.eq(status), applications::updated_at.eq(Utc::now())))
        .returning(ApplicationRow::as_returning())
        .get_results(conn)
        .await
}

/// Whose applications a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Those to one task.
    Task(Uuid),
    /// Those one freelancer sent.
    Freelancer(Uuid),
}

/// The applications of `scope`, optionally in one status.
fn listed(scope: Scope, status: Option<ApplicationStatus>) -> applications::BoxedQuery<'static, Pg> {
    let mut query = match scope {
        Scope::Task(id) => applications::table.filter(applications::task_id.eq(id)).into_boxed(),
        Scope::Freelancer(id) => applications::table
            .filter(applications::freelancer_id.eq(id))
            .into_boxed(),
    };
    if let Some(status) = status {
        query = query.filter(applications::status.eq(status));
    }
    query
}

/// A page of the applications of `scope`, newest first, optionally in one status, strictly
/// older than `before`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    status: Option<ApplicationStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<ApplicationRow>> {
    let mut query = listed(scope, status)
        .select(ApplicationRow::as_select())
        .order(applications::id.desc())
        .limit(limit);
    if let Some(before) = before {
        query = query.filter(applications::id.lt(before));
    }
    query.load(conn).await
}

/// How many applications `scope` has, optionally in one status.
pub async fn count(conn: &mut AsyncPgConnection, scope: Scope, status: Option<ApplicationStatus>) -> QueryResult<i64> {
    listed(scope, status).count().get_result(conn).await
}

/// The ids of a task's applications still under consideration.
pub async fn open_of_task(conn: &mut AsyncPgConnection, task_id: Uuid) -> QueryResult<Vec<Uuid>> {
    applications::table
        .filter(applications::task_id.eq(task_id))
        .filter(applications::status.eq_any(ApplicationStatus::OPEN))
        .select(applications::id)
        .load(conn)
        .await
}

by_id!(ApplicationRow, applications, many: find_many);
