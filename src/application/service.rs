//! Applying, withdrawing and reviewing applications.

use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{self, ApplicationRow};
use crate::{
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    notification::service::{self as notification, Kind},
    profile::model::UserRow,
    state::AppState,
    task::{self, model::TaskRow, service::Milestone},
    validation,
};

const BULK_MAX: usize = 100;

/// What `applyToTask` takes.
pub struct ApplicationInput {
    pub task_id: Uuid,
    pub cover_letter: String,
    pub proposed_rate_cents: i64,
    pub proposed_timeline: String,
    pub portfolio_items: Vec<String>,
    pub ai_tools_to_use: Vec<String>,
    pub milestones: Vec<Milestone>,
    pub revisions: i32,
}

/// Statuses the poster may set (ACCEPTED goes through acceptApplication, with orders).
pub fn poster_may_set(status: &str) -> bool {
    matches!(status, "PENDING" | "REVIEWING" | "SHORTLISTED" | "REJECTED")
}

fn is_final(status: &str) -> bool {
    matches!(status, "WITHDRAWN" | "REJECTED" | "ACCEPTED")
}

/// Applies to an OPEN task; the poster is notified.
pub async fn apply(app: &AppState, freelancer: &UserRow, input: ApplicationInput) -> AppResult<ApplicationRow> {
    let mut errors = FieldErrors::new();
    let cover_letter = validation::text("coverLetter", &input.cover_letter, 30, 10_000, true, &mut errors);
    let proposed_timeline = validation::text("proposedTimeline", &input.proposed_timeline, 2, 200, false, &mut errors);
    if !(100..=10_000_000_000).contains(&input.proposed_rate_cents) {
        errors.add("proposedRateCents", "must be between 100 and 10000000000");
    }
    let portfolio_items = validation::tags("portfolioItems", input.portfolio_items, 10, 500, &mut errors);
    for item in &portfolio_items {
        if !url::Url::parse(item).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            errors.add("portfolioItems", "each entry must be an http(s) URL");
        }
    }
    if !(0..=20).contains(&input.revisions) {
        errors.add("revisions", "must be between 0 and 20");
    }
    let ai_tools_to_use = validation::tags("aiToolsToUse", input.ai_tools_to_use, 20, 40, &mut errors);
    let mut milestones = input.milestones;
    if milestones.len() > 20 {
        errors.add("milestones", "must have at most 20 entries");
    }
    for (i, m) in milestones.iter_mut().enumerate() {
        m.title = validation::text(&format!("milestones.{i}.title"), &m.title, 3, 120, false, &mut errors);
        if m.amount_cents <= 0 {
            errors.add(format!("milestones.{i}.amountCents"), "must be positive");
        }
    }
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    let row = conn
        .transaction::<_, AppError, _>(async |conn| {
            let task = task::model::lock(conn, input.task_id)
                .await?
                .ok_or_else(|| AppError::not_found("Task"))?;
            if task.poster_id == freelancer.id {
                return Err(AppError::Conflict("You cannot apply to your own task.".into()));
            }
            if task.status != "OPEN" {
                return Err(AppError::Conflict("This task no longer takes applications.".into()));
            }
            let now = Utc::now();
            let row = ApplicationRow {
                id: Uuid::now_v7(),
                task_id: task.id,
                freelancer_id: freelancer.id,
                cover_letter,
                proposed_rate_cents: input.proposed_rate_cents,
                proposed_timeline,
                portfolio_items,
                ai_tools_to_use,
                milestones: serde_json::to_value(&milestones).map_err(AppError::internal)?,
                status: "PENDING".into(),
                created_at: now,
                updated_at: now,
                revisions: input.revisions,
            };
            model::insert(conn, &row)
                .await
                .map_err(|e| match crate::db::unique_violation(&e) {
                    Some(_) => AppError::Conflict("You already applied to this task.".into()),
                    None => AppError::from(e),
                })?;
            task::model::adjust_applications(conn, task.id, 1).await?;
            notification::notify(
                conn,
                task.poster_id,
                Kind::NewApplication,
                &format!("{} applied to your task", freelancer.full_name),
                &task.title,
                serde_json::json!({ "taskId": task.id, "applicationId": row.id }),
            )
            .await?;
            Ok(row)
        })
        .await?;
    app.bus.kick();
    Ok(row)
}

