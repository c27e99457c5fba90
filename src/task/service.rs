//! Task operations and their rules.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    model::{self, Around, Filter, StatusChange, TaskFields, TaskRow},
    templates,
};
use crate::{
    error::{AppError, AppResult, FieldErrors},
    events::{self, presence, topic},
    geocell,
    message::model::Attachment,
    notification::service::{self as notification, Kind},
    plan, profile,
    profile::model::UserRow,
    state::AppState,
    validation,
};

const TITLE: (usize, usize) = (10, 150);
const DESCRIPTION: (usize, usize) = (30, 20_000);
const CATEGORY: (usize, usize) = (2, 60);
const LIST_MAX: usize = 20;
const LABEL_MAX: usize = 40;
const BUDGET_MIN_CENTS: i64 = 100;
const BUDGET_MAX_CENTS: i64 = 10_000_000_000;
const MILESTONES_MAX: usize = 20;
const ATTACHMENTS_MAX: usize = 10;
const ADDRESS_MAX: usize = 300;
/// An IMMEDIATE task's offer stands for this long at least, and at most…
const DEADLINE_MIN_MINUTES: i64 = 5;
const DEADLINE_MAX_HOURS: i64 = 72;

/// A milestone of a task's plan.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Milestone {
    pub title: String,
    pub description: String,
    pub amount_cents: i64,
    pub due_in_days: i32,
}

/// What `postTask` and `updateTask` take (after GraphQL enums become strings).
#[derive(Debug, Clone)]
pub struct TaskInput {
    pub title: String,
    pub description: String,
    pub category: String,
    pub skills_required: Vec<String>,
    pub ai_tools_preferred: Vec<String>,
    pub budget_type: String,
    pub budget_min_cents: i64,
    pub budget_max_cents: i64,
    pub currency: String,
    pub duration: String,
    pub location_type: String,
    pub address: Option<String>,
    pub location: Option<(f64, f64)>,
    pub milestones: Vec<Milestone>,
    pub nda_required: bool,
    pub ip_transfer: bool,
    pub template_key: Option<String>,
    /// STANDARD (applications) or IMMEDIATE (first accept wins).
    pub mode: String,
    /// IMMEDIATE tasks only: when the offer lapses.
    pub acceptance_deadline: Option<DateTime<Utc>>,
}

