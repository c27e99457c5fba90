//! Applying, withdrawing and reviewing applications.

use chrono::Utc;
use uuid::Uuid;

use super::model::{self, ApplicationRow, ApplicationStatus, Scope};
use crate::{
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    notification::service::{self as notification, Kind},
    profile::model::UserRow,
    state::AppState,
    task::{
        self,
        model::{Milestone, TaskRow, TaskStatus},
    },
    validation,
};

const BULK_MAX: usize = 100;

/// What `applyToTask` takes, unchecked. It mirrors the schema's `ApplyToTaskInput`, whose
/// task is an opaque `ID` the resolver parses; here it is the task's id.
pub struct ApplicationInput {
    /// An OPEN task the freelancer did not post.
    pub task_id: Uuid,
    /// 30 to 10,000 characters.
    pub cover_letter: String,
    /// Minor units of the task's currency, 100 to 10,000,000,000.
    pub proposed_rate_cents: i64,
    /// 2 to 200 characters, e.g. "3 weeks".
    pub proposed_timeline: String,
    /// Up to 10 http(s) URLs.
    pub portfolio_items: Vec<String>,
    /// Up to 20 labels of up to 40 characters.
    pub ai_tools_to_use: Vec<String>,
    /// Up to 20, titles 3 to 120 characters, positive amounts.
    pub milestones: Vec<Milestone>,
    /// Revision rounds included, 0 to 20.
    pub revisions: i32,
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
    app.bus
        .transaction(&mut conn, async |conn| {
            let task = task::model::lock(conn, input.task_id)
                .await?
                .ok_or_else(|| AppError::not_found("Task"))?;
            if task.poster_id == freelancer.id {
                return Err(AppError::Conflict("You cannot apply to your own task.".into()));
            }
            if task.status != TaskStatus::Open {
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
                status: ApplicationStatus::Pending,
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
        .await
}

/// Withdraws the viewer's application.
pub async fn withdraw(app: &AppState, freelancer: &UserRow, id: Uuid) -> AppResult<ApplicationRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction(&mut conn, async |conn| {
            let row = model::lock_many(conn, &[id])
                .await?
                .pop()
                .ok_or_else(|| AppError::not_found("Application"))?;
            if row.freelancer_id != freelancer.id {
                return Err(AppError::not_found("Application"));
            }
            if !row.status.is_open() {
                return Err(AppError::Conflict(format!(
                    "A {} application cannot be withdrawn.",
                    row.status
                )));
            }
            task::model::adjust_applications(conn, row.task_id, -1).await?;
            let mut rows = model::set_status(conn, &[id], ApplicationStatus::Withdrawn).await?;
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
    status: ApplicationStatus,
) -> AppResult<Vec<ApplicationRow>> {
    if ids.is_empty() || ids.len() > BULK_MAX {
        return Err(AppError::field(
            "ids",
            format!("must name 1 to {BULK_MAX} applications"),
        ));
    }
    if !status.poster_may_set() {
        return Err(AppError::field(
            "status",
            "must be PENDING, REVIEWING, SHORTLISTED or REJECTED",
        ));
    }
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction(&mut conn, async |conn| {
            let current = model::lock_many(conn, ids).await?;
            if current.len() != ids.iter().collect::<std::collections::HashSet<_>>().len() {
                return Err(AppError::not_found("Application"));
            }
            let task_ids: Vec<Uuid> = current.iter().map(|a| a.task_id).collect();
            let tasks: Vec<TaskRow> = task::model::find_many(conn, &task_ids).await?;
            if tasks.iter().any(|t| t.poster_id != poster.id) || tasks.is_empty() {
                return Err(AppError::not_found("Application"));
            }
            if let Some(done) = current.iter().find(|a| !a.status.is_open()) {
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
                    &format!("Your application is now {}", status.as_str().to_lowercase()),
                    title,
                    serde_json::json!({ "taskId": row.task_id, "applicationId": row.id, "status": status }),
                )
                .await?;
            }
            Ok(updated)
        })
        .await
}

/// A page of the applications of `scope`, newest first (the cursor is the id).
async fn page(
    app: &AppState,
    scope: Scope,
    status: Option<ApplicationStatus>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<ApplicationRow>> {
    let mut conn = app.db.conn().await?;
    let load =
        async |c: &mut _, before: Option<&Uuid>, limit| model::page(c, scope, status, before.copied(), limit).await;
    Ok(request
        .fetch(&mut conn, load, async |c| model::count(c, scope, status).await)
        .await?)
}

/// A page of the viewer's applications.
pub async fn mine(
    app: &AppState,
    freelancer: Uuid,
    status: Option<ApplicationStatus>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<ApplicationRow>> {
    page(app, Scope::Freelancer(freelancer), status, request).await
}

/// A page of the applications to the viewer's task.
pub async fn of_task(
    app: &AppState,
    poster: &UserRow,
    task_id: Uuid,
    status: Option<ApplicationStatus>,
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
    page(app, Scope::Task(task_id), status, request).await
}

#[cfg(test)]
mod tests {
    use super::ApplicationStatus;

    #[test]
    fn posters_cannot_accept_through_status_changes() {
        assert!(ApplicationStatus::Shortlisted.poster_may_set());
        assert!(ApplicationStatus::Rejected.poster_may_set());
        assert!(!ApplicationStatus::Accepted.poster_may_set());
        assert!(!ApplicationStatus::Withdrawn.poster_may_set());
        assert!(!ApplicationStatus::Rejected.is_open());
    }
}
