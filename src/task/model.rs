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
    /// The point everyone but the parties sees (about 200 m off, fixed per task).
    pub public_latitude: Option<f64>,
    pub public_longitude: Option<f64>,
    /// Who an order from this task went to, while it stands.
    pub assignee_id: Option<Uuid>,
}

impl TaskRow {
    /// The public point as (lat, lng).
    pub fn public_point(&self) -> Option<(f64, f64)> {
        Some((self.public_latitude?, self.public_longitude?))
    }
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
    /// Derived from the task id and (latitude, longitude) by [`TaskFields::place`].
    #[diesel(treat_none_as_null = true)]
    pub public_latitude: Option<f64>,
    #[diesel(treat_none_as_null = true)]
    pub public_longitude: Option<f64>,
    #[diesel(treat_none_as_null = true)]
    pub geohash: Option<String>,
    pub mode: String,
    #[diesel(treat_none_as_null = true)]
    pub acceptance_deadline: Option<DateTime<Utc>>,
    pub milestone_plan: serde_json::Value,
    pub nda_required: bool,
    pub ip_transfer: bool,
    #[diesel(treat_none_as_null = true)]
    pub template_key: Option<String>,
}

impl TaskFields {
    /// Derives the public point of task `id` and its geohash from the exact point.
    pub fn place(&mut self, id: Uuid) {
        let public = match (self.latitude, self.longitude) {
            (Some(lat), Some(lng)) => Some(crate::geocell::fuzz(id, lat, lng)),
            _ => None,
        };
        self.public_latitude = public.map(|p| p.0);
        self.public_longitude = public.map(|p| p.1);
        self.geohash = public.and_then(|(lat, lng)| crate::geocell::cell_of(lat, lng, crate::geocell::POINT_PRECISION));
    }
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

/// A change of status (and, with it, of the assignee).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct StatusChange<'a> {
    pub status: &'a str,
    /// Set when the task is (re)published.
    pub published_at: Option<DateTime<Utc>>,
    /// `Some(None)` clears the assignee; `None` leaves it.
    pub assignee_id: Option<Option<Uuid>>,
    pub updated_at: DateTime<Utc>,
}

impl<'a> StatusChange<'a> {
    pub fn to(status: &'a str) -> Self {
        Self {
            status,
            updated_at: Utc::now(),
            ..Default::default()
        }
    }
}

pub async fn set_status(conn: &mut AsyncPgConnection, id: Uuid, change: &StatusChange<'_>) -> QueryResult<TaskRow> {
    diesel::update(tasks::table.find(id))
        .set(change)
        .returning(TaskRow::as_returning())
        .get_result(conn)
        .await
}

