//! Task operations and their rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod input;

pub use self::input::{validate, TaskFilter, TaskInput};
pub use super::model::Milestone;
use super::model::{self, Around, Filter, StatusChange, TaskMode, TaskRow, TaskStatus};
use crate::{
    admin::model::{self as audit, HoldTarget},
    db::{
        self,
        page::{Page, PageRequest},
        Batch,
    },
    error::{AppError, AppResult, FieldErrors},
    events::{self, presence, topic},
    geocell,
    notification::service::{self as notification, Kind},
    plan, profile,
    profile::model::UserRow,
    state::AppState,
    storage::{self, Attachment, Upload},
    validation,
};

const ATTACHMENTS_MAX: usize = 10;

/// Posts a task: OPEN (counted against the plan) or, with `draft`, a DRAFT.
pub async fn post(
    app: &AppState,
    poster: &UserRow,
    input: TaskInput,
    files: Vec<Upload>,
    draft: bool,
) -> AppResult<TaskRow> {
    let mut errors = FieldErrors::new();
    let fields = validate(input, &mut errors);
    if files.len() > ATTACHMENTS_MAX {
        errors.add("attachments", format!("must be at most {ATTACHMENTS_MAX} files"));
    }
    let kinds = storage::check_uploads(&files, app.config.limits.upload_max_bytes, "attachments", &mut errors);
    errors.into_result()?;
    let attachments = app
        .storage
        .store_uploads("tasks", files, kinds)
        .await
        .map_err(AppError::internal)?;
    let attachments = serde_json::to_value(&attachments).map_err(AppError::internal)?;
    let id = Uuid::now_v7();
    let mut fields = fields;
    fields.place(id);
    let mut conn = app.db.conn().await?;
    let result = app
        .bus
        .transaction(&mut conn, async |conn| {
            if !draft {
                plan::service::claim_post(conn, poster.id).await?;
            }
            let status = if draft { TaskStatus::Draft } else { TaskStatus::Open };
            let task = model::insert(conn, id, poster.id, &fields, status, &attachments).await?;
            if !draft {
                announce(app, conn, &task, None).await?;
            }
            Ok::<_, AppError>(task)
        })
        .await;
    if result.is_err() {
        for file in serde_json::from_value::<Vec<Attachment>>(attachments).unwrap_or_default() {
            app.storage.remove_by_url(&file.url).await;
        }
    }
    result
}

fn not_found() -> AppError {
    AppError::not_found("Task")
}

