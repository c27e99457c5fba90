//! Tasks over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, SimpleObject, Subscription, Upload, ID,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    model::{Filter, PostedWithin, TaskRow},
    service::{self, Milestone, NewFile, TaskEvent, TaskInput},
    templates,
};
use crate::{
    error::{AppError, FieldErrors},
    events::topic,
    geocell,
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{decode_cursor, decode_event_cursor, encode_cursor, page_size, wants_total, Total},
        subscription::topic_events,
        types::{parse_id, GeoPoint, GeoPointInput},
    },
    message::graphql::MessageAttachment,
    message::model::Attachment,
    profile::{graphql::User, loaders::UserById},
};

/// A GraphQL enum stored as text; doc comments on the enum and its variants become the
/// schema's descriptions.
macro_rules! db_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$variant_meta:meta])* $variant:ident => $db:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        pub enum $name { $($(#[$variant_meta])* $variant),+ }
        impl $name {
            pub fn as_db(self) -> &'static str {
                match self { $(Self::$variant => $db),+ }
            }
            pub fn from_db(s: &str) -> Option<Self> {
                match s { $($db => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

db_enum!(
    /// Where a task stands.
    TaskStatus {
        /// Saved, not published: only the poster and admins see it, and it does not count
        /// against the plan.
        Draft => "DRAFT",
        /// Published: takes applications (STANDARD) or a first accept (IMMEDIATE).
        Open => "OPEN",
        /// A freelancer was hired and an order made; work has not started.
        Assigned => "ASSIGNED",
        /// Work on the order made from it has started.
        InProgress => "IN_PROGRESS",
        /// The order made from it was completed.
        Completed => "COMPLETED",
        /// The poster cancelled it before anyone was hired.
        Cancelled => "CANCELLED",
        /// An IMMEDIATE task nobody accepted before its acceptance deadline.
        Expired => "EXPIRED",
    }
);
db_enum!(
    /// What the budget amounts mean.
    BudgetType {
        /// One price for the whole task.
        Fixed => "FIXED",
        /// A rate per hour of work.
        Hourly => "HOURLY",
    }
);
db_enum!(
    /// How long the poster expects the work to take.
    TaskDuration {
        /// Under a week.
        LessThanAWeek => "LESS_THAN_A_WEEK",
        /// One to four weeks.
        OneToFourWeeks => "ONE_TO_FOUR_WEEKS",
        /// One to three months.
        OneToThreeMonths => "ONE_TO_THREE_MONTHS",
        /// Longer than three months.
        MoreThanThreeMonths => "MORE_THAN_THREE_MONTHS",
    }
);
db_enum!(
    /// Where the work happens.
    LocationType {
        /// Anywhere: the task has no address or location.
        Remote => "REMOTE",
        /// At the task's address; orders made from it are on-site (start and end codes).
        Onsite => "ONSITE",
        /// Partly at the task's address, partly remote.
        Hybrid => "HYBRID",
    }
);
db_enum!(
    /// How a freelancer gets a task.
    TaskMode {
        /// Freelancers apply (`applyToTask`) and the poster hires one (`acceptApplication`).
        Standard => "STANDARD",
        /// The first freelancer to `acceptTask` before the acceptance deadline gets it; the
        /// task needs an ONSITE or HYBRID location.
        Immediate => "IMMEDIATE",
    }
);

/// A planned milestone (of a task's plan or an application's proposal); it becomes an order
/// milestone when someone is hired.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "MilestoneInput")]
pub struct TaskMilestone {
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

impl From<Milestone> for TaskMilestone {
    fn from(m: Milestone) -> Self {
        TaskMilestone {
            title: m.title,
            description: m.description,
            amount_cents: m.amount_cents,
            due_in_days: m.due_in_days,
        }
    }
}

impl From<TaskMilestone> for Milestone {
    fn from(m: TaskMilestone) -> Self {
        Milestone {
            title: m.title,
            description: m.description,
            amount_cents: m.amount_cents,
            due_in_days: m.due_in_days,
        }
    }
}

pub struct Task(pub Arc<TaskRow>);

impl Task {
    fn is_poster(&self, ctx: &Context<'_>) -> bool {
        ctx.viewer_opt()
            .is_some_and(|v| v.id() == self.0.poster_id || v.user.is_admin)
    }

    /// The poster, admins, and the freelancer the task is assigned to.
    fn is_party(&self, ctx: &Context<'_>) -> bool {
        self.is_poster(ctx) || ctx.viewer_opt().is_some_and(|v| self.0.assignee_id == Some(v.id()))
    }
}

/// Work a client posted. STANDARD tasks take applications; IMMEDIATE ones go to the first
/// freelancer who accepts. Anyone may read a published task; the exact address and location
/// and the assignee are for its parties only.
#[Object]
impl Task {
    /// Opaque task id: pass it to `task(id:)`, `applyToTask` or `acceptTask`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// A short title (10 to 150 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the work is (30 to 20,000 characters; may contain line breaks).
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// A category label such as `development`; `TaskFilter.category` matches it exactly.
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// Skills the work needs (up to 20); `TaskFilter.skills` matches them exactly.
    async fn skills_required(&self) -> &[String] {
        &self.0.skills_required
    }
    /// AI tools the poster would like used (up to 20).
    async fn ai_tools_preferred(&self) -> &[String] {
        &self.0.ai_tools_preferred
    }
    /// Whether the budget is a fixed price or an hourly rate.
    async fn budget_type(&self) -> Option<BudgetType> {
        BudgetType::from_db(&self.0.budget_type)
    }
    /// The low end of the budget in minor units of `currency` (per hour for HOURLY tasks).
    async fn budget_min_cents(&self) -> i64 {
        self.0.budget_min_cents
    }
    /// The high end of the budget in minor units of `currency` (per hour for HOURLY tasks).
    /// An IMMEDIATE task without planned milestones becomes an order for this amount.
    async fn budget_max_cents(&self) -> i64 {
        self.0.budget_max_cents
    }
    /// ISO 4217 code of the budget, e.g. `USD`.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// How long the work is expected to take.
    async fn duration(&self) -> Option<TaskDuration> {
        TaskDuration::from_db(&self.0.duration)
    }
    /// Where the work happens.
    async fn location_type(&self) -> Option<LocationType> {
        LocationType::from_db(&self.0.location_type)
    }
    /// The street address, for the poster, admins and, once assigned, the assignee; null for
    /// everyone else and for REMOTE tasks.
    async fn address(&self, ctx: &Context<'_>) -> Option<&str> {
        self.is_party(ctx).then_some(self.0.address.as_deref()).flatten()
    }
    /// Exact for the poster and, once assigned, the assignee; everyone else sees a point
    /// about 200 m away (the same on every read), which nearby search measures from too.
    /// Null for REMOTE tasks.
    async fn location(&self, ctx: &Context<'_>) -> Option<GeoPoint> {
        let (lat, lng) = if self.is_party(ctx) {
            (self.0.latitude?, self.0.longitude?)
        } else {
            match self.0.public_point() {
                Some(point) => point,
                None => crate::geocell::fuzz(self.0.id, self.0.latitude?, self.0.longitude?),
            }
        };
        Some(GeoPoint { lat, lng })
    }
    /// STANDARD: freelancers apply; IMMEDIATE: the first to `acceptTask` gets it.
    async fn mode(&self) -> Option<TaskMode> {
        TaskMode::from_db(&self.0.mode)
    }
    /// IMMEDIATE tasks: when the offer lapses (UTC; the task then becomes EXPIRED). Null for
    /// STANDARD tasks.
    async fn acceptance_deadline(&self) -> Option<DateTime<Utc>> {
        self.0.acceptance_deadline
    }
    /// The freelancer the task is assigned to; null while unassigned, and for anyone but the
    /// poster, the assignee and admins.
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.assignee_id.filter(|_| self.is_party(ctx)) else {
            return Ok(None);
        };
        let row = ctx.loader().load_one(UserById(id)).await.map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// Where the task stands.
    async fn status(&self) -> Option<TaskStatus> {
        TaskStatus::from_db(&self.0.status)
    }
    /// The planned milestones (possibly prefilled from a template); empty when none were
    /// planned.
    async fn milestones(&self) -> Vec<TaskMilestone> {
        serde_json::from_value::<Vec<Milestone>>(self.0.milestone_plan.clone())
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect()
    }
    /// The poster wants a non-disclosure agreement signed (the server records the wish; it
    /// does not enforce it).
    async fn nda_required(&self) -> bool {
        self.0.nda_required
    }
    /// The poster expects the rights to the work to pass to them (recorded, not enforced).
    async fn ip_transfer(&self) -> bool {
        self.0.ip_transfer
    }
    /// The `TaskTemplate.key` the task was started from; null when none.
    async fn template_key(&self) -> Option<&str> {
        self.0.template_key.as_deref()
    }
    /// Files the poster attached (up to 10).
    async fn attachments(&self) -> Vec<MessageAttachment> {
        serde_json::from_value::<Vec<Attachment>>(self.0.attachments.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|a| MessageAttachment {
                url: a.url,
                file_name: a.file_name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
            })
            .collect()
    }
    /// How many applications the task has had, not counting withdrawn ones.
    async fn applications_count(&self) -> i32 {
        self.0.applications_count
    }
    /// Who posted the task: the client.
    async fn poster(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.poster_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// When the task was created (UTC), as a draft or published.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the task was published (UTC); null for drafts. Public lists are ordered by it.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
}

/// A template that prefills a task's category and milestone plan (`templateKey`).
#[derive(SimpleObject)]
pub struct TaskTemplate {
    /// Pass it as `templateKey` when posting a task, e.g. `SAAS_MVP`.
    pub key: String,
    /// A display name, e.g. "SaaS MVP".
    pub name: String,
    /// The category a task from this template gets when it names none.
    pub category: String,
    /// The plan: each milestone takes a share of the task's maximum budget.
    pub milestones: Vec<TemplateMilestone>,
}

/// One milestone of a template.
#[derive(SimpleObject)]
pub struct TemplateMilestone {
    /// What the milestone delivers.
    pub title: String,
    /// What it covers.
    pub description: String,
    /// Its share of the task's `budgetMaxCents` in basis points (1,500 = 15%); a template's
    /// shares add up to 10,000.
    pub share_bps: i64,
    /// Due this many days after the order is made.
    pub due_in_days: i32,
}

/// How recently a task was published.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PostedWithinFilter {
    /// In the last 24 hours.
    Day,
    /// In the last 7 days.
    Week,
    /// In the last 30 days.
    Month,
}

/// Narrows a task list: every field given must match; omitted fields do not filter.
#[derive(InputObject, Default)]
pub struct TaskFilter {
    /// Full-text search (English stemming) over title, skills and description, in web-search
    /// syntax (`"exact phrase"`, `-word`, `or`); up to 200 characters.
    pub search: Option<String>,
    /// An exact category, e.g. `development`.
    pub category: Option<String>,
    /// Tasks asking for any of these skills (exact, case-sensitive; up to 20).
    pub skills: Option<Vec<String>>,
    /// Tasks preferring any of these AI tools (exact, case-sensitive; up to 20).
    pub ai_tools: Option<Vec<String>>,
    /// The budget reaches at least this (minor units): tasks whose `budgetMaxCents` is at
    /// least this.
    pub budget_min: Option<i64>,
    /// The budget starts at most at this (minor units): tasks whose `budgetMinCents` is at
    /// most this. Must not be below `budgetMin`.
    pub budget_max: Option<i64>,
    /// Only tasks with this location type.
    pub location_type: Option<LocationType>,
    /// Only tasks published within this period.
    pub posted_within: Option<PostedWithinFilter>,
    /// Only STANDARD or only IMMEDIATE tasks.
    pub mode: Option<TaskMode>,
}

fn to_filter(filter: Option<TaskFilter>) -> Result<Filter, AppError> {
    let f = filter.unwrap_or_default();
    let mut errors = FieldErrors::new();
    let search = f.search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
        errors.add("filter.search", "must be at most 200 characters");
    }
    let skills = f.skills.unwrap_or_default();
    let ai_tools = f.ai_tools.unwrap_or_default();
    if skills.len() > 20 || ai_tools.len() > 20 {
        errors.add("filter.skills", "at most 20 skills and 20 AI tools");
    }
    if let (Some(min), Some(max)) = (f.budget_min, f.budget_max) {
        if max < min {
            errors.add("filter.budgetMax", "must not be below budgetMin");
        }
    }
    errors.into_result()?;
    Ok(Filter {
        search,
        category: f.category.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        skills,
        ai_tools,
        budget_min: f.budget_min,
        budget_max: f.budget_max,
        location_type: f.location_type.map(|l| l.as_db().to_owned()),
        posted_within: f.posted_within.map(|p| match p {
            PostedWithinFilter::Day => PostedWithin::Day,
            PostedWithinFilter::Week => PostedWithin::Week,
            PostedWithinFilter::Month => PostedWithin::Month,
        }),
        mode: f.mode.map(|m| m.as_db().to_owned()),
        poster: None,
        status: None,
    })
}

fn decode_after(after: Option<&str>) -> Result<Option<(DateTime<Utc>, Uuid)>, AppError> {
    let Some(cursor) = after else { return Ok(None) };
    let bad = || AppError::field("after", "is not a cursor from this list");
    let key = decode_cursor(cursor, "after")?;
    let (at, id) = key.split_once('|').ok_or_else(bad)?;
    Ok(Some((
        DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc),
        Uuid::parse_str(id).map_err(|_| bad())?,
    )))
}

async fn task_page(
    ctx: &Context<'_>,
    filter: Filter,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<String, Task, Total, EmptyFields>> {
    let app = ctx.app();
    let size = page_size(first, app.config.limits.max_page_size)?;
    let (rows, more) = service::list(app, &filter, decode_after(after.as_deref())?, size).await?;
    let total = if wants_total(ctx) {
        service::count(app, &filter).await?
    } else {
        0
    };
    ctx.loader()
        .feed_many(
            rows.iter()
                .map(|(_, poster)| (UserById(poster.id), Arc::new(poster.clone()))),
        )
        .await;
    let own = filter.poster.is_some();
    let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
    connection.edges.extend(rows.into_iter().map(|(task, _)| {
        let at = if own {
            task.created_at
        } else {
            task.published_at.unwrap_or(task.created_at)
        };
        Edge::new(
            encode_cursor(&format!("{}|{}", at.to_rfc3339(), task.id)),
            Task(Arc::new(task)),
        )
    }));
    Ok(connection)
}

pub struct NearbyTask {
    task: Arc<TaskRow>,
    distance_m: f64,
}

/// A task near the point asked about, with its distance.
#[Object]
impl NearbyTask {
    /// Metres from the point asked about to the task's public location (great-circle).
    async fn distance_meters(&self) -> f64 {
        self.distance_m
    }
    /// The task; its `location` is the public point unless you are one of its parties.
    async fn task(&self) -> Task {
        Task(self.task.clone())
    }
}

fn decode_nearby_after(after: Option<&str>) -> Result<Option<(f64, Uuid)>, AppError> {
    let Some(cursor) = after else { return Ok(None) };
    let bad = || AppError::field("after", "is not a cursor from this list");
    let key = decode_cursor(cursor, "after")?;
    let (distance, id) = key.split_once('|').ok_or_else(bad)?;
    let distance: f64 = distance.parse().map_err(|_| bad())?;
    if !distance.is_finite() {
        return Err(bad());
    }
    Ok(Some((distance, Uuid::parse_str(id).map_err(|_| bad())?)))
}

fn check_circle(lat: f64, lng: f64, radius_meters: f64) -> Result<(), AppError> {
    let mut errors = FieldErrors::new();
    service::check_circle(lat, lng, radius_meters, &mut errors);
    errors.into_result()
}

#[derive(Default)]
pub struct TaskQuery;

#[Object]
impl TaskQuery {
    /// A task: public unless it is a draft (or its poster is banned); null when it does not
    /// exist or you may not see it. No sign-in needed.
    async fn task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task's id.")] id: ID,
    ) -> async_graphql::Result<Option<Task>> {
        let id = parse_id(&id, "id")?;
        let viewer = ctx.viewer_opt().map(|v| v.user.as_ref());
        let Some((task, poster)) = service::get(ctx.app(), viewer, id).await? else {
            return Ok(None);
        };
        ctx.loader().feed_one(UserById(poster.id), Arc::new(poster)).await;
        Ok(Some(Task(Arc::new(task))))
    }

    /// Open tasks, newest published first. No sign-in needed.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every open task when omitted.")] filter: Option<TaskFilter>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Task, Total, EmptyFields>> {
        task_page(ctx, to_filter(filter)?, first, after).await
    }

    /// Open tasks with a location within `radiusMeters` (at most 50 km) of a point, nearest
    /// first. Distances are measured to each task's public location (about 200 m from the
    /// real one). No sign-in needed.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    #[allow(clippy::too_many_arguments)]
    async fn nearby_tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Latitude of the centre in WGS84 degrees, -90 to 90.")] lat: f64,
        #[graphql(desc = "Longitude of the centre in WGS84 degrees, -180 to 180.")] lng: f64,
        #[graphql(default = 5000.0, desc = "Radius in metres, 1 to 50,000.")] radius_meters: f64,
        #[graphql(desc = "Further narrows the tasks.")] filter: Option<TaskFilter>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, NearbyTask, Total, EmptyFields>> {
        check_circle(lat, lng, radius_meters)?;
        let app = ctx.app();
        let filter = to_filter(filter)?;
        let size = page_size(first, app.config.limits.max_page_size)?;
        let circle = (lat, lng, radius_meters);
        let (rows, more) = service::nearby(app, &filter, circle, decode_nearby_after(after.as_deref())?, size).await?;
        let total = if wants_total(ctx) {
            service::nearby_count(app, &filter, circle).await?
        } else {
            0
        };
        ctx.loader()
            .feed_many(rows.iter().map(|n| (UserById(n.poster.id), Arc::new(n.poster.clone()))))
            .await;
        let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
        connection.edges.extend(rows.into_iter().map(|n| {
            Edge::new(
                encode_cursor(&format!("{:?}|{}", n.order_key, n.task.id)),
                NearbyTask {
                    task: Arc::new(n.task),
                    distance_m: n.distance_m,
                },
            )
        }));
        Ok(connection)
    }

    /// Tasks you posted, in every status (or one), newest created first. UNAUTHORIZED when
    /// signed out.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn my_tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tasks in this status; every status when omitted.")] status: Option<TaskStatus>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Task, Total, EmptyFields>> {
        let viewer = ctx.viewer()?.id();
        let filter = Filter {
            poster: Some(viewer),
            status: status.map(|s| s.as_db().to_owned()),
            ..Default::default()
        };
        task_page(ctx, filter, first, after).await
    }

    /// Templates that prefill a task's category and milestone plan. No sign-in needed.
    async fn task_templates(&self) -> Vec<TaskTemplate> {
        templates::TEMPLATES
            .iter()
            .map(|t| TaskTemplate {
                key: t.key.to_owned(),
                name: t.name.to_owned(),
                category: t.category.to_owned(),
                milestones: t
                    .milestones
                    .iter()
                    .map(|m| TemplateMilestone {
                        title: m.title.to_owned(),
                        description: m.description.to_owned(),
                        share_bps: m.share_bps,
                        due_in_days: m.due_in_days,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A task's fields, as `postTask` and `updateTask` take them. VALIDATION_ERROR names each
/// field that breaks a rule below.
#[derive(InputObject)]
pub struct TaskInputObject {
    /// 10 to 150 characters.
    pub title: String,
    /// 30 to 20,000 characters; line breaks allowed.
    pub description: String,
    /// 2 to 60 characters. May be empty when `templateKey` is given: the template's category
    /// is used.
    #[graphql(default)]
    pub category: String,
    /// Up to 20 skills of up to 40 characters; duplicates (ignoring case) are dropped.
    #[graphql(default)]
    pub skills_required: Vec<String>,
    /// Up to 20 AI tools of up to 40 characters; duplicates (ignoring case) are dropped.
    #[graphql(default)]
    pub ai_tools_preferred: Vec<String>,
    /// Whether the amounts are a fixed price or an hourly rate.
    pub budget_type: BudgetType,
    /// Minor units of `currency`, 100 to 10,000,000,000.
    pub budget_min_cents: i64,
    /// At least `budgetMinCents` and at most 10,000,000,000; for FIXED tasks the milestones
    /// must not add up to more.
    pub budget_max_cents: i64,
    /// An ISO 4217 code (any case; stored in upper case).
    #[graphql(default_with = "String::from(\"USD\")")]
    pub currency: String,
    /// How long the work is expected to take.
    pub duration: TaskDuration,
    /// REMOTE, or ONSITE/HYBRID with an `address` and a `location`.
    pub location_type: LocationType,
    /// Required for ONSITE and HYBRID tasks (up to 300 characters); ignored for REMOTE ones.
    /// Only the task's parties see it.
    pub address: Option<String>,
    /// Required for ONSITE and HYBRID tasks; ignored for REMOTE ones. Others see a point
    /// about 200 m away.
    pub location: Option<GeoPointInput>,
    /// Up to 20. Leave empty with a `templateKey` to start from the template's plan.
    #[graphql(default)]
    pub milestones: Vec<TaskMilestone>,
    /// Ask for a non-disclosure agreement (recorded, not enforced).
    #[graphql(default)]
    pub nda_required: bool,
    /// Expect the rights to the work to pass to you (recorded, not enforced).
    #[graphql(default)]
    pub ip_transfer: bool,
    /// A `TaskTemplate.key` (see `taskTemplates`): fills in `category` and `milestones` when
    /// they are empty.
    pub template_key: Option<String>,
    /// IMMEDIATE: the first freelancer to accept gets the task (needs a location and an
    /// `acceptanceDeadline`). Fixed once published.
    #[graphql(default_with = "TaskMode::Standard")]
    pub mode: TaskMode,
    /// Required for IMMEDIATE tasks, 5 minutes to 72 hours ahead; must be omitted for
    /// STANDARD ones.
    pub acceptance_deadline: Option<DateTime<Utc>>,
}

impl From<TaskInputObject> for TaskInput {
    fn from(i: TaskInputObject) -> Self {
        TaskInput {
            title: i.title,
            description: i.description,
            category: i.category,
            skills_required: i.skills_required,
            ai_tools_preferred: i.ai_tools_preferred,
            budget_type: i.budget_type.as_db().to_owned(),
            budget_min_cents: i.budget_min_cents,
            budget_max_cents: i.budget_max_cents,
            currency: i.currency,
            duration: i.duration.as_db().to_owned(),
            location_type: i.location_type.as_db().to_owned(),
            address: i.address,
            location: i.location.map(|l| (l.lat, l.lng)),
            milestones: i.milestones.into_iter().map(Into::into).collect(),
            nda_required: i.nda_required,
            ip_transfer: i.ip_transfer,
            template_key: i.template_key,
            mode: i.mode.as_db().to_owned(),
            acceptance_deadline: i.acceptance_deadline,
        }
    }
}

/// What `postTask` takes.
#[derive(InputObject)]
pub struct PostTaskInput {
    /// The task's fields.
    pub task: TaskInputObject,
    /// Up to 10 files (images, PDF, ZIP, plain text) as GraphQL multipart uploads.
    #[graphql(default)]
    pub attachments: Vec<Upload>,
    /// Save as a DRAFT instead of publishing (drafts do not count against your plan).
    #[graphql(default)]
    pub draft: bool,
}

#[derive(Default)]
pub struct TaskMutation;

#[Object]
impl TaskMutation {
    /// Posts a task (OPEN, counted against your plan's monthly limit; nearby freelancers are
    /// told) or saves a draft. LIMIT_EXCEEDED past the plan's limit.
    async fn post_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task, its attachments, and whether to save a draft.")] input: PostTaskInput,
    ) -> async_graphql::Result<Task> {
        let viewer = ctx.viewer()?;
        let mut files = Vec::with_capacity(input.attachments.len());
        for upload in &input.attachments {
            let value = upload
                .value(ctx)
                .map_err(|_| AppError::field("attachments", "a file is missing from the request"))?;
            files.push(NewFile {
                file_name: value.filename,
                bytes: value.content,
            });
        }
        let task = service::post(ctx.app(), &viewer.user, input.task.into(), files, input.draft).await?;
        Ok(Task(Arc::new(task)))
    }

    /// Replaces the fields of your DRAFT or OPEN task (attachments stay). `mode` cannot change
    /// once published. CONFLICT for other statuses; FORBIDDEN or NOT_FOUND when the task is
    /// not yours.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your task.")] id: ID,
        #[graphql(desc = "The new fields; they replace all the old ones.")] input: TaskInputObject,
    ) -> async_graphql::Result<Task> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Task(Arc::new(
            service::update(ctx.app(), &viewer.user, id, input.into()).await?,
        )))
    }

    /// Publishes your draft (DRAFT → OPEN, counted against your plan's monthly limit).
    /// LIMIT_EXCEEDED past the limit; CONFLICT when it is not a draft; VALIDATION_ERROR when an
    /// IMMEDIATE task's deadline has passed.
    async fn publish_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your draft.")] id: ID,
    ) -> async_graphql::Result<Task> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Task(Arc::new(service::publish(ctx.app(), &viewer.user, id).await?)))
    }

    /// Cancels your DRAFT or OPEN task (CANCELLED); CONFLICT once it is assigned.
    async fn cancel_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your task.")] id: ID,
    ) -> async_graphql::Result<Task> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Task(Arc::new(service::cancel(ctx.app(), &viewer.user, id).await?)))
    }

    /// Invites a freelancer to apply to your open task; they are notified the first time.
    /// Returns the task. CONFLICT when the task is not OPEN; NOT_FOUND for unknown or banned
    /// users.
    async fn invite_to_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your OPEN task.")] task_id: ID,
        #[graphql(desc = "Whom to invite (not yourself).")] freelancer_id: ID,
        #[graphql(default, desc = "A note for them (up to 2,000 characters).")] message: String,
    ) -> async_graphql::Result<Task> {
        let viewer = ctx.viewer()?;
        let task_id = parse_id(&task_id, "taskId")?;
        let freelancer_id = parse_id(&freelancer_id, "freelancerId")?;
        Ok(Task(Arc::new(
            service::invite(ctx.app(), &viewer.user, task_id, freelancer_id, message).await?,
        )))
    }
}