/// Validates `input` into the stored fields, prefilling milestones from a template.
pub fn validate(input: TaskInput, errors: &mut FieldErrors) -> TaskFields {
    let title = validation::text("title", &input.title, TITLE.0, TITLE.1, false, errors);
    let description = validation::text(
        "description",
        &input.description,
        DESCRIPTION.0,
        DESCRIPTION.1,
        true,
        errors,
    );
    let template = match input.template_key.as_deref() {
        Some(key) => {
            let found = templates::find(key);
            if found.is_none() {
                errors.add("templateKey", "is not one of taskTemplates");
            }
            found
        }
        None => None,
    };
    let category = match (input.category.trim().is_empty(), template) {
        (true, Some(t)) => t.category.to_owned(),
        _ => validation::text("category", &input.category, CATEGORY.0, CATEGORY.1, false, errors),
    };
    let skills_required = validation::tags("skillsRequired", input.skills_required, LIST_MAX, LABEL_MAX, errors);
    let ai_tools_preferred = validation::tags(
        "aiToolsPreferred",
        input.ai_tools_preferred,
        LIST_MAX,
        LABEL_MAX,
        errors,
    );
    let currency = validation::currency("currency", &input.currency, errors);
    if !(BUDGET_MIN_CENTS..=BUDGET_MAX_CENTS).contains(&input.budget_min_cents) {
        errors.add(
            "budgetMinCents",
            format!("must be between {BUDGET_MIN_CENTS} and {BUDGET_MAX_CENTS}"),
        );
    }
    if input.budget_max_cents < input.budget_min_cents || input.budget_max_cents > BUDGET_MAX_CENTS {
        errors.add("budgetMaxCents", "must be at least budgetMinCents and within range");
    }
    let address = validation::optional_text("address", input.address, ADDRESS_MAX, errors);
    if let Some((lat, lng)) = input.location {
        if profile::service::check_coordinates(lat, lng).is_err() {
            errors.add("location", "must be valid WGS84 coordinates");
        }
    }
    if input.location_type != "REMOTE" && (input.location.is_none() || address.is_none()) {
        errors.add("location", "on-site and hybrid tasks need an address and coordinates");
    }
    let mut milestones = input.milestones;
    if milestones.is_empty() {
        if let Some(template) = template {
            milestones = template
                .milestones
                .iter()
                .map(|m| Milestone {
                    title: m.title.to_owned(),
                    description: m.description.to_owned(),
                    amount_cents: input.budget_max_cents * m.share_bps / 10_000,
                    due_in_days: m.due_in_days,
                })
                .collect();
        }
    }
    if milestones.len() > MILESTONES_MAX {
        errors.add("milestones", format!("must have at most {MILESTONES_MAX} entries"));
    }
    for (i, m) in milestones.iter_mut().enumerate() {
        m.title = validation::text(&format!("milestones.{i}.title"), &m.title, 3, 120, false, errors);
        m.description = validation::text(
            &format!("milestones.{i}.description"),
            &m.description,
            0,
            2000,
            true,
            errors,
        );
        if m.amount_cents <= 0 {
            errors.add(format!("milestones.{i}.amountCents"), "must be positive");
        }
        if !(1..=730).contains(&m.due_in_days) {
            errors.add(format!("milestones.{i}.dueInDays"), "must be between 1 and 730");
        }
    }
    if input.budget_type == "FIXED" && milestones.iter().map(|m| m.amount_cents).sum::<i64>() > input.budget_max_cents {
        errors.add("milestones", "must not add up to more than budgetMaxCents");
    }
    let remote = input.location_type == "REMOTE";
    let immediate = input.mode == "IMMEDIATE";
    match input.acceptance_deadline {
        Some(deadline) if immediate => {
            let ahead = deadline - Utc::now();
            if ahead < chrono::Duration::minutes(DEADLINE_MIN_MINUTES)
                || ahead > chrono::Duration::hours(DEADLINE_MAX_HOURS)
            {
                errors.add(
                    "acceptanceDeadline",
                    format!("must be {DEADLINE_MIN_MINUTES} minutes to {DEADLINE_MAX_HOURS} hours from now"),
                );
            }
        }
        None if immediate => errors.add("acceptanceDeadline", "is required for IMMEDIATE tasks"),
        Some(_) => errors.add("acceptanceDeadline", "applies to IMMEDIATE tasks only"),
        None => {}
    }
    if immediate && remote {
        errors.add("locationType", "IMMEDIATE tasks happen on site: ONSITE or HYBRID");
    }
    TaskFields {
        title,
        description,
        category,
        skills_required,
        ai_tools_preferred,
        budget_type: input.budget_type,
        budget_min_cents: input.budget_min_cents,
        budget_max_cents: input.budget_max_cents,
        currency,
        duration: input.duration,
        location_type: input.location_type,
        address: if remote { None } else { address },
        latitude: input.location.filter(|_| !remote).map(|l| l.0),
        longitude: input.location.filter(|_| !remote).map(|l| l.1),
        milestone_plan: serde_json::to_value(&milestones).unwrap_or_default(),
        nda_required: input.nda_required,
        ip_transfer: input.ip_transfer,
        template_key: input.template_key,
        public_latitude: None,
        public_longitude: None,
        geohash: None,
        mode: input.mode,
        acceptance_deadline: input.acceptance_deadline,
    }
}

/// A file as uploaded.
pub struct NewFile {
    pub file_name: String,
    pub bytes: bytes::Bytes,
}

/// Posts a task: OPEN (counted against the plan) or, with `draft`, a DRAFT.
pub async fn post(
    app: &AppState,
    poster: &UserRow,
    input: TaskInput,
    files: Vec<NewFile>,
    draft: bool,
) -> AppResult<TaskRow> {
    let mut errors = FieldErrors::new();
    let fields = validate(input, &mut errors);
    if files.len() > ATTACHMENTS_MAX {
        errors.add("attachments", format!("must be at most {ATTACHMENTS_MAX} files"));
    }
    let max = app.config.limits.upload_max_bytes;
    let mut kinds = Vec::new();
    for file in &files {
        match crate::storage::sniff_document(&file.bytes) {
            _ if file.bytes.is_empty() || file.bytes.len() > max => {
                errors.add("attachments", format!("each file must be 1 to {max} bytes"))
            }
            None => errors.add("attachments", "may be images, PDF, ZIP or plain text"),
            Some(kind) => kinds.push(kind),
        }
    }
    errors.into_result()?;
    let mut attachments = Vec::new();
    for (file, (content_type, ext)) in files.into_iter().zip(kinds) {
        let size = file.bytes.len() as i64;
        let stored = app
            .storage
            .put("tasks", ext, file.bytes)
            .await
            .map_err(AppError::internal)?;
        attachments.push(Attachment {
            url: stored.url,
            file_name: crate::message::service::display_name(&file.file_name),
            content_type: content_type.to_owned(),
            size_bytes: size,
        });
    }
    let attachments = serde_json::to_value(&attachments).map_err(AppError::internal)?;
    let id = Uuid::now_v7();
    let mut fields = fields;
    fields.place(id);
    let mut conn = app.db.conn().await?;
    let result = conn
        .transaction::<_, AppError, _>(async |conn| {
            if !draft {
                plan::service::claim_post(conn, poster.id).await?;
            }
            let status = if draft { "DRAFT" } else { "OPEN" };
            let task = model::insert(conn, id, poster.id, &fields, status, &attachments).await?;
            if !draft {
                announce(app, conn, &task, None).await?;
            }
            Ok(task)
        })
        .await;
    match &result {
        Ok(_) => app.bus.kick(),
        Err(_) => {
            for file in serde_json::from_value::<Vec<Attachment>>(attachments).unwrap_or_default() {
                app.storage.remove_by_url(&file.url).await;
            }
        }
    }
    result
}