/// The task, locked, if the viewer posted it.
async fn own(conn: &mut AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<TaskRow> {
    let task = model::lock(conn, id).await?.ok_or_else(not_found)?;
    if task.poster_id != viewer.id {
        return Err(if task.status == TaskStatus::Open {
            AppError::Forbidden("Only the task's poster can change it.".into())
        } else {
            not_found()
        });
    }
    Ok(task)
}

/// The viewer's task, locked, if it is in one of the `allowed` statuses; CONFLICT ("A …
/// task `refusal`.") otherwise.
async fn own_in(
    conn: &mut AsyncPgConnection,
    viewer: &UserRow,
    id: Uuid,
    allowed: &[TaskStatus],
    refusal: &str,
) -> AppResult<TaskRow> {
    let task = own(conn, viewer, id).await?;
    if !allowed.contains(&task.status) {
        return Err(AppError::Conflict(format!("A {} task {refusal}.", task.status)));
    }
    Ok(task)
}

/// Replaces the fields of the viewer's DRAFT or OPEN task.
pub async fn update(app: &AppState, viewer: &UserRow, id: Uuid, input: TaskInput) -> AppResult<TaskRow> {
    let mut errors = FieldErrors::new();
    let mut fields = validate(input, &mut errors);
    errors.into_result()?;
    fields.place(id);
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction(&mut conn, async |conn| {
            let task = own_in(conn, viewer, id, &TaskStatus::EDITABLE, "can no longer be edited").await?;
            if task.status == TaskStatus::Open && task.mode != fields.mode {
                return Err(AppError::field("mode", "cannot change once the task is published"));
            }
            let updated = model::update_fields(conn, id, &fields).await?;
            if updated.status == TaskStatus::Open {
                announce(app, conn, &updated, Some(TaskStatus::Open)).await?;
            }
            Ok(updated)
        })
        .await
}

/// Publishes the viewer's draft (counted against the plan).
pub async fn publish(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<TaskRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction(&mut conn, async |conn| {
            let task = own_in(conn, viewer, id, &[TaskStatus::Draft], "cannot be published").await?;
            if task.mode == TaskMode::Immediate && task.acceptance_deadline.is_none_or(|d| d <= Utc::now()) {
                return Err(AppError::field(
                    "acceptanceDeadline",
                    "has passed: set a new one with updateTask first",
                ));
            }
            plan::service::claim_post(conn, viewer.id).await?;
            let change = StatusChange {
                published_at: Some(Utc::now()),
                ..StatusChange::to(TaskStatus::Open)
            };
            let published = model::set_status(conn, id, &change).await?;
            announce(app, conn, &published, Some(task.status)).await?;
            Ok(published)
        })
        .await
}

/// Cancels the viewer's task before it is assigned.
pub async fn cancel(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<TaskRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction(&mut conn, async |conn| {
            let task = own_in(conn, viewer, id, &TaskStatus::EDITABLE, "cannot be cancelled").await?;
            let cancelled = model::set_status(conn, id, &StatusChange::to(TaskStatus::Cancelled)).await?;
            announce(app, conn, &cancelled, Some(task.status)).await?;
            Ok(cancelled)
        })
        .await
}

/// An admin takes a task out of public view for `reason`: a DRAFT or OPEN task is
/// CANCELLED (no more applications or accepts); a task already assigned keeps its status, so
/// that its order goes on. The poster is told, subscribers see the change, and the action is
/// audit-logged, in one transaction. `CONFLICT` when already deactivated.
pub async fn deactivate(app: &AppState, admin: &UserRow, id: Uuid, reason: &str) -> AppResult<TaskRow> {
    let reason = validation::reason("reason", reason)?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let task = model::lock(conn, id)
                .await?
                .ok_or_else(|| AppError::not_found("Task"))?;
            if !audit::hold(conn, HoldTarget::Task, id, admin.id, &reason).await? {
                return Err(AppError::Conflict("This task is already deactivated.".into()));
            }
            let after = if TaskStatus::EDITABLE.contains(&task.status) {
                let cancelled = model::set_status(conn, id, &StatusChange::to(TaskStatus::Cancelled)).await?;
                announce(app, conn, &cancelled, Some(task.status)).await?;
                cancelled
            } else {
                task.clone()
            };
            audit::record(
                conn,
                admin.id,
                "DEACTIVATE_TASK",
                "TASK",
                id,
                &reason,
                serde_json::json!({ "before": { "status": task.status }, "after": { "status": after.status } }),
            )
            .await?;
            notification::notify(
                conn,
                task.poster_id,
                Kind::System,
                "Your task was deactivated",
                &format!("An admin took \"{}\" out of public view: {reason}", task.title),
                serde_json::json!({ "taskId": id }),
            )
            .await?;
            Ok(after)
        })
        .await
}

/// Whether `viewer` may see `task` of `poster`.
pub fn visible(task: &TaskRow, poster: &UserRow, viewer: Option<&UserRow>) -> bool {
    let privileged = viewer.is_some_and(|v| v.id == task.poster_id || v.is_admin);
    privileged || (task.status != TaskStatus::Draft && !poster.is_banned())
}

/// A task with its poster, if `viewer` may see it.
pub async fn get(app: &AppState, viewer: Option<&UserRow>, id: Uuid) -> AppResult<Option<(TaskRow, UserRow)>> {
    let mut conn = app.db.conn().await?;
    Ok(model::find_with_poster(&mut conn, id)
        .await?
        .filter(|(t, p)| visible(t, p, viewer)))
}