pub struct TaskUpdate {
    task: Arc<TaskRow>,
    from: Option<String>,
    event_cursor: Option<i64>,
}

/// A change of a task, as `taskUpdated` delivers it.
#[Object]
impl TaskUpdate {
    /// The task as the change left it.
    async fn task(&self) -> Task {
        Task(self.task.clone())
    }
    /// The status before; null when the task was just created.
    async fn from_status(&self) -> Option<TaskStatus> {
        self.from.as_deref().and_then(TaskStatus::from_db)
    }
    /// The status after.
    async fn to_status(&self) -> Option<TaskStatus> {
        TaskStatus::from_db(&self.task.status)
    }
    /// Pass it as `after` to `taskUpdated` to resume after this event.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|c| c.to_string())
    }
}

/// Cells a `nearbyTaskPosted` subscription may listen on.
const SUBSCRIPTION_CELLS_MAX: usize = 64;

#[derive(Default)]
pub struct TaskSubscription;

#[Subscription]
impl TaskSubscription {
    /// Every change of a task you can see: edits, assignment (e.g. taken by `acceptTask`),
    /// start, completion, cancellation, expiry, reopening. Pass the last `eventCursor` as
    /// `after` to first receive what you missed.
    async fn task_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A task you can see (drafts: their poster and admins); NOT_FOUND otherwise.")] task_id: ID,
        #[graphql(desc = "The last `eventCursor` you received; later events are sent first.")] after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<TaskUpdate>>> {
        let id = parse_id(&task_id, "taskId")?;
        let after = decode_event_cursor(after.as_deref())?;
        let app = ctx.app().clone();
        let viewer = ctx.viewer_opt().map(|v| v.user.clone());
        if service::get(&app, viewer.as_deref(), id).await?.is_none() {
            return Err(AppError::not_found("Task").into());
        }
        let privileged = move |task: &TaskRow| viewer.as_ref().is_some_and(|v| v.is_admin || v.id == task.poster_id);
        Ok(topic_events(app, topic::task(id), after).filter_map(move |event| {
            let update = match event {
                Err(e) => Some(Err(e.into())),
                Ok(event) if event.kind == service::TASK_UPDATED => event.decode::<TaskEvent>().and_then(|payload| {
                    (payload.task.status != "DRAFT" || privileged(&payload.task)).then(|| {
                        Ok(TaskUpdate {
                            task: payload.task.clone(),
                            from: payload.from.clone(),
                            event_cursor: event.seq,
                        })
                    })
                }),
                Ok(_) => None,
            };
            std::future::ready(update)
        }))
    }

    /// Tasks posted (or reopened) from now on whose public location lies within
    /// `radiusMeters` (at most 50 km) of a point. Signed-in users only.
    async fn nearby_task_posted(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Latitude of the centre in WGS84 degrees, -90 to 90.")] lat: f64,
        #[graphql(desc = "Longitude of the centre in WGS84 degrees, -180 to 180.")] lng: f64,
        #[graphql(default = 5000.0, desc = "Radius in metres, 1 to 50,000.")] radius_meters: f64,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<NearbyTask>>> {
        ctx.viewer()?;
        check_circle(lat, lng, radius_meters)?;
        let app = ctx.app().clone();
        let covering = geocell::covering(
            lat,
            lng,
            radius_meters,
            geocell::CHANNEL_PRECISIONS,
            SUBSCRIPTION_CELLS_MAX,
        );
        let streams = covering
            .cells
            .iter()
            .map(|cell| Box::pin(topic_events(app.clone(), topic::nearby(cell), None)));
        Ok(futures_util::stream::select_all(streams).filter_map(move |event| {
            let found = match event {
                Err(e) => Some(Err(e.into())),
                Ok(event) if event.kind == service::TASK_POSTED => event.decode::<TaskEvent>().and_then(|payload| {
                    let distance_m = geocell::distance_m((lat, lng), payload.task.public_point()?);
                    (payload.task.status == "OPEN" && distance_m <= radius_meters).then(|| {
                        Ok(NearbyTask {
                            task: payload.task.clone(),
                            distance_m,
                        })
                    })
                }),
                Ok(_) => None,
            };
            std::future::ready(found)
        }))
    }
}
