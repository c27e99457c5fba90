//! Reading tasks: one by id, the public list, the tasks near a point, your own tasks and the
//! templates.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};

use super::{NearbyTask, Task};
use crate::{
    graphql::{
        context::ContextExt,
        pagination::{connection, list_cost, page_request, ListConnection},
        types::parse_id,
    },
    profile::{loaders::UserById, model::UserRow},
    task::{
        model::TaskStatus,
        service::{self, TaskFilter},
        templates::{self, Template},
    },
};

/// Puts the posters a page brought along into the request's user cache, so `Task.poster`
/// costs no query.
async fn cache_posters<'a>(ctx: &Context<'_>, posters: impl Iterator<Item = &'a UserRow>) {
    ctx.loader()
        .feed_many(posters.map(|poster| (UserById(poster.id), Arc::new(poster.clone()))))
        .await;
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
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; every open task when omitted.")] filter: Option<TaskFilter>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Task>> {
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::open_tasks(ctx.app(), filter, &request).await?;
        cache_posters(ctx, page.items.iter().map(|listed| &listed.poster)).await;
        Ok(connection(
            page,
            |listed| listed.key,
            |listed| Task(Arc::new(listed.task)),
        ))
    }

    /// Open tasks with a location within `radiusMeters` (at most 50 km) of a point, nearest
    /// first. Distances are measured to each task's public location (about 200 m from the
    /// real one). No sign-in needed.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
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
    ) -> async_graphql::Result<ListConnection<NearbyTask>> {
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::nearby(ctx.app(), (lat, lng, radius_meters), filter, &request).await?;
        cache_posters(ctx, page.items.iter().map(|found| &found.poster)).await;
        Ok(connection(page, service::Nearby::key, |found| NearbyTask {
            task: Arc::new(found.task),
            distance_m: found.distance_m,
        }))
    }

    /// Tasks you posted, in every status (or one), newest created first. UNAUTHORIZED when
    /// signed out.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn my_tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only tasks in this status; every status when omitted.")] status: Option<TaskStatus>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Task>> {
        let viewer = ctx.viewer()?.id();
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::posted_by(ctx.app(), viewer, status, &request).await?;
        cache_posters(ctx, page.items.iter().map(|listed| &listed.poster)).await;
        Ok(connection(
            page,
            |listed| listed.key,
            |listed| Task(Arc::new(listed.task)),
        ))
    }

    /// Templates that prefill a task's category and milestone plan. No sign-in needed.
    async fn task_templates(&self) -> &'static [Template] {
        templates::TEMPLATES
    }
}
