//! The `Task` object.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    graphql::{context::ContextExt, loader::shared_error, types::GeoPoint},
    message::graphql::MessageAttachment,
    profile::graphql::User,
    task::loaders::TaskById,
    task::model::{BudgetType, LocationType, Milestone, TaskDuration, TaskMode, TaskRow, TaskStatus},
};

/// A task as the schema shows it (the row, shared with the loader's cache).
pub struct Task(pub Arc<TaskRow>);

impl Task {
    fn is_poster(&self, ctx: &Context<'_>) -> bool {
        ctx.viewer_opt()
            .is_some_and(|v| v.id() == self.0.poster_id || v.user.is_admin)
    }

    /// The task with `id` through the request's loader, as is: callers show a task their
    /// viewer already has a part in (an application, a conversation).
    pub async fn load(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Self>> {
        let row = ctx.loader().load_one(TaskById(id)).await.map_err(shared_error)?;
        Ok(row.map(Task))
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
        Some(self.0.budget_type)
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
        Some(self.0.duration)
    }
    /// Where the work happens.
    async fn location_type(&self) -> Option<LocationType> {
        Some(self.0.location_type)
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
        Some(self.0.mode)
    }
    /// IMMEDIATE tasks: when the offer lapses (UTC; the task then becomes EXPIRED). Null for
    /// STANDARD tasks.
    async fn acceptance_deadline(&self) -> Option<DateTime<Utc>> {
        self.0.acceptance_deadline
    }
    /// The freelancer the task is assigned to; null while unassigned, and for anyone but the
    /// poster, the assignee and admins.
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.assignee_id.filter(|_| self.is_party(ctx)) {
            Some(id) => User::on_record(ctx, id).await,
            None => Ok(None),
        }
    }
    /// Where the task stands.
    async fn status(&self) -> Option<TaskStatus> {
        Some(self.0.status)
    }
    /// The planned milestones (possibly prefilled from a template); empty when none were
    /// planned.
    async fn milestones(&self) -> Vec<Milestone> {
        Milestone::plan_of(&self.0.milestone_plan)
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
        serde_json::from_value::<Vec<crate::storage::Attachment>>(self.0.attachments.clone())
            .unwrap_or_default()
            .into_iter()
            .map(MessageAttachment::from)
            .collect()
    }
    /// How many applications the task has had, not counting withdrawn ones.
    async fn applications_count(&self) -> i32 {
        self.0.applications_count
    }
    /// Who posted the task: the client.
    async fn poster(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.poster_id).await
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
