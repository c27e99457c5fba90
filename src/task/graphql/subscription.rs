//! Watching one task, and the tasks posted near a point.

use std::sync::Arc;

use async_graphql::{Context, Object, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::{NearbyTask, Task};
use crate::{
    error::AppError,
    events::topic,
    geocell,
    graphql::{context::ContextExt, pagination::decode_event_cursor, subscription::topic_events, types::parse_id},
    task::{
        model::{TaskRow, TaskStatus},
        service::{self, TaskEvent},
    },
};

/// A change of a task, as the event carried it.
pub struct TaskUpdate {
    task: Arc<TaskRow>,
    from: Option<TaskStatus>,
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
        self.from
    }
    /// The status after.
    async fn to_status(&self) -> Option<TaskStatus> {
        Some(self.task.status)
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
                    (payload.task.status != TaskStatus::Draft || privileged(&payload.task)).then(|| {
                        Ok(TaskUpdate {
                            task: payload.task.clone(),
                            from: payload.from,
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
        service::check_circle(lat, lng, radius_meters)?;
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
                    (payload.task.status == TaskStatus::Open && distance_m <= radius_meters).then(|| {
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
