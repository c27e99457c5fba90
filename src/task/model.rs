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
    db::{
        by_id,
        fixed::{Const, Limited},
        schema::{task_invites, tasks, users},
        text_enum::pg_enum,
    },
    profile::model::UserRow,
};

pg_enum! {
    /// Where a task stands.
    #[derive(async_graphql::Enum)]
    pub enum TaskStatus {
        /// Saved, not published: only the poster and admins see it, and it does not count
        /// against the plan.
        Draft = "DRAFT",
        /// Published: takes applications (STANDARD) or a first accept (IMMEDIATE).
        Open = "OPEN",
        /// A freelancer was hired and an order made; work has not started.
        Assigned = "ASSIGNED",
        /// Work on the order made from it has started.
        InProgress = "IN_PROGRESS",
        /// The order made from it was completed.
        Completed = "COMPLETED",
        /// The poster cancelled it before anyone was hired.
        Cancelled = "CANCELLED",
        /// An IMMEDIATE task nobody accepted before its acceptance deadline.
        Expired = "EXPIRED",
    }
}

impl TaskStatus {
    /// The statuses in which the poster may still edit or cancel the task.
    pub const EDITABLE: [Self; 2] = [Self::Draft, Self::Open];
}

pg_enum! {
    /// What the budget amounts mean.
    #[derive(async_graphql::Enum)]
    pub enum BudgetType {
        /// One price for the whole task.
        Fixed = "FIXED",
        /// A rate per hour of work.
        Hourly = "HOURLY",
    }
}

pg_enum! {
    /// How long the poster expects the work to take.
    #[derive(async_graphql::Enum)]
    pub enum TaskDuration {
        /// Under a week.
        LessThanAWeek = "LESS_THAN_A_WEEK",
        /// One to four weeks.
        OneToFourWeeks = "ONE_TO_FOUR_WEEKS",
        /// One to three months.
        OneToThreeMonths = "ONE_TO_THREE_MONTHS",
        /// Longer than three months.
        MoreThanThreeMonths = "MORE_THAN_THREE_MONTHS",
    }
}

pg_enum! {
    /// Where the work happens.
    #[derive(async_graphql::Enum)]
    pub enum LocationType {
        /// Anywhere: the task has no address or location.
        Remote = "REMOTE",
        /// At the task's address; orders made from it are on-site (start and end codes).
        Onsite = "ONSITE",
        /// Partly at the task's address, partly remote.
        Hybrid = "HYBRID",
    }
}

pg_enum! {
    /// How a freelancer gets a task.
    #[derive(async_graphql::Enum)]
    pub enum TaskMode {
        /// Freelancers apply (`applyToTask`) and the poster hires one (`acceptApplication`).
        Standard = "STANDARD",
        /// The first freelancer to `acceptTask` before the acceptance deadline gets it; the
        /// task needs an ONSITE or HYBRID location.
        Immediate = "IMMEDIATE",
    }
}

// Stored as JSON (`tasks.milestone_plan`, `applications.milestones`), and shown and taken as
// is by the schema (`TaskMilestone`, `MilestoneInput`): one type for every layer.
/// A planned milestone (of a task's plan or an application's proposal); it becomes an order
/// milestone when someone is hired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, async_graphql::SimpleObject, async_graphql::InputObject)]
#[serde(rename_all = "camelCase")]
#[graphql(name = "TaskMilestone", input_name = "MilestoneInput")]
pub struct Milestone {
    /// What the milestone delivers (3 to 120 characters).
    pub title: String,
    /// Details (up to 2,000 characters; empty when omitted).
    #[graphql(default)]
    pub description: String,
    /// Its price in minor units of the task's currency; must be positive.
    pub amount_cents: i64,
    /// Due this many days after the order is made (1 to 730).
    pub due_in_days: i32,
}

impl Milestone {
    /// The milestones stored in a JSON plan; none when it holds something else.
    pub fn plan_of(json: &serde_json::Value) -> Vec<Milestone> {
        serde_json::from_value(json.clone()).unwrap_or_default()
    }
}

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
    pub budget_type: BudgetType,
    pub budget_min_cents: i64,
    pub budget_max_cents: i64,
    pub currency: String,
    pub duration: TaskDuration,
    pub location_type: LocationType,
    pub address: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub mode: TaskMode,
    pub acceptance_deadline: Option<DateTime<Utc>>,
    pub status: TaskStatus,
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
    pub budget_type: BudgetType,
    pub budget_min_cents: i64,
    pub budget_max_cents: i64,
    pub currency: String,
    pub duration: TaskDuration,
    pub location_type: LocationType,
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
    pub mode: TaskMode,
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
    status: TaskStatus,
    attachments: &serde_json::Value,
) -> QueryResult<TaskRow> {
    let published_at = (status == TaskStatus::Open).then(Utc::now);
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
#[derive(Debug, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct StatusChange {
    pub status: TaskStatus,
    /// Set when the task is (re)published.
    pub published_at: Option<DateTime<Utc>>,
    /// `Some(None)` clears the assignee; `None` leaves it.
    pub assignee_id: Option<Option<Uuid>>,
    pub updated_at: DateTime<Utc>,
}

