//! What posting and editing a task take.

use async_graphql::{InputObject, Upload};
use chrono::{DateTime, Utc};

use crate::{
    graphql::types::GeoPointInput,
    task::{
        model::{BudgetType, LocationType, Milestone, TaskDuration, TaskMode},
        service::TaskInput,
    },
};

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
    pub milestones: Vec<Milestone>,
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
            budget_type: i.budget_type,
            budget_min_cents: i.budget_min_cents,
            budget_max_cents: i.budget_max_cents,
            currency: i.currency,
            duration: i.duration,
            location_type: i.location_type,
            address: i.address,
            location: i.location.map(|l| (l.lat, l.lng)),
            milestones: i.milestones,
            nda_required: i.nda_required,
            ip_transfer: i.ip_transfer,
            template_key: i.template_key,
            mode: i.mode,
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