/// Assigns an OPEN first-accept task whose deadline has not passed to `freelancer`, in one
/// conditional statement: of concurrent callers exactly one gets the row back (the others
/// wait for its row lock, then find the task no longer OPEN).
pub async fn take_immediate(conn: &mut AsyncPgConnection, id: Uuid, freelancer: Uuid) -> QueryResult<Option<TaskRow>> {
    diesel::update(tasks::table.find(id))
        .filter(tasks::status.eq("OPEN"))
        .filter(tasks::mode.eq("IMMEDIATE"))
        .filter(tasks::acceptance_deadline.gt(diesel::dsl::now))
        .set((
            tasks::status.eq("ASSIGNED"),
            tasks::assignee_id.eq(Some(freelancer)),
            tasks::updated_at.eq(Utc::now()),
        ))
        .returning(TaskRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// Up to `limit` OPEN first-accept tasks past their deadline, locked; tasks another
/// instance is expiring right now are skipped.
pub async fn lock_overdue(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(sql::<Bool>("tasks.status = 'OPEN' AND tasks.mode = 'IMMEDIATE'"))
        .filter(tasks::acceptance_deadline.le(diesel::dsl::now))
        .order(tasks::acceptance_deadline.asc())
        .limit(limit)
        .select(TaskRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// Tasks with a location but no public point yet (rows older than the column), locked.
pub async fn lock_unplaced(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<TaskRow>> {
    tasks::table
        .filter(tasks::latitude.is_not_null())
        .filter(tasks::geohash.is_null())
        .limit(limit)
        .select(TaskRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

pub async fn set_place(conn: &mut AsyncPgConnection, id: Uuid, public: (f64, f64), geohash: &str) -> QueryResult<()> {
    diesel::update(tasks::table.find(id))
        .set((
            tasks::public_latitude.eq(public.0),
            tasks::public_longitude.eq(public.1),
            tasks::geohash.eq(geohash),
        ))
        .execute(conn)
        .await
        .map(drop)
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

diesel::define_sql_function!(
    /// Great-circle metres between two points (SQL function of migration 000010).
    fn gm_distance_m(
        lat1: diesel::sql_types::Double,
        lng1: diesel::sql_types::Double,
        lat2: diesel::sql_types::Nullable<diesel::sql_types::Double>,
        lng2: diesel::sql_types::Nullable<diesel::sql_types::Double>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::Double>
);

type TasksUsers = diesel::dsl::InnerJoinQuerySource<tasks::table, users::table>;
type Condition = Box<dyn BoxableExpression<TasksUsers, Pg, SqlType = diesel::sql_types::Nullable<Bool>>>;

/// `$column` lies in one of `$cells`: an OR of geohash prefix ranges, each an index range
/// scan; `None` for no cells.
macro_rules! in_cells {
    ($column:expr, $cells:expr, $condition:ty) => {
        $cells
            .iter()
            .map(|cell| {
                let (lo, hi) = crate::geocell::prefix_range(cell);
                Box::new($column.ge(lo).and($column.lt(hi))) as $condition
            })
            .reduce(|acc, next| Box::new(acc.or(next)))
    };
}

/// Narrows a boxed tasks ⋈ users query to the OPEN tasks of `filter` whose public point
/// lies within `radius` metres of `around`'s centre (and in its cells).
macro_rules! open_within {
    ($query:expr, $filter:expr, $around:expr, $radius:expr) => {{
        let around: &Around = $around;
        let mut query = apply_filter!($query, $filter)
            .filter(sql::<Bool>("tasks.status = 'OPEN' AND tasks.geohash IS NOT NULL"))
            .filter(gm_distance_m(around.lat, around.lng, tasks::public_latitude, tasks::public_longitude).le($radius));
        if let Some(cells) = in_cells!(tasks::geohash, around.cells, Condition) {
            query = query.filter(cells);
        }
        query
    }};
}

/// Where a nearby search looks.
#[derive(Debug, Clone)]
pub struct Around {
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    /// Geohash prefixes covering the circle.
    pub cells: Vec<String>,
}

/// One page of OPEN tasks with a location within `around`, nearest first (by the public
/// point), each with its poster and its distance in metres as PostgreSQL computed it. `after`
/// is the previous page's last (distance, id).
pub fn nearby_query(filter: &Filter, around: &Around, after: Option<(f64, Uuid)>, limit: i64) -> NearbyQuery {
    let distance = || gm_distance_m(around.lat, around.lng, tasks::public_latitude, tasks::public_longitude);
    let query = tasks::table
        .inner_join(users::table)
        .select((TaskRow::as_select(), UserRow::as_select(), distance()))
        .into_boxed();
    // A hair of slack for the two float computations; callers keep what geo puts inside.
    let mut query = open_within!(query, filter, around, around.radius_m + 0.01);
    if let Some((d, id)) = after {
        query = query.filter(distance().gt(d).or(distance().eq(d).and(tasks::id.gt(id))));
    }
    query.order((distance().asc(), tasks::id.asc())).limit(limit)
}

/// The statement [`nearby_query`] builds.
pub type NearbyQuery = diesel::internal::table_macro::BoxedSelectStatement<
    'static,
    (
        diesel::dsl::AsSelect<TaskRow, Pg>,
        diesel::dsl::AsSelect<UserRow, Pg>,
        diesel::sql_types::Nullable<diesel::sql_types::Double>,
    ),
    diesel::internal::table_macro::FromClause<diesel::dsl::InnerJoinQuerySource<tasks::table, users::table>>,
    Pg,
>;

pub async fn nearby(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    around: &Around,
    after: Option<(f64, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<(TaskRow, UserRow, Option<f64>)>> {
    nearby_query(filter, around, after, limit).load(conn).await
}

/// How many OPEN tasks lie within `around`.
pub async fn nearby_count(conn: &mut AsyncPgConnection, filter: &Filter, around: &Around) -> QueryResult<i64> {
    let query = tasks::table
        .inner_join(users::table)
        .select(diesel::dsl::count_star())
        .into_boxed();
    open_within!(query, filter, around, around.radius_m)
        .get_result(conn)
        .await
}

/// Available, unbanned users other than `except` whose point lies within their travel
/// radius (5 km when unset, capped at `around.radius_m`) of `around`'s centre, nearest
/// first, with their distance in metres.
pub async fn freelancers_near(
    conn: &mut AsyncPgConnection,
    around: &Around,
    except: Uuid,
    limit: i64,
) -> QueryResult<Vec<(Uuid, Option<f64>)>> {
    type Condition = Box<dyn BoxableExpression<users::table, Pg, SqlType = diesel::sql_types::Nullable<Bool>>>;
    let distance = || gm_distance_m(around.lat, around.lng, users::latitude, users::longitude);
    let mut query = users::table
        .filter(sql::<Bool>(
            "users.is_available AND users.geohash IS NOT NULL AND users.banned_at IS NULL",
        ))
        .filter(users::id.ne(except))
        .filter(
            distance().le(sql::<diesel::sql_types::Nullable<diesel::sql_types::Double>>(
                "LEAST(COALESCE(users.travel_radius_km * 1000.0, 5000.0), ",
            )
            .bind::<diesel::sql_types::Double, _>(around.radius_m)
            .sql(")")),
        )
        .select((users::id, distance()))
        .order((distance().asc(), users::id.asc()))
        .limit(limit)
        .into_boxed();
    if let Some(cells) = in_cells!(users::geohash, around.cells, Condition) {
        query = query.filter(cells);
    }
    query.load(conn).await
}