impl StatusChange {
    /// A move to `status` that leaves the assignee and publication time as they are.
    pub fn to(status: TaskStatus) -> Self {
        Self {
            status,
            published_at: None,
            assignee_id: None,
            updated_at: Utc::now(),
        }
    }
}

pub async fn set_status(conn: &mut AsyncPgConnection, id: Uuid, change: &StatusChange) -> QueryResult<TaskRow> {
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
        .filter(tasks::status.eq(TaskStatus::Open))
        .filter(tasks::mode.eq(TaskMode::Immediate))
        .filter(tasks::acceptance_deadline.gt(diesel::dsl::now))
        .set((
            tasks::status.eq(TaskStatus::Assigned),
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
        .filter(Const::<Bool>::new("tasks.status = 'OPEN' AND tasks.mode = 'IMMEDIATE'"))
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

by_id!(TaskRow, tasks, find: find, lock: lock, many: find_many);

pub async fn find_with_poster(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<(TaskRow, UserRow)>> {
    tasks::table
        .inner_join(users::table)
        .filter(tasks::id.eq(id))
        .select((TaskRow::as_select(), UserRow::as_select()))
        .first(conn)
        .await
        .optional()
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

/// How recently a task was published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "PostedWithinFilter")]
pub enum PostedWithin {
    /// In the last 24 hours.
    Day,
    /// In the last 7 days.
    Week,
    /// In the last 30 days.
    Month,
}

impl PostedWithin {
    /// How far back the period reaches.
    fn span(self) -> chrono::Duration {
        match self {
            Self::Day => chrono::Duration::days(1),
            Self::Week => chrono::Duration::weeks(1),
            Self::Month => chrono::Duration::days(30),
        }
    }
}

/// What a task list is narrowed to, checked (see `service::TaskFilter::check`).
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
    pub location_type: Option<LocationType>,
    pub posted_within: Option<PostedWithin>,
    pub mode: Option<TaskMode>,
    /// Only this poster's tasks (any status) instead of public ones.
    pub poster: Option<Uuid>,
    /// With `poster`: only tasks in this status.
    pub status: Option<TaskStatus>,
}

impl Filter {
    /// The key a task has in lists of this filter (the page cursor): its creation for a
    /// poster's own list, its publication for public ones (see [`page_query`]).
    pub fn key_of(&self, task: &TaskRow) -> (DateTime<Utc>, Uuid) {
        let at = match self.poster {
            Some(_) => task.created_at,
            None => task.published_at.unwrap_or(task.created_at),
        };
        (at, task.id)
    }
}

macro_rules! apply_filter {
    ($query:expr, $filter:expr) => {{
        let filter: &Filter = $filter;
        let mut query = $query;
        match filter.poster {
            Some(poster) => {
                query = query.filter(tasks::poster_id.eq(poster));
                if let Some(status) = filter.status {
                    query = query.filter(tasks::status.eq(status));
                }
            }
            None => {
                query = query
                    // Literal, not bound: partial indexes and generic plans see the value.
                    .filter(Const::<Bool>::new("tasks.status = 'OPEN'"))
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
        if let Some(location) = filter.location_type {
            query = query.filter(tasks::location_type.eq(location));
        }
        if let Some(mode) = filter.mode {
            query = query.filter(tasks::mode.eq(mode));
        }
        if let Some(within) = filter.posted_within {
            query = query.filter(tasks::published_at.ge(Utc::now() - within.span()));
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

/// The SQL type of `cube` (contrib), which `gm_earth_point` returns.
#[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(name = "cube"))]
pub struct Cube;

diesel::define_sql_function!(
    /// A point on the earth's surface as a 3-D cube point in metres (migration 000026).
    fn gm_earth_point(
        lat: diesel::sql_types::Nullable<diesel::sql_types::Double>,
        lng: diesel::sql_types::Nullable<diesel::sql_types::Double>,
    ) -> diesel::sql_types::Nullable<Cube>
);

diesel::define_sql_function!(
    /// `cube` grown by `r` in each of its first `n` dimensions.
    fn cube_enlarge(
        c: diesel::sql_types::Nullable<Cube>,
        r: diesel::sql_types::Double,
        n: diesel::sql_types::Integer,
    ) -> diesel::sql_types::Nullable<Cube>
);

// `a <@ b`: cube `a` lies inside cube `b`; `a <-> b`: their Euclidean distance.
diesel::infix_operator!(CubeInside, " <@ ", backend: Pg);
diesel::infix_operator!(CubeDistance, " <-> ", diesel::sql_types::Double, backend: Pg);

/// The chord in metres from `around`'s centre to a task's public point, both as points of
/// `gm_earth_point`: the order `tasks_open_earth_idx` hands rows out in (`<->`), strictly
/// increasing with the great-circle distance. Typed expressions rather than SQL text, so
/// diesel keeps the statement prepared.
macro_rules! chord_from {
    ($around:expr) => {
        CubeDistance::new(
            gm_earth_point(tasks::public_latitude, tasks::public_longitude),
            gm_earth_point($around.lat, $around.lng),
        )
    };
}

/// The chord that `radius_m` of great circle spans, with slack for the float arithmetic
/// (the exact great-circle check follows anyway).
pub fn chord_of(radius_m: f64) -> f64 {
    let half_angle = (radius_m / (2.0 * crate::geocell::EARTH_RADIUS_M)).min(std::f64::consts::FRAC_PI_2);
    2.0 * crate::geocell::EARTH_RADIUS_M * half_angle.sin() * (1.0 + 1e-9) + 0.01
}

/// Narrows a boxed tasks ⋈ users query to the OPEN tasks of `filter` whose public point
/// lies within `radius` metres of `around`'s centre: the box around the sphere of the
/// radius's chord is the GiST index's condition, the haversine the exact one.
macro_rules! open_within {
    ($query:expr, $filter:expr, $around:expr, $radius:expr) => {{
        let around: &Around = $around;
        apply_filter!($query, $filter)
            // Literal, not bound: the index is partial on exactly this.
            .filter(Const::<Bool>::new(
                "tasks.status = 'OPEN' AND tasks.geohash IS NOT NULL",
            ))
            .filter(CubeInside::new(
                gm_earth_point(tasks::public_latitude, tasks::public_longitude),
                cube_enlarge(gm_earth_point(around.lat, around.lng), chord_of(around.radius_m), 3),
            ))
            .filter(gm_distance_m(around.lat, around.lng, tasks::public_latitude, tasks::public_longitude).le($radius))
    }};
}

/// Where a nearby search looks.
#[derive(Debug, Clone)]
pub struct Around {
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    /// Geohash prefixes covering the circle, for [`freelancers_near`]; task searches use the
    /// GiST index and leave it empty.
    pub cells: Vec<String>,
}

/// The statement for OPEN tasks with a location within `around`, nearest first by the
/// chord (see `chord_from!`), each with its poster and that chord; at most `fetch` rows.
/// `after` is the previous page's last (chord, id). Ordered by the chord alone, which the
/// index serves directly (PostgreSQL 15 cannot add the id to an index's distance order
/// without sorting every row in the circle); [`nearby`] breaks ties by id.
pub fn nearby_query(filter: &Filter, around: &Around, after: Option<(f64, Uuid)>, fetch: i64) -> NearbyQuery {
    let query = tasks::table
        .inner_join(users::table)
        .select((TaskRow::as_select(), UserRow::as_select(), chord_from!(around)))
        .into_boxed();
    // A hair of slack for the two float computations; callers keep what geo puts inside.
    let mut query = open_within!(query, filter, around, around.radius_m + 0.01);
    if let Some((d, id)) = after {
        query = query.filter(
            chord_from!(around)
                .gt(d)
                .or(chord_from!(around).eq(d).and(tasks::id.gt(id))),
        );
    }
    Limited::new(query.order(chord_from!(around).asc()), fetch)
}

/// The statement [`nearby_query`] builds.
pub type NearbyQuery = Limited<NearbyUnlimited>;

/// [`NearbyQuery`] before its limit.
pub type NearbyUnlimited = diesel::internal::table_macro::BoxedSelectStatement<
    'static,
    (
        diesel::dsl::AsSelect<TaskRow, Pg>,
        diesel::dsl::AsSelect<UserRow, Pg>,
        diesel::sql_types::Nullable<diesel::sql_types::Double>,
    ),
    diesel::internal::table_macro::FromClause<diesel::dsl::InnerJoinQuerySource<tasks::table, users::table>>,
    Pg,
>;

/// The row count the first statement of [`nearby`] asks for a page of `limit`: one more, to
/// see whether a tie of chords straddles the page's end.
pub fn nearby_fetch(limit: i64) -> i64 {
    limit + 1
}

/// Up to `limit` OPEN tasks within `around` after `after`, in (chord, id) order, with their
/// posters and chords. One statement, unless tasks at exactly the same chord straddle the
/// page's end: then it fetches twice as many until the tie is whole, so the id order is
/// exact and no page skips or repeats a task.
pub async fn nearby(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    around: &Around,
    after: Option<(f64, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<(TaskRow, UserRow, Option<f64>)>> {
    let Ok(cut) = usize::try_from(limit) else {
        return Ok(Vec::new());
    };
    if cut == 0 {
        return Ok(Vec::new());
    }
    let mut fetch = nearby_fetch(limit);
    loop {
        let mut rows: Vec<(TaskRow, UserRow, Option<f64>)> =
            nearby_query(filter, around, after, fetch).load(conn).await?;
        let whole = rows.len() < fetch as usize || rows.last().map(|r| r.2) != rows.get(cut - 1).map(|r| r.2);
        if whole {
            rows.sort_by(|a, b| {
                let key = |r: &(TaskRow, UserRow, Option<f64>)| r.2.unwrap_or(f64::INFINITY);
                key(a).total_cmp(&key(b)).then(a.0.id.cmp(&b.0.id))
            });
            rows.truncate(cut);
            return Ok(rows);
        }
        fetch = fetch.saturating_mul(2);
    }
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