/// The list key of a task: a time and the task's id (see [`Filter::key_of`]).
pub type TaskKey = (DateTime<Utc>, Uuid);

/// A task in a list, with its poster and its key in that list.
pub struct Listed {
    pub task: TaskRow,
    pub poster: UserRow,
    /// The page cursor (see [`Filter::key_of`]).
    pub key: TaskKey,
}

/// A page of the tasks `filter` selects.
async fn page(app: &AppState, filter: &Filter, request: &PageRequest<TaskKey>) -> AppResult<Page<Listed>> {
    let mut conn = app.db.conn().await?;
    let page = request
        .fetch(
            &mut conn,
            async |c, after, limit| model::page(c, filter, after.copied(), limit).await,
            async |c| model::count(c, filter).await,
        )
        .await?;
    Ok(page.map(|(task, poster)| Listed {
        key: filter.key_of(&task),
        task,
        poster,
    }))
}

/// A page of public (OPEN) tasks, newest published first, narrowed by `filter`.
pub async fn open_tasks(
    app: &AppState,
    filter: Option<TaskFilter>,
    request: &PageRequest<TaskKey>,
) -> AppResult<Page<Listed>> {
    page(app, &filter.unwrap_or_default().check()?, request).await
}

/// A page of `poster`'s own tasks in every status (or one), newest created first.
pub async fn posted_by(
    app: &AppState,
    poster: Uuid,
    status: Option<TaskStatus>,
    request: &PageRequest<TaskKey>,
) -> AppResult<Page<Listed>> {
    let filter = Filter {
        poster: Some(poster),
        status,
        ..Default::default()
    };
    page(app, &filter, request).await
}

/// Invites a freelancer to apply to the viewer's OPEN task and notifies them.
pub async fn invite(
    app: &AppState,
    viewer: &UserRow,
    task_id: Uuid,
    freelancer_id: Uuid,
    message: String,
) -> AppResult<TaskRow> {
    let mut errors = FieldErrors::new();
    let message = validation::text("message", &message, 0, 2000, true, &mut errors);
    if freelancer_id == viewer.id {
        errors.add("freelancerId", "must be someone other than you");
    }
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    let freelancer = profile::service::find(&mut conn, freelancer_id).await?;
    if freelancer.is_none_or(|f| f.is_banned()) {
        return Err(AppError::not_found("User"));
    }
    app.bus
        .transaction(&mut conn, async |conn| {
            let task = own(conn, viewer, task_id).await?;
            if task.status != TaskStatus::Open {
                return Err(AppError::Conflict("Only open tasks take invitations.".into()));
            }
            if model::invite(conn, task_id, freelancer_id, &message).await? {
                notification::notify(
                    conn,
                    freelancer_id,
                    Kind::System,
                    &format!("{} invited you to apply", viewer.full_name),
                    &task.title,
                    serde_json::json!({ "taskId": task.id, "invitation": true }),
                )
                .await?;
            }
            Ok(task)
        })
        .await
}

/// Kind of the event on `taskUpdated` topics.
pub const TASK_UPDATED: &str = "TASK_UPDATED";
/// Kind of the event on nearby-cell topics.
pub const TASK_POSTED: &str = "TASK_POSTED";
/// Offline freelancers told of a nearby task: at most this many, nearest first…
const NEARBY_NOTIFY_MAX: i64 = 50;
/// …within their travel radius, capped here (and 5 km when they set none).
pub const NEARBY_NOTIFY_RADIUS_MAX_M: f64 = 50_000.0;
/// Nearby search: the largest radius.
pub const NEARBY_RADIUS_MAX_M: f64 = 50_000.0;
/// The geohash cells the search for freelancers to notify may scan.
const SEARCH_CELLS_MAX: usize = 32;
/// Expiry claims this many overdue tasks per transaction.
const EXPIRY_BATCH: i64 = 200;
/// Users and tasks given their points per run by [`backfill_public_points`].
const BACKFILL_BATCH: i64 = 500;

