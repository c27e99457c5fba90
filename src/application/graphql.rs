//! Applications over GraphQL.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};

use super::{
    model::{ApplicationRow, ApplicationStatus},
    service,
};
use crate::{
    graphql::{
        context::ContextExt,
        pagination::{connection, list_cost, page_request, ListConnection},
        types::parse_id,
    },
    profile::graphql::User,
    task::{graphql::Task, model::Milestone},
};

/// An application as the schema shows it.
pub struct Application(pub Arc<ApplicationRow>);

/// A freelancer's proposal for a task, seen by its author, the task's poster and admins.
#[Object]
impl Application {
    /// Opaque application id: pass it to `acceptApplication`, `setApplicationStatus` or
    /// `withdrawApplication`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The task applied to.
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Task>> {
        Task::load(ctx, self.0.task_id).await
    }
    /// Who applied.
    async fn freelancer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.freelancer_id).await
    }
    /// Why the freelancer is right for the task (30 to 10,000 characters).
    async fn cover_letter(&self) -> &str {
        &self.0.cover_letter
    }
    /// The proposed price in minor units of the task's currency (per hour for HOURLY tasks).
    /// Accepting an application without milestones makes an order for this amount.
    async fn proposed_rate_cents(&self) -> i64 {
        self.0.proposed_rate_cents
    }
    /// How long the freelancer expects to take, in their words, e.g. "3 weeks".
    async fn proposed_timeline(&self) -> &str {
        &self.0.proposed_timeline
    }
    /// Links to earlier work (up to 10 http(s) URLs).
    async fn portfolio_items(&self) -> &[String] {
        &self.0.portfolio_items
    }
    /// AI tools the freelancer plans to use (up to 20).
    async fn ai_tools_to_use(&self) -> &[String] {
        &self.0.ai_tools_to_use
    }
    /// Proposed milestones; accepting the application makes them the order's milestones.
    async fn milestones(&self) -> Vec<Milestone> {
        Milestone::plan_of(&self.0.milestones)
    }
    /// Revision rounds included (0 to 20); an order made from the application allows that
    /// many.
    async fn revisions(&self) -> i32 {
        self.0.revisions
    }
    /// Where the application stands.
    async fn status(&self) -> ApplicationStatus {
        self.0.status
    }
    /// When it was sent (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed (UTC), e.g. its status.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

type ApplicationConnection = ListConnection<Application>;

#[derive(Default)]
pub struct ApplicationQuery;

#[Object]
impl ApplicationQuery {
    /// Your applications, newest first. UNAUTHORIZED when signed out.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn my_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only applications in this status; all when omitted.")] status: Option<ApplicationStatus>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<ApplicationConnection> {
        let viewer = ctx.viewer()?.id();
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::mine(ctx.app(), viewer, status, &request).await?;
        Ok(connection(page, |row| row.id, |row| Application(Arc::new(row))))
    }

    /// Applications to your task, newest first. FORBIDDEN for anyone but the poster (and
    /// admins); NOT_FOUND for unknown tasks.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn task_applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A task you posted.")] task_id: ID,
        #[graphql(desc = "Only applications in this status; all when omitted.")] status: Option<ApplicationStatus>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<ApplicationConnection> {
        let viewer = ctx.viewer()?;
        let task_id = parse_id(&task_id, "taskId")?;
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::of_task(ctx.app(), &viewer.user, task_id, status, &request).await?;
        Ok(connection(page, |row| row.id, |row| Application(Arc::new(row))))
    }
}

/// What `applyToTask` takes. VALIDATION_ERROR names each field that breaks a rule below.
#[derive(InputObject)]
pub struct ApplyToTaskInput {
    /// An OPEN task you did not post.
    pub task_id: ID,
    /// Why you are right for the task (30 to 10,000 characters).
    pub cover_letter: String,
    /// Your price in minor units of the task's currency, 100 to 10,000,000,000 (per hour for
    /// HOURLY tasks).
    pub proposed_rate_cents: i64,
    /// How long you expect to take, e.g. "3 weeks" (2 to 200 characters).
    pub proposed_timeline: String,
    /// Up to 10 http(s) links to earlier work.
    #[graphql(default)]
    pub portfolio_items: Vec<String>,
    /// AI tools you plan to use (up to 20, each up to 40 characters).
    #[graphql(default)]
    pub ai_tools_to_use: Vec<String>,
    /// Proposed milestones (up to 20, titles 3 to 120 characters, positive amounts); they
    /// become the order's milestones if you are hired.
    #[graphql(default)]
    pub milestones: Vec<Milestone>,
    /// Revision rounds included (0 to 20, default 2); an order made from this application
    /// allows that many.
    #[graphql(default = 2)]
    pub revisions: i32,
}

#[derive(Default)]
pub struct ApplicationMutation;

#[Object]
impl ApplicationMutation {
    /// Applies to an open task (PENDING); the poster is notified. CONFLICT when the task is
    /// not OPEN, is your own, or you already applied; NOT_FOUND for unknown tasks.
    async fn apply_to_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task and your proposal.")] input: ApplyToTaskInput,
    ) -> async_graphql::Result<Application> {
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
                milestones: input.milestones,
                revisions: input.revisions,
            },
        )
        .await?;
        Ok(Application(Arc::new(row)))
    }

    /// Withdraws your application (WITHDRAWN); CONFLICT once it is ACCEPTED, REJECTED or
    /// already withdrawn.
    async fn withdraw_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An application you sent.")] id: ID,
    ) -> async_graphql::Result<Application> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Application(Arc::new(
            service::withdraw(ctx.app(), &viewer.user, id).await?,
        )))
    }

    /// Moves an application to your task to PENDING, REVIEWING, SHORTLISTED or REJECTED; the
    /// applicant is notified. Hiring goes through `acceptApplication`. CONFLICT when the
    /// application is already final; NOT_FOUND when the task is not yours.
    async fn set_application_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An application to a task you posted.")] id: ID,
        #[graphql(desc = "PENDING, REVIEWING, SHORTLISTED or REJECTED; anything else is a VALIDATION_ERROR.")]
        status: ApplicationStatus,
    ) -> async_graphql::Result<Application> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let mut rows = service::set_status(ctx.app(), &viewer.user, &[id], status).await?;
        let row = rows
            .pop()
            .ok_or_else(|| crate::error::AppError::not_found("Application"))?;
        Ok(Application(Arc::new(row)))
    }

    /// Sets one status on up to 100 applications to your tasks: all change or none (CONFLICT
    /// when any is already final, NOT_FOUND when any is not to your tasks). Each applicant is
    /// notified.
    async fn bulk_set_application_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 100 applications to tasks you posted.")] ids: Vec<ID>,
        #[graphql(desc = "PENDING, REVIEWING, SHORTLISTED or REJECTED; anything else is a VALIDATION_ERROR.")]
        status: ApplicationStatus,
    ) -> async_graphql::Result<Vec<Application>> {
        let viewer = ctx.viewer()?;
        let ids = ids
            .iter()
            .map(|id| parse_id(id, "ids"))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = service::set_status(ctx.app(), &viewer.user, &ids, status).await?;
        Ok(rows.into_iter().map(|r| Application(Arc::new(r))).collect())
    }
}