/// Withdraws the viewer's application.
pub async fn withdraw(app: &AppState, freelancer: &UserRow, id: Uuid) -> AppResult<ApplicationRow> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let row = model::lock_many(conn, &[id])
            .await?
            .pop()
            .ok_or_else(|| AppError::not_found("Application"))?;
        if row.freelancer_id != freelancer.id {
            return Err(AppError::not_found("Application"));
        }
        if is_final(&row.status) {
            return Err(AppError::Conflict(format!(
                "A {} application cannot be withdrawn.",
                row.status
            )));
        }
        task::model::adjust_applications(conn, row.task_id, -1).await?;
        let mut rows = model::set_status(conn, &[id], "WITHDRAWN").await?;
        rows.pop().ok_or_else(|| AppError::not_found("Application"))
    })
    .await
}

/// Sets the status of applications to the viewer's tasks, all or none; each applicant is
/// notified.
pub async fn set_status(
    app: &AppState,
    poster: &UserRow,
    ids: &[Uuid],
    status: &str,
) -> AppResult<Vec<ApplicationRow>> {
    if ids.is_empty() || ids.len() > BULK_MAX {
        return Err(AppError::field(
            "ids",
            format!("must name 1 to {BULK_MAX} applications"),
        ));
    }
    if !poster_may_set(status) {
        return Err(AppError::field(
            "status",
            "must be PENDING, REVIEWING, SHORTLISTED or REJECTED",
        ));
    }
    let mut conn = app.db.conn().await?;
    let rows = conn
        .transaction::<_, AppError, _>(async |conn| {
            let current = model::lock_many(conn, ids).await?;
            if current.len() != ids.iter().collect::<std::collections::HashSet<_>>().len() {
                return Err(AppError::not_found("Application"));
            }
            let task_ids: Vec<Uuid> = current.iter().map(|a| a.task_id).collect();
            let tasks: Vec<TaskRow> = task::model::find_many(conn, &task_ids).await?;
            if tasks.iter().any(|t| t.poster_id != poster.id) || tasks.is_empty() {
                return Err(AppError::not_found("Application"));
            }
            if let Some(done) = current.iter().find(|a| is_final(&a.status)) {
                return Err(AppError::Conflict(format!(
                    "Application {} is {} and cannot change.",
                    done.id, done.status
                )));
            }
            let updated = model::set_status(conn, ids, status).await?;
            for row in &updated {
                let title = tasks
                    .iter()
                    .find(|t| t.id == row.task_id)
                    .map(|t| t.title.as_str())
                    .unwrap_or_default();
                notification::notify(
                    conn,
                    row.freelancer_id,
                    Kind::ApplicationStatus,
                    &format!("Your application is now {}", status.to_lowercase()),
                    title,
                    serde_json::json!({ "taskId": row.task_id, "applicationId": row.id, "status": status }),
                )
                .await?;
            }
            Ok(updated)
        })
        .await?;
    app.bus.kick();
    Ok(rows)
}

/// A page of applications (one task's or one freelancer's), newest first.
async fn page(
    app: &AppState,
    task_id: Option<Uuid>,
    freelancer: Option<Uuid>,
    status: Option<&str>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<ApplicationRow>> {
    let mut conn = app.db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, before, limit| model::page(c, task_id, freelancer, status, before.copied(), limit).await,
            async |c| model::count(c, task_id, freelancer, status).await,
        )
        .await?)
}

/// A page of the viewer's applications.
pub async fn mine(
    app: &AppState,
    freelancer: Uuid,
    status: Option<&str>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<ApplicationRow>> {
    page(app, None, Some(freelancer), status, request).await
}

/// A page of the applications to the viewer's task.
pub async fn of_task(
    app: &AppState,
    poster: &UserRow,
    task_id: Uuid,
    status: Option<&str>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<ApplicationRow>> {
    let mut conn = app.db.conn().await?;
    let task = task::model::find(&mut conn, task_id)
        .await?
        .ok_or_else(|| AppError::not_found("Task"))?;
    drop(conn);
    if task.poster_id != poster.id && !poster.is_admin {
        return Err(AppError::Forbidden(
            "Only the task's poster sees its applications.".into(),
        ));
    }
    page(app, Some(task_id), None, status, request).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn posters_cannot_accept_through_status_changes() {
        assert!(super::poster_may_set("SHORTLISTED"));
        assert!(!super::poster_may_set("ACCEPTED"));
        assert!(!super::poster_may_set("WITHDRAWN"));
    }
}
