//! Posting, editing, publishing, cancelling tasks and inviting freelancers to them.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};

use super::{PostTaskInput, Task, TaskInputObject};
use crate::{
    error::AppError,
    graphql::{context::ContextExt, types::parse_id},
    task::service,
};

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
            files.push(crate::storage::Upload {
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
        let task = service::update(ctx.app(), &viewer.user, id, input.into()).await?;
        Ok(Task(Arc::new(task)))
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
        let task = service::invite(ctx.app(), &viewer.user, task_id, freelancer_id, message).await?;
        Ok(Task(Arc::new(task)))
    }
}