fn not_found() -> AppError {
    AppError::not_found("Task")
}

/// The task, locked, if the viewer posted it.
async fn own(conn: &mut diesel_async::AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<TaskRow> {
    let task = model::lock(conn, id).await?.ok_or_else(not_found)?;
    if task.poster_id != viewer.id {
        return Err(if task.status == "OPEN" {
            AppError::Forbidden("Only the task's poster can change it.".into())
        } else {
            not_found()
        });
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
    let task = conn
        .transaction::<_, AppError, _>(async |conn| {
            let task = own(conn, viewer, id).await?;
            if !matches!(task.status.as_str(), "DRAFT" | "OPEN") {
                return Err(AppError::Conflict(format!(
                    "A {} task can no longer be edited.",
                    task.status
                )));
            }
            if task.status == "OPEN" && task.mode != fields.mode {
                return Err(AppError::field("mode", "cannot change once the task is published"));
            }
            let updated = model::update_fields(conn, id, &fields).await?;
            if updated.status == "OPEN" {
                announce(app, conn, &updated, Some("OPEN")).await?;
            }
            Ok(updated)
        })
        .await?;
    app.bus.kick();
    Ok(task)
}

/// Publishes the viewer's draft (counted against the plan).
pub async fn publish(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<TaskRow> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let task = own(conn, viewer, id).await?;
        if task.status != "DRAFT" {
            return Err(AppError::Conflict(format!(
                "A {} task cannot be published.",
                task.status
            )));
        }
        if task.mode == "IMMEDIATE" && task.acceptance_deadline.is_none_or(|d| d <= Utc::now()) {
            return Err(AppError::field(
                "acceptanceDeadline",
                "has passed: set a new one with updateTask first",
            ));
        }
        plan::service::claim_post(conn, viewer.id).await?;
        let change = StatusChange {
            published_at: Some(Utc::now()),
            ..StatusChange::to("OPEN")
        };
        let published = model::set_status(conn, id, &change).await?;
        announce(app, conn, &published, Some(&task.status)).await?;
        Ok(published)
    })
    .await
    .inspect(|_| app.bus.kick())
}

/// Cancels the viewer's task before it is assigned.
pub async fn cancel(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<TaskRow> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let task = own(conn, viewer, id).await?;
        if !matches!(task.status.as_str(), "DRAFT" | "OPEN") {
            return Err(AppError::Conflict(format!(
                "A {} task cannot be cancelled.",
                task.status
            )));
        }
        let cancelled = model::set_status(conn, id, &StatusChange::to("CANCELLED")).await?;
        announce(app, conn, &cancelled, Some(&task.status)).await?;
        Ok(cancelled)
    })
    .await
    .inspect(|_| app.bus.kick())
}

/// Whether `viewer` may see `task` of `poster`.
pub fn visible(task: &TaskRow, poster: &UserRow, viewer: Option<&UserRow>) -> bool {
    let privileged = viewer.is_some_and(|v| v.id == task.poster_id || v.is_admin);
    privileged || (task.status != "DRAFT" && !poster.is_banned())
}

pub async fn get(app: &AppState, viewer: Option<&UserRow>, id: Uuid) -> AppResult<Option<(TaskRow, UserRow)>> {
    let mut conn = app.db.conn().await?;
    Ok(model::find_with_poster(&mut conn, id)
        .await?
        .filter(|(t, p)| visible(t, p, viewer)))
}