/// What `taskUpdated` and `nearbyTaskPosted` subscribers receive.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskEvent {
    pub task: Arc<TaskRow>,
    /// The status before the change; `None` for a new task.
    pub from: Option<TaskStatus>,
}

/// Tells watchers of `task` about its new state (in the caller's transaction). A task that
/// has just become OPEN (posted, published or reopened) with a location is also announced on
/// the cells around its public point, and the available freelancers in range who are not
/// connected get a TASK_NEARBY notification.
pub async fn announce(
    app: &AppState,
    conn: &mut AsyncPgConnection,
    task: &TaskRow,
    from: Option<TaskStatus>,
) -> AppResult<()> {
    let event = TaskEvent {
        task: Arc::new(task.clone()),
        from,
    };
    let open = TaskStatus::Open;
    let announced = task
        .public_point()
        .filter(|_| task.status == open && from != Some(open));
    // The watchers' event and, for a task just opened, one per cell around it: one statement.
    let mut topics = vec![(topic::task(task.id), TASK_UPDATED)];
    if let Some((lat, lng)) = announced {
        topics.extend(
            geocell::CHANNEL_PRECISIONS
                .filter_map(|precision| geocell::cell_of(lat, lng, precision))
                .map(|cell| (topic::nearby(&cell), TASK_POSTED)),
        );
    }
    events::emit_all(conn, topics, &event).await?;
    let Some((lat, lng)) = announced else {
        return Ok(());
    };
    let around = Around {
        lat,
        lng,
        radius_m: NEARBY_NOTIFY_RADIUS_MAX_M,
        cells: geocell::covering(lat, lng, NEARBY_NOTIFY_RADIUS_MAX_M, 1..=8, SEARCH_CELLS_MAX).cells,
    };
    let candidates = model::freelancers_near(conn, &around, task.poster_id, NEARBY_NOTIFY_MAX).await?;
    let keys: Vec<String> = candidates.iter().map(|(id, _)| presence::connection(*id)).collect();
    let online = app.presence.present_among(&keys).await;
    let offline = candidates
        .into_iter()
        .zip(online)
        .filter(|(_, online)| !online)
        .map(|((freelancer, metres), _)| {
            let metres = metres.unwrap_or_default();
            (
                freelancer,
                format!("New task {:.1} km away", metres / 1000.0),
                task.title.clone(),
                serde_json::json!({ "taskId": task.id, "distanceMeters": metres.round(), "mode": task.mode }),
            )
        })
        .collect();
    notification::notify_many(conn, Kind::TaskNearby, offline).await?;
    Ok(())
}

/// Checks a nearby-search centre and radius, naming the bad fields.
pub fn check_circle(lat: f64, lng: f64, radius_m: f64) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        errors.add("lat", "must be between -90 and 90");
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        errors.add("lng", "must be between -180 and 180");
    }
    if !radius_m.is_finite() || !(1.0..=NEARBY_RADIUS_MAX_M).contains(&radius_m) {
        errors.add("radiusMeters", format!("must be between 1 and {NEARBY_RADIUS_MAX_M}"));
    }
    errors.into_result()
}

/// A task found by a nearby search, with its distance from the centre.
pub struct Nearby {
    pub task: TaskRow,
    pub poster: UserRow,
    /// Metres from the centre to the public point, by the `geo` crate's haversine.
    pub distance_m: f64,
    /// The chord PostgreSQL ordered by (the page cursor; see `model::nearby_query`).
    pub order_key: f64,
}

impl Nearby {
    /// The task's key in the nearby list (the page cursor): distance, then id.
    pub fn key(&self) -> (f64, Uuid) {
        (self.order_key, self.task.id)
    }
}

