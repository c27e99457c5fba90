//! Rows and queries of tasks and invites.

use chrono::{DateTime, Utc};
use diesel::{
    dsl::sql,
    pg::Pg,
    prelude::*,
    sql_types::{Bool, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    db::schema::{task_invites, tasks, users},
    profile::model::UserRow,
};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = tasks, check_for_backend(Pg))]
pub struct TaskRow {
    pub id: Uuid,
    pub poster_id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub skills_required: Vec<String>,
    pub ai_tools_preferred: Vec<String>,
    pub budget_type: String,
    pub budget_min_cents: i64,
    pub budget_max_cents: i64,
    pub currency: String,
    pub duration: String,
    pub location_type: String,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub mode: String,
    pub acceptance_deadline: Option<DateTime<Utc>>,
    pub status: String,
    pub milestone_plan: serde_json::Value,
    pub nda_required: bool,
    pub ip_transfer: bool,
    pub template_key: Option<String>,
    pub attachments: serde_json::Value,
    pub applications_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

/// A task as written (insert and full update share it).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskFields {
    pub title: String,
    pub description: String,
    pub category: String,
    pub skills_required: Vec<String>,
    pub ai_tools_preferred: Vec<String>,
    pub budget_type: String,
    pub budget_min_cents: i64,
    pub budget_max_cents: i64,
    pub currency: String,
    pub duration: String,
    pub location_type: String,
    #[diesel(treat_none_as_null = true)]
    pub address: Option<String>,
    #[diesel(treat_none_as_null = true)]
    pub latitude: Option<f64>,
    #[diesel(treat_none_as_null = true)]
    pub longitude: Option<f64>,
    pub milestone_plan: serde_json::Value,
    pub nda_required: bool,
    pub ip_transfer: bool,
    #[diesel(treat_none_as_null = true)]
    pub template_key: Option<String>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    poster_id: Uuid,
    fields: &TaskFields,
    status: &str,
    attachments: &serde_json::Value,
) -> QueryResult<TaskRow> {
    let published_at = (status == "OPEN").then(Utc::now);
    diesel::insert_into(tasks::table)
        .values((
            tasks::id.eq(id),
            tasks::poster_id.eq(poster_id),
            fields,
            tasks::status.eq(status),
            tasks::attachments.eq(attachments),
            tasks::published_at.eq(published_at),
        ))
        .returning(TaskRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn update_fields(conn: &mut AsyncPgConnection, id: Uuid, fields: &TaskFields) -> QueryResult<TaskRow> {
    diesel::update(tasks::table.find(id))
        .set((fields, tasks::updated_at.eq(Utc::now())))
        .returning(TaskRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_status(conn: &mut AsyncPgConnection, id: Uuid, status: &str, publish: bool) -> QueryResult<TaskRow> {
    let now = Utc::now();
    let query = diesel::update(tasks::table.find(id));
    if publish {
        query
            .set((
                tasks::status.eq(status),
                tasks::published_at.eq(now),
                tasks::updated_at.eq(now),
            ))
            .returning(TaskRow::as_returning())
            .get_result(conn)
            .await
    } else {
        query
            .set((tasks::status.eq(status), tasks::updated_at.eq(now)))
            .returning(TaskRow::as_returning())
            .get_result(conn)
            .await
    }
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TaskRow>> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<TaskRow>> {
    tasks::table
        .find(id)
        .select(TaskRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn find_with_poster(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<(TaskRow, UserRow)>> {
    tasks::table
        .inner_join(users::table)
        .filter(tasks::id.eq(id))
        .select((TaskRow::as_select(), UserRow::as_select()))
        .first(conn)
        .await
        .optional()
}

pub async fn find_many(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(tasks::id.eq_any(ids))
        .select(TaskRow::as_select())
        .load(conn)
        .await
}

pub async fn adjust_applications(conn: &mut AsyncPgConnection, id: Uuid, by: i32) -> QueryResult<()> {
    diesel::update(tasks::table.find(id))
        .set(tasks::applications_count.eq(tasks::applications_count + by))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn invite(
    conn: &mut AsyncPgConnection,
    task_id: Uuid,
    freelancer_id: Uuid,
    message: &str,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(task_invites::table)
        .values((
            task_invites::task_id.eq(task_id),
            task_invites::freelancer_id.eq(freelancer_id),
            task_invites::message.eq(message),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// How recently a task was posted.
#[derive(Debug, Clone, Copy)]
pub enum PostedWithin {
    Day,
    Week,
    Month,
}

/// What a task list is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub search: Option<String>,
    pub category: Option<String>,
    /// Tasks asking for any of these skills.
    pub skills: Vec<String>,
    pub ai_tools: Vec<String>,
    /// The budget reaches at least this much.
    pub budget_min: Option<i64>,
    /// The budget starts at most at this much.
    pub budget_max: Option<i64>,
    pub location_type: Option<String>,
    pub posted_within: Option<PostedWithin>,
    pub mode: Option<String>,
    /// Only this poster's tasks (any status) instead of public ones.
    pub poster: Option<Uuid>,
    pub status: Option<String>,
}

macro_rules! apply_filter {
    ($query:expr, $filter:expr) => {{
        let filter: &Filter = $filter;
        let mut query = $query;
        match filter.poster {
            Some(poster) => {
                query = query.filter(tasks::poster_id.eq(poster));
                if let Some(status) = &filter.status {
                    query = query.filter(tasks::status.eq(status.clone()));
                }
            }
            None => {
                query = query
                    .filter(tasks::status.eq("OPEN"))
                    .filter(users::banned_at.is_null())
            }
        }
        if let Some(search) = &filter.search {
            query = query.filter(
                sql::<Bool>("tasks.search @@ websearch_to_tsquery('english', ")
                    .bind::<Text, _>(search.clone())
                    .sql(")"),
            );
        }
        if let Some(category) = &filter.category {
            query = query.filter(tasks::category.eq(category.clone()));
        }
        if !filter.skills.is_empty() {
            query = query.filter(tasks::skills_required.overlaps_with(filter.skills.clone()));
        }
        if !filter.ai_tools.is_empty() {
            query = query.filter(tasks::ai_tools_preferred.overlaps_with(filter.ai_tools.clone()));
        }
        if let Some(min) = filter.budget_min {
            query = query.filter(tasks::budget_max_cents.ge(min));
        }
        if let Some(max) = filter.budget_max {
            query = query.filter(tasks::budget_min_cents.le(max));
        }
        if let Some(location) = &filter.location_type {
            query = query.filter(tasks::location_type.eq(location.clone()));
        }
        if let Some(mode) = &filter.mode {
            query = query.filter(tasks::mode.eq(mode.clone()));
        }
        if let Some(within) = filter.posted_within {
            let since = Utc::now()
                - match within {
                    PostedWithin::Day => chrono::Duration::days(1),
                    PostedWithin::Week => chrono::Duration::weeks(1),
                    PostedWithin::Month => chrono::Duration::days(30),
                };
            query = query.filter(tasks::published_at.ge(since));
        }
        query
    }};
}

/// One page of tasks with their posters, newest first (by publication for the public list,
/// by creation for a poster's own), in one statement. `after` is the previous page's last
/// (time, id).
pub async fn page(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<(TaskRow, UserRow)>> {
    page_query(filter, after, limit).load(conn).await
}

/// A boxed tasks ⋈ users page statement.
pub type PageQuery = diesel::internal::table_macro::BoxedSelectStatement<
    'static,
    (diesel::dsl::AsSelect<TaskRow, Pg>, diesel::dsl::AsSelect<UserRow, Pg>),
    diesel::internal::table_macro::FromClause<diesel::dsl::InnerJoinQuerySource<tasks::table, users::table>>,
    Pg,
>;

/// The statement `page` runs (public so tests can EXPLAIN exactly it).
pub fn page_query(filter: &Filter, after: Option<(DateTime<Utc>, Uuid)>, limit: i64) -> PageQuery {
    let query = tasks::table
        .inner_join(users::table)
        .select((TaskRow::as_select(), UserRow::as_select()))
        .into_boxed();
    let mut query = apply_filter!(query, filter).limit(limit);
    if filter.poster.is_some() {
        query = query.order((tasks::created_at.desc(), tasks::id.desc()));
        if let Some((at, id)) = after {
            query = query.filter(
                tasks::created_at
                    .lt(at)
                    .or(tasks::created_at.eq(at).and(tasks::id.lt(id))),
            );
        }
    } else {
        query = query.order((tasks::published_at.desc(), tasks::id.desc()));
        if let Some((at, id)) = after {
            query = query.filter(
                tasks::published_at
                    .lt(at)
                    .or(tasks::published_at.eq(at).and(tasks::id.lt(id))),
            );
        }
    }
    query
}

pub async fn count(conn: &mut AsyncPgConnection, filter: &Filter) -> QueryResult<i64> {
    let query = tasks::table
        .inner_join(users::table)
        .select(diesel::dsl::count_star())
        .into_boxed();
    apply_filter!(query, filter).get_result(conn).await
}
