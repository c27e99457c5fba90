//! Applications over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, ID,
};
use chrono::{DateTime, Utc};

use super::{model::ApplicationRow, service};
use crate::{
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{decode_id_cursor, id_cursor, page_size, wants_total, Total},
        types::parse_id,
    },
    profile::{graphql::User, loaders::UserById},
    task::{
        graphql::{Task, TaskMilestone},
        loaders::TaskById,
        service::Milestone,
    },
};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ApplicationStatus {
    Pending,
    Reviewing,
    Shortlisted,
    Rejected,
    Accepted,
    Withdrawn,
}

impl ApplicationStatus {
    fn as_db(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Reviewing => "REVIEWING",
            Self::Shortlisted => "SHORTLISTED",
            Self::Rejected => "REJECTED",
            Self::Accepted => "ACCEPTED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    fn from_db(s: &str) -> Self {
        match s {
            "REVIEWING" => Self::Reviewing,
            "SHORTLISTED" => Self::Shortlisted,
            "REJECTED" => Self::Rejected,
            "ACCEPTED" => Self::Accepted,
            "WITHDRAWN" => Self::Withdrawn,
            _ => Self::Pending,
        }
    }
}

/// A freelancer's proposal for a task.
pub struct Application(pub Arc<ApplicationRow>);

#[Object]
impl Application {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Task>> {
        let row = ctx
            .loader()
            .load_one(TaskById(self.0.task_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(Task))
    }
    async fn freelancer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.freelancer_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    async fn cover_letter(&self) -> &str {
        &self.0.cover_letter
    }
    async fn proposed_rate_cents(&self) -> i64 {
        self.0.proposed_rate_cents
    }
    async fn proposed_timeline(&self) -> &str {
        &self.0.proposed_timeline
    }
    async fn portfolio_items(&self) -> &[String] {
        &self.0.portfolio_items
    }
    async fn ai_tools_to_use(&self) -> &[String] {
        &self.0.ai_tools_to_use
    }
    async fn milestones(&self) -> Vec<TaskMilestone> {
        serde_json::from_value::<Vec<Milestone>>(self.0.milestones.clone())
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect()
    }
    async fn revisions(&self) -> i32 {
        self.0.revisions
    }
    async fn status(&self) -> ApplicationStatus {
        ApplicationStatus::from_db(&self.0.status)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

type ApplicationConnection = Connection<String, Application, Total, EmptyFields>;

fn connection(page: service::Page, after: bool) -> ApplicationConnection {
    let total = Total {
        total_count: page.total.unwrap_or_default(),
    };
    let mut connection = Connection::with_additional_fields(after, page.more, total);
    connection.edges.extend(
        page.rows
            .into_iter()
            .map(|row| Edge::new(id_cursor(row.id), Application(Arc::new(row)))),
    );
    connection
}

#[derive(Default)]
pub struct ApplicationQuery;

#[Object]
impl ApplicationQuery {
    /// Your applications, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn my_applications(
        &self,
        ctx: &Context<'_>,
        status: Option<ApplicationStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ApplicationConnection> {
        let viewer = ctx.viewer()?.id();
        let size = page_size(first, ctx.app().config.limits.max_page_size)?;
        let before = decode_id_cursor(after.as_deref(), "after")?;
        let page = service::mine(
            ctx.app(),
            viewer,
            status.map(|s| s.as_db()),
            before,
            size,
            wants_total(ctx),
        )
        .await?;
        Ok(connection(page, after.is_some()))
    }

    /// Applications to your task, newest first.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn task_applications(
        &self,
        ctx: &Context<'_>,
        task_id: ID,
        status: Option<ApplicationStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ApplicationConnection> {
        let viewer = ctx.viewer()?;
        let task_id = parse_id(&task_id, "taskId")?;
        let size = page_size(first, ctx.app().config.limits.max_page_size)?;
        let before = decode_id_cursor(after.as_deref(), "after")?;
        let page = service::of_task(
            ctx.app(),
            &viewer.user,
            task_id,
            status.map(|s| s.as_db()),
            before,
            size,
            wants_total(ctx),
        )
        .await?;
        Ok(connection(page, after.is_some()))
    }
}

#[derive(InputObject)]
pub struct ApplyToTaskInput {
    pub task_id: ID,
    /// 30 to 10,000 characters.
    pub cover_letter: String,
    pub proposed_rate_cents: i64,
    /// e.g. "3 weeks".
    pub proposed_timeline: String,
    #[graphql(default)]
    pub portfolio_items: Vec<String>,
    #[graphql(default)]
    pub ai_tools_to_use: Vec<String>,
    #[graphql(default)]
    pub milestones: Vec<TaskMilestone>,
    /// Revision rounds included (0 to 20, default 2); an order made from this application
    /// allows that many.
    #[graphql(default = 2)]
    pub revisions: i32,
}

#[derive(Default)]
pub struct ApplicationMutation;

#[Object]
impl ApplicationMutation {
    /// Applies to an open task.
    async fn apply_to_task(&self, ctx: &Context<'_>, input: ApplyToTaskInput) -> async_graphql::Result<Application> {
        let viewer = ctx.viewer()?;
        let task_id = parse_id(&input.task_id, "taskId")?;
        let row = service::apply(
            ctx.app(),
            &viewer.user,
            service::ApplicationInput {
                task_id,
                cover_letter: input.cover_letter,
                proposed_rate_cents: input.proposed_rate_cents,
                proposed_timeline: input.proposed_timeline,
                portfolio_items: input.portfolio_items,
                ai_tools_to_use: input.ai_tools_to_use,
                milestones: input.milestones.into_iter().map(Into::into).collect(),
                revisions: input.revisions,
            },
        )
        .await?;
        Ok(Application(Arc::new(row)))
    }

    /// Withdraws your application.
    async fn withdraw_application(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Application> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Application(Arc::new(
            service::withdraw(ctx.app(), &viewer.user, id).await?,
        )))
    }

    /// Moves an application to your task to PENDING, REVIEWING, SHORTLISTED or REJECTED.
    async fn set_application_status(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: ApplicationStatus,
    ) -> async_graphql::Result<Application> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let mut rows = service::set_status(ctx.app(), &viewer.user, &[id], status.as_db()).await?;
        let row = rows
            .pop()
            .ok_or_else(|| crate::error::AppError::not_found("Application"))?;
        Ok(Application(Arc::new(row)))
    }

    /// Sets one status on up to 100 applications to your tasks: all change or none.
    async fn bulk_set_application_status(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
        status: ApplicationStatus,
    ) -> async_graphql::Result<Vec<Application>> {
        let viewer = ctx.viewer()?;
        let ids = ids
            .iter()
            .map(|id| parse_id(id, "ids"))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = service::set_status(ctx.app(), &viewer.user, &ids, status.as_db()).await?;
        Ok(rows.into_iter().map(|r| Application(Arc::new(r))).collect())
    }
}