/// One page of OPEN tasks within `radius_m` of (`lat`, `lng`), nearest first, narrowed by
/// `filter`. The GiST index `tasks_open_earth_idx` hands out the nearest tasks first, so a
/// dense city costs what the page's tasks cost, not all the tasks in the radius.
pub async fn nearby(
    app: &AppState,
    (lat, lng, radius_m): (f64, f64, f64),
    filter: Option<TaskFilter>,
    request: &PageRequest<(f64, Uuid)>,
) -> AppResult<Page<Nearby>> {
    check_circle(lat, lng, radius_m)?;
    let filter = filter.unwrap_or_default().check()?;
    let around = search_area(lat, lng, radius_m);
    let mut conn = app.db.conn().await?;
    let load = async |conn: &mut AsyncPgConnection, after: Option<&(f64, Uuid)>, limit: i64| {
        let rows = model::nearby(conn, &filter, &around, after.copied(), limit).await?;
        Ok::<_, AppError>(
            rows.into_iter()
                .filter_map(|(task, poster, order_key)| {
                    let distance_m = geocell::distance_m((lat, lng), task.public_point()?);
                    (distance_m <= radius_m).then_some(Nearby {
                        task,
                        poster,
                        distance_m,
                        order_key: order_key.unwrap_or(distance_m),
                    })
                })
                .collect(),
        )
    };
    let count = async |conn: &mut AsyncPgConnection| Ok(model::nearby_count(conn, &filter, &around).await?);
    request.fetch(&mut conn, load, count).await
}

/// The circle a search scans (no geohash cells: the GiST index answers task searches).
pub fn search_area(lat: f64, lng: f64, radius_m: f64) -> Around {
    Around {
        lat,
        lng,
        radius_m,
        cells: Vec::new(),
    }
}

/// Expires OPEN first-accept tasks past their deadline, telling watchers and posters.
/// Safe with several instances (each claims its tasks with `SKIP LOCKED`); returns how many.
pub async fn expire_overdue(app: &AppState) -> AppResult<usize> {
    db::drain(EXPIRY_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        app.bus
            .transaction(&mut conn, async |conn| {
                let due = model::lock_overdue(conn, EXPIRY_BATCH).await?;
                for task in &due {
                    let expired = model::set_status(conn, task.id, &StatusChange::to(TaskStatus::Expired)).await?;
                    announce(app, conn, &expired, Some(TaskStatus::Open)).await?;
                    notification::notify(
                        conn,
                        task.poster_id,
                        Kind::System,
                        "Nobody accepted your task in time",
                        &task.title,
                        serde_json::json!({ "taskId": task.id, "status": "EXPIRED" }),
                    )
                    .await?;
                }
                Ok::<_, AppError>(Batch::of(due.len()))
            })
            .await
    })
    .await
}

/// Gives tasks written before public points existed theirs, and users their geohash (run at
/// start-up; idempotent).
pub async fn backfill_public_points(app: &AppState) -> AppResult<usize> {
    let users = db::drain(BACKFILL_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        let users = profile::model::unhashed_locations(&mut conn, BACKFILL_BATCH).await?;
        for &(id, lat, lng) in &users {
            if let Some(cell) = geocell::cell_of(lat, lng, geocell::POINT_PRECISION) {
                profile::model::set_geohash(&mut conn, id, &cell).await?;
            }
        }
        Ok::<_, AppError>(Batch::of(users.len()))
    })
    .await?;
    let tasks = db::drain(BACKFILL_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let rows = model::lock_unplaced(conn, BACKFILL_BATCH).await?;
            for task in &rows {
                let (Some(lat), Some(lng)) = (task.latitude, task.longitude) else {
                    continue;
                };
                let public = geocell::fuzz(task.id, lat, lng);
                if let Some(cell) = geocell::cell_of(public.0, public.1, geocell::POINT_PRECISION) {
                    model::set_place(conn, task.id, public, &cell).await?;
                }
            }
            Ok(Batch::of(rows.len()))
        })
        .await
    })
    .await?;
    Ok(users + tasks)
}