pub async fn list(
    app: &AppState,
    filter: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    size: usize,
) -> AppResult<(Vec<(TaskRow, UserRow)>, bool)> {
    let mut conn = app.db.conn().await?;
    let rows = model::page(&mut conn, filter, after, size as i64 + 1).await?;
    let (rows, more) = crate::db::page::split_page(rows, size);
    Ok((rows, more))
}

pub async fn count(app: &AppState, filter: &Filter) -> AppResult<i64> {
    let mut conn = app.db.conn().await?;
    Ok(model::count(&mut conn, filter).await?)
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
    let task = conn
        .transaction::<_, AppError, _>(async |conn| {
            let task = own(conn, viewer, task_id).await?;
            if task.status != "OPEN" {
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
        .await?;
    app.bus.kick();
    Ok(task)
}

/// Kind of the event on `taskUpdated` topics.
pub const TASK_UPDATED: &str = "TASK_UPDATED";
/// Kind of the event on nearby-cell topics.
pub const TASK_POSTED: &str = "TASK_POSTED";
/// Offline freelancers told of a nearby task: at most this many, nearest first…
const NEARBY_NOTIFY_MAX: i64 = 50;
/// …within their travel radius, capped here (and 5 km when they set none).
pub const NEARBY_NOTIFY_RADIUS_MAX_M: f64 = 50_000.0;
/// Nearby search: the largest radius, and the cells a search may scan.
pub const NEARBY_RADIUS_MAX_M: f64 = 50_000.0;
const SEARCH_CELLS_MAX: usize = 32;
/// Expiry claims this many overdue tasks per transaction.
const EXPIRY_BATCH: i64 = 200;

/// What `taskUpdated` and `nearbyTaskPosted` subscribers receive.
#[derive(Debug, Serialize, Deserialize)]
pub struct TaskEvent {
    pub task: Arc<TaskRow>,
    /// The status before the change; `None` for a new task.
    pub from: Option<String>,
}

/// Tells watchers of `task` about its new state (in the caller's transaction). A task that
/// has just become OPEN (posted, published or reopened) with a location is also announced on
/// the cells around its public point, and the available freelancers in range who are not
/// connected get a TASK_NEARBY notification.
pub async fn announce(
    app: &AppState,
    conn: &mut AsyncPgConnection,
    task: &TaskRow,
    from: Option<&str>,
) -> AppResult<()> {
    let event = TaskEvent {
        task: Arc::new(task.clone()),
        from: from.map(str::to_owned),
    };
    let announced = task
        .public_point()
        .filter(|_| task.status == "OPEN" && from != Some("OPEN"));
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
pub fn check_circle(lat: f64, lng: f64, radius_m: f64, errors: &mut FieldErrors) {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        errors.add("lat", "must be between -90 and 90");
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        errors.add("lng", "must be between -180 and 180");
    }
    if !radius_m.is_finite() || !(1.0..=NEARBY_RADIUS_MAX_M).contains(&radius_m) {
        errors.add("radiusMeters", format!("must be between 1 and {NEARBY_RADIUS_MAX_M}"));
    }
}

/// A task found by a nearby search, with its distance from the centre.
pub struct Nearby {
    pub task: TaskRow,
    pub poster: UserRow,
    /// Metres from the centre to the public point, by the `geo` crate's haversine.
    pub distance_m: f64,
    /// The distance PostgreSQL ordered by (the page cursor).
    pub order_key: f64,
}

/// One page of OPEN tasks within `radius_m` of (`lat`, `lng`), nearest first. Starts with
/// a small circle and widens it (×4) until the page is full or the radius reached, so a
/// dense city costs what the nearest tasks cost, not all tasks in the radius.
pub async fn nearby(
    app: &AppState,
    filter: &Filter,
    (lat, lng, radius_m): (f64, f64, f64),
    after: Option<(f64, Uuid)>,
    size: usize,
) -> AppResult<(Vec<Nearby>, bool)> {
    let mut conn = app.db.conn().await?;
    let mut reach = (after.map_or(0.0, |(d, _)| d) + 1_000.0).min(radius_m);
    let rows = loop {
        let rows = model::nearby(&mut conn, filter, &search_area(lat, lng, reach), after, size as i64 + 1).await?;
        if rows.len() > size || reach >= radius_m {
            break rows;
        }
        reach = (reach * 4.0).min(radius_m);
    };
    let found: Vec<Nearby> = rows
        .into_iter()
        .filter_map(|(task, poster, order_key)| {
            let distance_m = geocell::distance_m((lat, lng), task.public_point()?);
            (distance_m <= radius_m).then_some(Nearby {
                task,
                poster,
                distance_m,
                order_key: order_key.unwrap_or(distance_m),
            })
        })
        .collect();
    Ok(crate::db::page::split_page(found, size))
}

/// How many OPEN tasks lie within the circle.
pub async fn nearby_count(app: &AppState, filter: &Filter, (lat, lng, radius_m): (f64, f64, f64)) -> AppResult<i64> {
    let mut conn = app.db.conn().await?;
    Ok(model::nearby_count(&mut conn, filter, &search_area(lat, lng, radius_m)).await?)
}

/// The circle a search scans, with the cells covering it.
pub fn search_area(lat: f64, lng: f64, radius_m: f64) -> Around {
    Around {
        lat,
        lng,
        radius_m,
        cells: geocell::covering(lat, lng, radius_m, 1..=9, SEARCH_CELLS_MAX).cells,
    }
}

/// Expires OPEN first-accept tasks past their deadline, telling watchers and posters.
/// Safe with several instances (each claims its tasks with `SKIP LOCKED`); returns how many.
pub async fn expire_overdue(app: &AppState) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let mut conn = app.jobs_db.conn().await?;
        let expired = conn
            .transaction::<_, AppError, _>(async |conn| {
                let due = model::lock_overdue(conn, EXPIRY_BATCH).await?;
                for task in &due {
                    let expired = model::set_status(conn, task.id, &StatusChange::to("EXPIRED")).await?;
                    announce(app, conn, &expired, Some("OPEN")).await?;
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
                Ok(due.len())
            })
            .await?;
        if expired > 0 {
            app.bus.kick();
        }
        total += expired;
        if (expired as i64) < EXPIRY_BATCH {
            return Ok(total);
        }
    }
}

/// Gives tasks written before public points existed theirs, and users their geohash (run at
/// start-up; idempotent).
pub async fn backfill_public_points(app: &AppState) -> AppResult<usize> {
    let mut total = 0;
    loop {
        let mut conn = app.jobs_db.conn().await?;
        let users = profile::model::unhashed_locations(&mut conn, 500).await?;
        for &(id, lat, lng) in &users {
            if let Some(cell) = geocell::cell_of(lat, lng, geocell::POINT_PRECISION) {
                profile::model::set_geohash(&mut conn, id, &cell).await?;
            }
        }
        total += users.len();
        if users.len() < 500 {
            break;
        }
    }
    loop {
        let mut conn = app.jobs_db.conn().await?;
        let placed = conn
            .transaction::<_, AppError, _>(async |conn| {
                let rows = model::lock_unplaced(conn, 500).await?;
                for task in &rows {
                    let (Some(lat), Some(lng)) = (task.latitude, task.longitude) else {
                        continue;
                    };
                    let public = geocell::fuzz(task.id, lat, lng);
                    if let Some(cell) = geocell::cell_of(public.0, public.1, geocell::POINT_PRECISION) {
                        model::set_place(conn, task.id, public, &cell).await?;
                    }
                }
                Ok(rows.len())
            })
            .await?;
        total += placed;
        if placed < 500 {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TaskInput {
        TaskInput {
            title: "Build a Shopify app for us".into(),
            description: "We need an app that syncs inventory with our warehouse system every hour.".into(),
            category: String::new(),
            skills_required: vec!["Shopify".into()],
            ai_tools_preferred: vec![],
            budget_type: "FIXED".into(),
            budget_min_cents: 200_000,
            budget_max_cents: 400_000,
            currency: "usd".into(),
            duration: "ONE_TO_FOUR_WEEKS".into(),
            location_type: "REMOTE".into(),
            address: None,
            location: None,
            milestones: vec![],
            nda_required: false,
            ip_transfer: true,
            template_key: Some("SHOPIFY_APP".into()),
            mode: "STANDARD".into(),
            acceptance_deadline: None,
        }
    }

    #[test]
    fn templates_prefill_milestones_from_the_budget() {
        let mut errors = FieldErrors::new();
        let fields = validate(input(), &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(fields.category, "development");
        let milestones: Vec<Milestone> = serde_json::from_value(fields.milestone_plan).unwrap();
        assert_eq!(
            milestones.iter().map(|m| m.amount_cents).collect::<Vec<_>>(),
            [100_000, 200_000, 100_000]
        );
    }

    #[test]
    fn on_site_tasks_need_a_place_and_budgets_must_be_ordered() {
        let mut errors = FieldErrors::new();
        validate(
            TaskInput {
                location_type: "ONSITE".into(),
                budget_max_cents: 100_000,
                ..input()
            },
            &mut errors,
        );
        let fields: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(fields, ["budgetMaxCents", "location"]);
    }
}
