//! Creating orders and carrying out the state machine's transitions.
//!
//! Every transition runs in one transaction that locks the order row, asks
//! [`machine::decide`] whether the actor may take the action in the current state, checks the
//! rule's guard, moves the money the rule names through the ledger, records the history row,
//! writes the `ORDER_UPDATED` event and the notifications, and commits — or changes nothing.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    codes::{self, Purpose},
    machine::{self, Action, Guard, Money, Refusal, Role, Status},
    model::{
        self, BoardItemRow, ChecklistItem, DeliverableRow, DisputeRow, HistoryRow, MilestoneRow, OrderRow, ProofRow,
    },
};
use crate::{
    admin,
    application::model as applications,
    error::{AppError, AppResult, FieldErrors},
    events::{self, topic},
    gig,
    ledger::service::{self as ledger, OrderMoney},
    message::model::Attachment,
    notification::service::{self as notification, Kind},
    profile::model::{self as profiles, UserRow},
    state::AppState,
    task::{self, service::Milestone},
    validation,
};

/// The event on an order's topic after every transition.
pub const ORDER_UPDATED: &str = "ORDER_UPDATED";

/// What `ORDER_UPDATED` carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order: Arc<OrderRow>,
    pub action: String,
    pub from: Option<String>,
    pub actor_id: Option<Uuid>,
}

const REQUIREMENTS_MAX: usize = 5_000;
const BOARD_MAX: i64 = 100;
const CHECKLIST_MAX: usize = 20;
const LINKS_MAX: usize = 10;
const DELIVERY_FILES_MAX: usize = 5;
/// How far ahead a date may be booked.
const BOOKING_HORIZON_DAYS: i64 = 730;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn check_day(field: &str, day: NaiveDate, errors: &mut FieldErrors) {
    if day < today() {
        errors.add(field, "must not be in the past");
    } else if day > today() + Duration::days(BOOKING_HORIZON_DAYS) {
        errors.add(field, format!("must be within {BOOKING_HORIZON_DAYS} days"));
    }
}

/// What `orderGig` and `requestBooking` take.
pub struct GigOrderInput {
    pub gig_id: Uuid,
    pub tier: String,
    pub requirements: String,
    pub scheduled_for: Option<NaiveDate>,
    pub event_location: Option<String>,
}

/// Orders a package of an ACTIVE gig (`booking`: as a dated request the freelancer must
/// accept first; otherwise straight to PENDING_PAYMENT, with any date blocked at once).
pub async fn order_gig(app: &AppState, client: &UserRow, input: GigOrderInput, booking: bool) -> AppResult<OrderRow> {
    let mut errors = FieldErrors::new();
    let requirements = validation::text(
        "requirements",
        &input.requirements,
        0,
        REQUIREMENTS_MAX,
        true,
        &mut errors,
    );
    let event_location = validation::optional_text("eventLocation", input.event_location, 300, &mut errors);
    let date_field = if booking { "date" } else { "scheduledFor" };
    if let Some(day) = input.scheduled_for {
        check_day(date_field, day, &mut errors);
    } else if booking {
        errors.add("date", "is required");
    }
    errors.into_result()?;

    let mut conn = app.db.conn().await?;
    let order = conn
        .transaction::<_, AppError, _>(async |conn| {
            let (gig, owner) = gig::model::find_with_owner(conn, input.gig_id)
                .await?
                .filter(|(gig, owner)| gig.status == "ACTIVE" && !owner.is_banned())
                .ok_or_else(|| AppError::not_found("Gig"))?;
            if gig.owner_id == client.id {
                return Err(AppError::Conflict("You cannot order your own gig.".into()));
            }
            let package = gig::model::packages_of(conn, &[gig.id])
                .await?
                .into_iter()
                .find(|p| p.tier == input.tier)
                .ok_or_else(|| AppError::field("tier", "this gig has no such package"))?;
            let now = Utc::now();
            let order = OrderRow {
                id: Uuid::now_v7(),
                client_id: client.id,
                freelancer_id: owner.id,
                origin: if booking { "BOOKING" } else { "GIG" }.into(),
                gig_id: Some(gig.id),
                package_tier: Some(package.tier.clone()),
                task_id: None,
                application_id: None,
                title: gig.title.clone(),
                requirements,
                amount_cents: package.price_cents,
                currency: gig.currency.clone(),
                fee_bps: None,
                status: if booking {
                    Status::Requested
                } else {
                    Status::PendingPayment
                }
                .as_str()
                .into(),
                revision_limit: package.revisions,
                revisions_used: 0,
                on_site: event_location.is_some(),
                scheduled_for: input.scheduled_for,
                event_location,
                due_at: Some(now + Duration::days(i64::from(package.delivery_days))),
                funded_at: None,
                settled_at: None,
                cleared_at: None,
                created_at: now,
                updated_at: now,
            };
            let milestone = MilestoneRow {
                id: Uuid::now_v7(),
                order_id: order.id,
                position: 0,
                title: package.title.clone(),
                amount_cents: package.price_cents,
                due_at: order.due_at,
                checklist: serde_json::json!([]),
            };
            model::insert(conn, &order, &[milestone]).await?;
            // A request only needs the day free now (acceptance books it); a direct order
            // books it at once.
            if let Some(day) = order.scheduled_for {
                let free = if booking {
                    !crate::calendar::model::day_taken(conn, owner.id, day).await?
                } else {
                    model::book_day(conn, owner.id, day, order.id).await?
                };
                if !free {
                    return Err(AppError::Conflict(format!(
                        "{} is not available on {day}.",
                        owner.full_name
                    )));
                }
            }
            created(
                conn,
                &order,
                client,
                Role::Client,
                if booking { "requested a booking" } else { "ordered" },
            )
            .await?;
            Ok(order)
        })
        .await?;
    app.bus.kick();
    Ok(order)
}

/// Accepts an application to the viewer's OPEN task: the order is created, the task is
/// ASSIGNED, and the other open applications are turned down (their authors are told).
pub async fn accept_application(app: &AppState, poster: &UserRow, application_id: Uuid) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    let order = conn
        .transaction::<_, AppError, _>(async |conn| {
            let application = applications::lock_many(conn, &[application_id])
                .await?
                .pop()
                .ok_or_else(|| AppError::not_found("Application"))?;
            let task = task::model::lock(conn, application.task_id)
                .await?
                .ok_or_else(|| AppError::not_found("Application"))?;
            if task.poster_id != poster.id {
                return Err(AppError::not_found("Application"));
            }
            if task.status != "OPEN" {
                return Err(AppError::Conflict(format!(
                    "The task is {} and cannot be assigned.",
                    task.status
                )));
            }
            if !matches!(application.status.as_str(), "PENDING" | "REVIEWING" | "SHORTLISTED") {
                return Err(AppError::Conflict(format!(
                    "A {} application cannot be accepted.",
                    application.status
                )));
            }
            let planned: Vec<Milestone> = serde_json::from_value(application.milestones.clone()).unwrap_or_default();
            let (order, milestones) = task_order(
                &task,
                application.freelancer_id,
                Some(application.id),
                &planned,
                application.proposed_rate_cents,
                application.revisions,
            );
            model::insert(conn, &order, &milestones).await?;
            applications::set_status(conn, &[application.id], "ACCEPTED").await?;
            let others: Vec<Uuid> = applications::open_of_task(conn, task.id)
                .await?
                .into_iter()
                .filter(|id| *id != application.id)
                .collect();
            for rejected in applications::set_status(conn, &others, "REJECTED").await? {
                notification::notify(
                    conn,
                    rejected.freelancer_id,
                    Kind::ApplicationStatus,
                    "The task was assigned to someone else",
                    &task.title,
                    serde_json::json!({ "taskId": task.id, "applicationId": rejected.id, "status": "REJECTED" }),
                )
                .await?;
            }
            let assigned = task::model::set_status(
                conn,
                task.id,
                &task::model::StatusChange {
                    assignee_id: Some(Some(application.freelancer_id)),
                    ..task::model::StatusChange::to("ASSIGNED")
                },
            )
            .await?;
            task::service::announce(app, conn, &assigned, Some(&task.status)).await?;
            created(conn, &order, poster, Role::Client, "accepted your application for").await?;
            Ok(order)
        })
        .await?;
    app.bus.kick();
    Ok(order)
}

/// The order (PENDING_PAYMENT) and milestones for `freelancer` taking `task`: the planned
/// milestones, or one milestone of `amount_cents` when there is no plan.
fn task_order(
    task: &task::model::TaskRow,
    freelancer: Uuid,
    application_id: Option<Uuid>,
    planned: &[Milestone],
    amount_cents: i64,
    revision_limit: i32,
) -> (OrderRow, Vec<MilestoneRow>) {
    let now = Utc::now();
    let order_id = Uuid::now_v7();
    let mut milestones: Vec<MilestoneRow> = planned
        .iter()
        .enumerate()
        .map(|(i, m)| MilestoneRow {
            id: Uuid::now_v7(),
            order_id,
            position: i as i32,
            title: m.title.clone(),
            amount_cents: m.amount_cents,
            due_at: Some(now + Duration::days(i64::from(m.due_in_days.max(1)))),
            checklist: serde_json::json!([]),
        })
        .collect();
    if milestones.is_empty() {
        milestones.push(MilestoneRow {
            id: Uuid::now_v7(),
            order_id,
            position: 0,
            title: task.title.clone(),
            amount_cents,
            due_at: None,
            checklist: serde_json::json!([]),
        });
    }
    let on_site = task.location_type == "ONSITE" || task.mode == "IMMEDIATE";
    let order = OrderRow {
        id: order_id,
        client_id: task.poster_id,
        freelancer_id: freelancer,
        origin: if application_id.is_some() {
            "APPLICATION"
        } else {
            "TASK"
        }
        .into(),
        gig_id: None,
        package_tier: None,
        task_id: Some(task.id),
        application_id,
        title: task.title.clone(),
        requirements: task.description.chars().take(REQUIREMENTS_MAX).collect(),
        amount_cents: milestones.iter().map(|m| m.amount_cents).sum(),
        currency: task.currency.clone(),
        fee_bps: None,
        status: Status::PendingPayment.as_str().into(),
        revision_limit,
        revisions_used: 0,
        on_site,
        scheduled_for: None,
        event_location: if on_site { task.address.clone() } else { None },
        due_at: milestones.iter().filter_map(|m| m.due_at).max(),
        funded_at: None,
        settled_at: None,
        cleared_at: None,
        created_at: now,
        updated_at: now,
    };
    (order, milestones)
}

/// Revisions included when a first-accept task becomes an order.
const TASK_REVISIONS: i32 = 2;

/// Takes an OPEN first-accept (IMMEDIATE) task for `freelancer`. Of any number of concurrent
/// callers exactly one wins: the task is claimed by one conditional UPDATE (the others wait
/// for its row lock, then find it taken and get `CONFLICT`), and the order (PENDING_PAYMENT,
/// at the task's maximum budget) is created in the same transaction.
pub async fn accept_task(app: &AppState, freelancer: &UserRow, task_id: Uuid) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    let order = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(task) = task::model::take_immediate(conn, task_id, freelancer.id).await? else {
                return Err(why_not_taken(conn, freelancer, task_id).await);
            };
            if task.poster_id == freelancer.id {
                return Err(AppError::Forbidden("You cannot accept your own task.".into()));
            }
            profiles::find(conn, task.poster_id)
                .await?
                .filter(|p| !p.is_banned())
                .ok_or_else(|| AppError::not_found("Task"))?;
            let planned: Vec<Milestone> = serde_json::from_value(task.milestone_plan.clone()).unwrap_or_default();
            let (order, milestones) = task_order(
                &task,
                freelancer.id,
                None,
                &planned,
                task.budget_max_cents,
                TASK_REVISIONS,
            );
            model::insert(conn, &order, &milestones).await?;
            task::service::announce(app, conn, &task, Some("OPEN")).await?;
            created(conn, &order, freelancer, Role::Freelancer, "accepted").await?;
            Ok(order)
        })
        .await?;
    app.bus.kick();
    Ok(order)
}

/// Why `take_immediate` found nothing to take: NOT_FOUND for tasks the freelancer may not
/// see, CONFLICT otherwise (taken, expired, not first-accept).
async fn why_not_taken(conn: &mut AsyncPgConnection, freelancer: &UserRow, task_id: Uuid) -> AppError {
    let found = match task::model::find_with_poster(conn, task_id).await {
        Ok(found) => found,
        Err(e) => return e.into(),
    };
    let Some((task, _)) = found.filter(|(t, p)| task::service::visible(t, p, Some(freelancer))) else {
        return AppError::not_found("Task");
    };
    if task.poster_id == freelancer.id {
        return AppError::Forbidden("You cannot accept your own task.".into());
    }
    AppError::Conflict(match (task.mode.as_str(), task.status.as_str()) {
        ("IMMEDIATE", "OPEN") => "The task's acceptance deadline has passed.".into(),
        ("IMMEDIATE", "ASSIGNED" | "IN_PROGRESS" | "COMPLETED") => "Someone else accepted this task first.".into(),
        ("IMMEDIATE", status) => format!("The task is {status} and cannot be accepted."),
        _ => "Only IMMEDIATE tasks are accepted directly; apply to this one.".into(),
    })
}

/// The first history row, the event and the other party's notification of a new order
/// that `actor` (in `role`) made.
async fn created(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    actor: &UserRow,
    role: Role,
    verb: &str,
) -> AppResult<()> {
    model::insert_history(
        conn,
        &HistoryRow {
            id: Uuid::now_v7(),
            order_id: order.id,
            action: "CREATE".into(),
            from_status: None,
            to_status: order.status.clone(),
            actor_id: Some(actor.id),
            actor_role: role.as_str().into(),
            note: None,
            created_at: order.created_at,
        },
    )
    .await?;
    publish(conn, order, "CREATE", None, Some(actor.id)).await?;
    let recipient = if role == Role::Client {
        order.freelancer_id
    } else {
        order.client_id
    };
    notification::notify(
        conn,
        recipient,
        Kind::OrderStatus,
        &format!("{} {verb} \"{}\"", actor.full_name, order.title),
        &format!("Order status: {}", order.status),
        serde_json::json!({ "orderId": order.id, "taskId": order.task_id, "status": order.status }),
    )
    .await?;
    Ok(())
}

async fn publish(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    action: &str,
    from: Option<&str>,
    actor_id: Option<Uuid>,
) -> AppResult<()> {
    events::emit(
        conn,
        &topic::order(order.id),
        ORDER_UPDATED,
        &OrderEvent {
            order: Arc::new(order.clone()),
            action: action.to_owned(),
            from: from.map(str::to_owned),
            actor_id,
        },
    )
    .await?;
    Ok(())
}

/// The roles `user` plays on `order` (none: the order is not theirs to see).
pub fn roles_of(order: &OrderRow, user: &UserRow) -> Vec<Role> {
    let mut roles = Vec::with_capacity(2);
    if order.client_id == user.id {
        roles.push(Role::Client);
    }
    if order.freelancer_id == user.id {
        roles.push(Role::Freelancer);
    }
    if user.is_admin {
        roles.push(Role::Admin);
    }
    roles
}

/// A manual payment proof.
pub struct ProofInput {
    pub reference: String,
    pub payer_name: String,
    pub amount_cents: i64,
}

/// A delivery: message, links and files (already read).
pub struct DeliveryInput {
    pub message: String,
    pub links: Vec<String>,
    pub files: Vec<crate::message::service::NewAttachment>,
}

/// An action with what it carries.
pub enum Act {
    Accept,
    Decline { reason: Option<String> },
    SubmitPaymentProof(ProofInput),
    ConfirmPayment,
    RejectPaymentProof { reason: Option<String> },
    StartWork { code: Option<String> },
    SubmitWork(DeliveryInput),
    RequestRevision { note: String },
    ApproveWork { code: Option<String> },
    Cancel { reason: Option<String> },
    OpenDispute { reason: String },
    Override { status: Status, reason: String },
}

impl Act {
    fn action(&self) -> AppResult<Action> {
        Ok(match self {
            Act::Accept => Action::Accept,
            Act::Decline { .. } => Action::Decline,
            Act::SubmitPaymentProof(_) => Action::SubmitPaymentProof,
            Act::ConfirmPayment => Action::ConfirmPayment,
            Act::RejectPaymentProof { .. } => Action::RejectPaymentProof,
            Act::StartWork { .. } => Action::StartWork,
            Act::SubmitWork(_) => Action::SubmitWork,
            Act::RequestRevision { .. } => Action::RequestRevision,
            Act::ApproveWork { .. } => Action::ApproveWork,
            Act::Cancel { .. } => Action::Cancel,
            Act::OpenDispute { .. } => Action::OpenDispute,
            Act::Override {
                status: Status::Completed,
                ..
            } => Action::ForceComplete,
            Act::Override {
                status: Status::Cancelled,
                ..
            } => Action::ForceCancel,
            Act::Override { .. } => return Err(AppError::field("status", "must be COMPLETED or CANCELLED")),
        })
    }

    /// The note recorded in the history.
    fn note(&self) -> Option<String> {
        match self {
            Act::Decline { reason } | Act::RejectPaymentProof { reason } | Act::Cancel { reason } => reason.clone(),
            Act::RequestRevision { note } => Some(note.clone()),
            Act::OpenDispute { reason } | Act::Override { reason, .. } => Some(reason.clone()),
            _ => None,
        }
    }
}

/// What the act carries, checked and made ready before the transaction starts.
enum Prepared {
    None,
    Proof(ProofInput),
    Delivery {
        message: String,
        links: Vec<String>,
        attachments: Vec<Attachment>,
    },
}

async fn prepare(app: &AppState, act: &mut Act) -> AppResult<Prepared> {
    let mut errors = FieldErrors::new();
    let field = match act {
        Act::RequestRevision { .. } => "note",
        _ => "reason",
    };
    match act {
        Act::Decline { reason } | Act::RejectPaymentProof { reason } | Act::Cancel { reason } => {
            *reason = validation::optional_text(field, reason.take(), 1_000, &mut errors);
        }
        Act::RequestRevision { note: text }
        | Act::OpenDispute { reason: text }
        | Act::Override { reason: text, .. } => {
            *text = validation::text(field, text, 3, 2_000, true, &mut errors);
        }
        _ => {}
    }
    let prepared = match act {
        Act::SubmitPaymentProof(proof) => {
            let reference = validation::text("reference", &proof.reference, 3, 200, false, &mut errors);
            let payer_name = validation::text("payerName", &proof.payer_name, 2, 200, false, &mut errors);
            if proof.amount_cents <= 0 {
                errors.add("amountCents", "must be positive");
            }
            Prepared::Proof(ProofInput {
                reference,
                payer_name,
                amount_cents: proof.amount_cents,
            })
        }
        Act::SubmitWork(delivery) => {
            let message = validation::text("message", &delivery.message, 1, 5_000, true, &mut errors);
            let links = validation::tags(
                "links",
                std::mem::take(&mut delivery.links),
                LINKS_MAX,
                500,
                &mut errors,
            );
            if links
                .iter()
                .any(|l| !url::Url::parse(l).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
            {
                errors.add("links", "each entry must be an http(s) URL");
            }
            if delivery.files.len() > DELIVERY_FILES_MAX {
                errors.add("files", format!("must be at most {DELIVERY_FILES_MAX} files"));
            }
            let max_bytes = app.config.limits.upload_max_bytes;
            let mut sniffed = Vec::new();
            for file in &delivery.files {
                match crate::storage::sniff_document(&file.bytes) {
                    _ if file.bytes.len() > max_bytes => {
                        errors.add("files", format!("each file must be at most {max_bytes} bytes"))
                    }
                    _ if file.bytes.is_empty() => errors.add("files", "must not contain empty files"),
                    None => errors.add("files", "may be images, PDF, ZIP or plain text"),
                    Some(kind) => sniffed.push(kind),
                }
            }
            errors.into_result()?;
            let mut attachments = Vec::with_capacity(sniffed.len());
            for (file, (content_type, ext)) in std::mem::take(&mut delivery.files).into_iter().zip(sniffed) {
                let size = file.bytes.len() as i64;
                let stored = app
                    .storage
                    .put("deliverables", ext, file.bytes)
                    .await
                    .map_err(AppError::internal)?;
                attachments.push(Attachment {
                    url: stored.url,
                    file_name: crate::message::service::display_name(&file.file_name),
                    content_type: content_type.to_owned(),
                    size_bytes: size,
                });
            }
            return Ok(Prepared::Delivery {
                message,
                links,
                attachments,
            });
        }
        _ => Prepared::None,
    };
    errors.into_result()?;
    Ok(prepared)
}

fn refusal(refusal: Refusal, action: Action, status: Status) -> AppError {
    match refusal {
        Refusal::Forbidden => AppError::Forbidden(format!(
            "You may not {} this order.",
            action.as_str().to_lowercase().replace('_', " ")
        )),
        Refusal::Conflict => AppError::Conflict(format!(
            "An order that is {} cannot {}.",
            status.as_str(),
            action.as_str().to_lowercase().replace('_', " ")
        )),
    }
}

/// Checks a start or end code in a transaction of its own, so that a wrong attempt is
/// counted even though the action is refused. The code is spent by the action's transaction.
async fn check_code(app: &AppState, order_id: Uuid, purpose: Purpose, code: Option<&str>) -> AppResult<()> {
    let field = "code";
    let code = code
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AppError::field(field, "is required: ask the client for the code"))?;
    let key = codes::key(&app.config.jwt_secret);
    let mut conn = app.db.conn().await?;
    let outcome = conn
        .transaction::<_, AppError, _>(async |conn| {
            let Some(stored) = model::lock_code(conn, order_id, purpose.as_str()).await? else {
                return Ok(Err("no code has been issued; ask the client for one"));
            };
            if stored.used_at.is_some() {
                return Ok(Err("has been used; ask the client for a new one"));
            }
            if stored.expires_at <= Utc::now() {
                return Ok(Err("has expired; ask the client for a new one"));
            }
            if stored.attempts >= codes::MAX_ATTEMPTS {
                return Ok(Err("was entered wrongly too often; ask the client for a new one"));
            }
            if codes::matches(&key, order_id, purpose, code, &stored.code_hash) {
                Ok(Ok(()))
            } else {
                model::count_attempt(conn, order_id, purpose.as_str()).await?;
                Ok(Err("is wrong"))
            }
        })
        .await?;
    outcome.map_err(|message| AppError::field(field, message))
}

/// Takes `act` on the order as `actor`.
pub async fn act(app: &AppState, actor: &UserRow, order_id: Uuid, mut act: Act) -> AppResult<OrderRow> {
    let action = act.action()?;
    // A quick look first: outsiders learn nothing, and payloads (uploads) are only
    // processed for actions that can happen.
    let mut conn = app.db.conn().await?;
    let current = model::find(&mut conn, order_id)
        .await?
        .filter(|o| !roles_of(o, actor).is_empty())
        .ok_or_else(|| AppError::not_found("Order"))?;
    drop(conn);
    let status = Status::parse(&current.status).ok_or_else(|| AppError::internal(anyhow::anyhow!("bad status")))?;
    let roles = roles_of(&current, actor);
    let rule = machine::decide(status, action, &roles).map_err(|r| refusal(r, action, status))?;
    let acting_as_client = roles.contains(&Role::Client);
    // Guards that need a code are checked before the transaction (wrong attempts count).
    let code = match &act {
        Act::StartWork { code } | Act::ApproveWork { code } => code.clone(),
        _ => None,
    };
    let spend_code = match rule.guard {
        Guard::StartCode if current.on_site => Some(Purpose::Start),
        Guard::EndCode if !acting_as_client => {
            if !current.on_site {
                return Err(AppError::Forbidden("Only the client approves the work.".into()));
            }
            Some(Purpose::End)
        }
        _ => None,
    };
    if let Some(purpose) = spend_code {
        check_code(app, order_id, purpose, code.as_deref()).await?;
    }
    let prepared = prepare(app, &mut act).await?;
    let note = act.note();

    let mut conn = app.db.conn().await?;
    let order = conn
        .transaction::<_, AppError, _>(async |conn| {
            let order = model::lock(conn, order_id)
                .await?
                .ok_or_else(|| AppError::not_found("Order"))?;
            // The state may have moved since the quick look: decide again under the lock.
            let from = Status::parse(&order.status).ok_or_else(|| AppError::internal(anyhow::anyhow!("bad status")))?;
            let rule = machine::decide(from, action, &roles).map_err(|r| refusal(r, action, from))?;
            let role = rule
                .by
                .iter()
                .copied()
                .find(|r| roles.contains(r))
                .ok_or_else(|| refusal(Refusal::Forbidden, action, from))?;
            if rule.guard == Guard::RevisionLimit && order.revisions_used >= order.revision_limit {
                return Err(AppError::LimitExceeded(format!(
                    "This order includes {} revision(s) and all have been used.",
                    order.revision_limit
                )));
            }
            if let Some(purpose) = spend_code {
                if !model::spend_code(conn, order.id, purpose.as_str()).await? {
                    return Err(AppError::field("code", "has been used; ask the client for a new one"));
                }
            }
            let now = Utc::now();
            let mut change = model::Transition {
                status: rule.to.as_str().into(),
                fee_bps: order.fee_bps,
                revisions_used: order.revisions_used,
                funded_at: order.funded_at,
                settled_at: order.settled_at,
                updated_at: now,
            };

            // What the action carries.
            match (&act, &prepared) {
                (Act::SubmitPaymentProof(_), Prepared::Proof(proof)) => {
                    if proof.amount_cents != order.amount_cents {
                        return Err(AppError::field(
                            "amountCents",
                            format!("must be the order amount, {}", order.amount_cents),
                        ));
                    }
                    model::insert_proof(
                        conn,
                        &ProofRow {
                            id: Uuid::now_v7(),
                            order_id: order.id,
                            submitted_by: actor.id,
                            reference: proof.reference.clone(),
                            payer_name: proof.payer_name.clone(),
                            amount_cents: proof.amount_cents,
                            currency: order.currency.clone(),
                            status: "SUBMITTED".into(),
                            review_note: None,
                            reviewed_by: None,
                            reviewed_at: None,
                            created_at: now,
                        },
                    )
                    .await?;
                }
                (Act::ConfirmPayment, _) => {
                    model::review_proof(conn, order.id, "CONFIRMED", actor.id, None).await?;
                }
                (Act::RejectPaymentProof { reason }, _) => {
                    model::review_proof(conn, order.id, "REJECTED", actor.id, reason.as_deref()).await?;
                }
                (
                    Act::SubmitWork(_),
                    Prepared::Delivery {
                        message,
                        links,
                        attachments,
                    },
                ) => {
                    model::insert_deliverable(
                        conn,
                        &DeliverableRow {
                            id: Uuid::now_v7(),
                            order_id: order.id,
                            author_id: actor.id,
                            message: message.clone(),
                            links: links.clone(),
                            attachments: serde_json::to_value(attachments).map_err(AppError::internal)?,
                            revision: order.revisions_used,
                            created_at: now,
                        },
                    )
                    .await?;
                }
                (Act::RequestRevision { .. }, _) => change.revisions_used += 1,
                (Act::OpenDispute { reason }, _) => {
                    model::insert_dispute(
                        conn,
                        &DisputeRow {
                            id: Uuid::now_v7(),
                            order_id: order.id,
                            opened_by: actor.id,
                            reason: reason.clone(),
                            status: "OPEN".into(),
                            created_at: now,
                            resolved_at: None,
                        },
                    )
                    .await?;
                }
                (Act::Accept, _) => {
                    if let Some(day) = order.scheduled_for {
                        if !model::book_day(conn, order.freelancer_id, day, order.id).await? {
                            return Err(AppError::Conflict(format!("{day} is no longer available.")));
                        }
                    }
                }
                _ => {}
            }
            if matches!(rule.to, Status::Cancelled | Status::Declined) {
                model::free_days_of(conn, order.id).await?;
            }
            if from == Status::Disputed {
                let outcome = if rule.to == Status::Completed {
                    "RESOLVED_FREELANCER"
                } else {
                    "RESOLVED_CLIENT"
                };
                model::resolve_dispute(conn, order.id, outcome).await?;
            }

            // The money the rule names.
            let mut money = OrderMoney {
                order_id: order.id,
                client_id: order.client_id,
                freelancer_id: order.freelancer_id,
                amount_cents: order.amount_cents,
                fee_bps: order.fee_bps.unwrap_or_default(),
            };
            let held = order.funded_at.is_some() && order.settled_at.is_none();
            match rule.money {
                Money::Fund => {
                    let freelancer = profiles::find(conn, order.freelancer_id)
                        .await?
                        .ok_or_else(|| AppError::internal(anyhow::anyhow!("order without freelancer")))?;
                    money.fee_bps = crate::ledger::policy::commission_bps(
                        app.config.verification_commission,
                        freelancer.verification_status,
                        freelancer.commission_bps,
                    );
                    ledger::fund(conn, &money, &order.currency, Some(actor.id)).await?;
                    change.fee_bps = Some(money.fee_bps);
                    change.funded_at = Some(now);
                }
                Money::Release if held => {
                    ledger::release(conn, &money, &order.currency, Some(actor.id)).await?;
                    change.settled_at = Some(now);
                }
                Money::Refund if held => {
                    ledger::refund(conn, &money, &order.currency, Some(actor.id)).await?;
                    change.settled_at = Some(now);
                }
                Money::None | Money::Release | Money::Refund => {}
            }

            let updated = model::apply(conn, order.id, &change).await?;
            model::insert_history(
                conn,
                &HistoryRow {
                    id: Uuid::now_v7(),
                    order_id: order.id,
                    action: action.as_str().into(),
                    from_status: Some(from.as_str().into()),
                    to_status: updated.status.clone(),
                    actor_id: Some(actor.id),
                    actor_role: role.as_str().into(),
                    note: note.clone(),
                    created_at: now,
                },
            )
            .await?;
            follow_task(app, conn, &updated, action).await?;
            publish(conn, &updated, action.as_str(), Some(from.as_str()), Some(actor.id)).await?;
            notify_parties(conn, &updated, actor, action).await?;
            if role == Role::Admin {
                admin::model::record(
                    conn,
                    actor.id,
                    &format!("order.{}", action.as_str().to_lowercase()),
                    "ORDER",
                    order.id,
                    note.as_deref().unwrap_or(""),
                    serde_json::json!({ "from": from.as_str(), "to": updated.status }),
                )
                .await?;
            }
            Ok(updated)
        })
        .await?;
    app.bus.kick();
    Ok(order)
}

/// Keeps a task in step with the order made from it. An order called off before completion
/// puts the task back to OPEN (announced to nearby freelancers again) — or EXPIRED, for a
/// first-accept task whose deadline has passed meanwhile.
async fn follow_task(app: &AppState, conn: &mut AsyncPgConnection, order: &OrderRow, action: Action) -> AppResult<()> {
    let Some(task_id) = order.task_id else {
        return Ok(());
    };
    let Some(task) = task::model::lock(conn, task_id).await? else {
        return Ok(());
    };
    let change = match (Status::parse(&order.status), action) {
        (_, Action::StartWork) => task::model::StatusChange::to("IN_PROGRESS"),
        (Some(Status::Completed), _) => task::model::StatusChange::to("COMPLETED"),
        (Some(Status::Cancelled | Status::Declined), _) => {
            let lapsed = task.mode == "IMMEDIATE" && task.acceptance_deadline.is_none_or(|d| d <= Utc::now());
            task::model::StatusChange {
                assignee_id: Some(None),
                ..task::model::StatusChange::to(if lapsed { "EXPIRED" } else { "OPEN" })
            }
        }
        _ => return Ok(()),
    };
    if change.status == task.status {
        return Ok(());
    }
    let updated = task::model::set_status(conn, task_id, &change).await?;
    task::service::announce(app, conn, &updated, Some(&task.status)).await?;
    Ok(())
}

/// Tells the parties other than the actor what happened.
async fn notify_parties(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    actor: &UserRow,
    action: Action,
) -> AppResult<()> {
    let kind = match action {
        Action::SubmitPaymentProof | Action::ConfirmPayment | Action::RejectPaymentProof => Kind::Payment,
        Action::OpenDispute => Kind::Dispute,
        _ => Kind::OrderStatus,
    };
    let human = order.status.to_lowercase().replace('_', " ");
    for party in [order.client_id, order.freelancer_id] {
        if party == actor.id {
            continue;
        }
        notification::notify(
            conn,
            party,
            kind,
            &format!("\"{}\" is now {human}", order.title),
            &format!(
                "{} did: {}",
                actor.full_name,
                action.as_str().to_lowercase().replace('_', " ")
            ),
            serde_json::json!({ "orderId": order.id, "status": order.status, "action": action.as_str() }),
        )
        .await?;
    }
    Ok(())
}

/// An order the viewer may see (a party or an admin); `NOT_FOUND` otherwise.
pub async fn visible(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    model::find(&mut conn, id)
        .await?
        .filter(|o| !roles_of(o, viewer).is_empty())
        .ok_or_else(|| AppError::not_found("Order"))
}

/// A page of the viewer's orders, whether more follow, and the total when asked for.
pub struct Page {
    pub rows: Vec<OrderRow>,
    pub more: bool,
    pub total: Option<i64>,
}

pub async fn mine(
    app: &AppState,
    viewer: Uuid,
    side: model::Side,
    status: Option<&str>,
    before: Option<Uuid>,
    size: usize,
    with_total: bool,
) -> AppResult<Page> {
    let mut conn = app.db.conn().await?;
    let rows = model::page(&mut conn, viewer, side, status, before, size as i64 + 1).await?;
    let (rows, more) = crate::graphql::pagination::split_page(rows, size);
    let total = if with_total {
        Some(model::count(&mut conn, viewer, side, status).await?)
    } else {
        None
    };
    Ok(Page { rows, more, total })
}

/// Issues a fresh start or end code of an on-site order to its client; returns the code
/// (shown once) and when it expires.
pub async fn issue_code(
    app: &AppState,
    client: &UserRow,
    order_id: Uuid,
    purpose: Purpose,
) -> AppResult<(String, chrono::DateTime<Utc>)> {
    let order = visible(app, client, order_id).await?;
    if order.client_id != client.id {
        return Err(AppError::Forbidden("Only the client holds the order's codes.".into()));
    }
    if !order.on_site {
        return Err(AppError::Conflict(
            "Only on-site orders use start and end codes.".into(),
        ));
    }
    let due = match purpose {
        Purpose::Start => order.status == Status::PaymentConfirmed.as_str(),
        Purpose::End => matches!(
            order.status.as_str(),
            "IN_PROGRESS" | "SUBMITTED" | "REVISION_REQUESTED"
        ),
    };
    if !due {
        return Err(AppError::Conflict(format!(
            "A {} code is not needed while the order is {}.",
            purpose.as_str().to_lowercase(),
            order.status
        )));
    }
    let key = codes::key(&app.config.jwt_secret);
    let (code, hash) = codes::generate(&key, order.id, purpose);
    let now = Utc::now();
    let expires_at = codes::expiry(now);
    let mut conn = app.db.conn().await?;
    model::put_code(
        &mut conn,
        &model::CodeRow {
            order_id: order.id,
            purpose: purpose.as_str().into(),
            code_hash: hash,
            expires_at,
            attempts: 0,
            used_at: None,
            created_at: now,
        },
    )
    .await?;
    Ok((code, expires_at))
}

/// Checks that the viewer is a party of a live (not final) order and returns it.
async fn party_of_open_order(conn: &mut AsyncPgConnection, viewer: &UserRow, order_id: Uuid) -> AppResult<OrderRow> {
    let order = model::find(conn, order_id)
        .await?
        .filter(|o| !roles_of(o, viewer).is_empty())
        .ok_or_else(|| AppError::not_found("Order"))?;
    if !order.is_party(viewer.id) {
        return Err(AppError::Forbidden("Only the order's parties work on it.".into()));
    }
    if Status::parse(&order.status).is_none_or(Status::is_final) {
        return Err(AppError::Conflict(format!("The order is {}.", order.status)));
    }
    Ok(order)
}

/// Adds an item to the order's board (TODO).
pub async fn add_board_item(app: &AppState, viewer: &UserRow, order_id: Uuid, title: &str) -> AppResult<BoardItemRow> {
    let mut errors = FieldErrors::new();
    let title = validation::text("title", title, 1, 200, false, &mut errors);
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        // Serialises additions to one order so the cap holds.
        let order = model::lock(conn, order_id)
            .await?
            .ok_or_else(|| AppError::not_found("Order"))?;
        party_of_open_order(conn, viewer, order.id).await?;
        if model::board_count(conn, order.id).await? >= BOARD_MAX {
            return Err(AppError::LimitExceeded(format!(
                "A board holds at most {BOARD_MAX} items."
            )));
        }
        let now = Utc::now();
        let row = BoardItemRow {
            id: Uuid::now_v7(),
            order_id: order.id,
            title,
            status: "TODO".into(),
            created_by: viewer.id,
            created_at: now,
            updated_at: now,
        };
        model::insert_board_item(conn, &row).await?;
        Ok(row)
    })
    .await
}

/// Checks that the viewer works on the order of board item `id`.
async fn own_board_item(conn: &mut AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<()> {
    let item = model::find_board_item(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Board item"))?;
    match party_of_open_order(conn, viewer, item.order_id).await {
        Err(AppError::NotFound(_)) => Err(AppError::not_found("Board item")),
        other => other.map(drop),
    }
}

/// Moves a board item to TODO, DOING or DONE.
pub async fn move_board_item(app: &AppState, viewer: &UserRow, id: Uuid, status: &str) -> AppResult<BoardItemRow> {
    let mut conn = app.db.conn().await?;
    own_board_item(&mut conn, viewer, id).await?;
    Ok(model::set_board_item_status(&mut conn, id, status).await?)
}

/// Removes a board item; returns its id.
pub async fn delete_board_item(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<Uuid> {
    let mut conn = app.db.conn().await?;
    own_board_item(&mut conn, viewer, id).await?;
    model::delete_board_item(&mut conn, id).await?;
    Ok(id)
}

/// Replaces a milestone's definition-of-done checklist (items and their ticks).
pub async fn set_checklist(
    app: &AppState,
    viewer: &UserRow,
    milestone_id: Uuid,
    items: Vec<ChecklistItem>,
) -> AppResult<MilestoneRow> {
    let mut errors = FieldErrors::new();
    if items.len() > CHECKLIST_MAX {
        errors.add("items", format!("must have at most {CHECKLIST_MAX} entries"));
    }
    let items: Vec<ChecklistItem> = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| ChecklistItem {
            text: validation::text(&format!("items.{i}.text"), &item.text, 1, 200, false, &mut errors),
            done: item.done,
        })
        .collect();
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let milestone = model::lock_milestone(conn, milestone_id)
            .await?
            .ok_or_else(|| AppError::not_found("Milestone"))?;
        party_of_open_order(conn, viewer, milestone.order_id)
            .await
            .map_err(|e| match e {
                AppError::NotFound(_) => AppError::not_found("Milestone"),
                other => other,
            })?;
        Ok(model::set_checklist(
            conn,
            milestone.id,
            serde_json::to_value(&items).map_err(AppError::internal)?,
        )
        .await?)
    })
    .await
}

/// Moves the earnings of orders completed more than `hold` ago from pending to available.
/// Safe with several instances (rows are claimed with `SKIP LOCKED`); returns how many.
pub async fn clear_earnings(app: &AppState, hold: Duration) -> AppResult<usize> {
    let mut conn = app.jobs_db.conn().await?;
    let cleared = conn
        .transaction::<_, AppError, _>(async |conn| {
            let due = model::lock_uncleared(conn, Utc::now() - hold, 100).await?;
            for order in &due {
                let money = OrderMoney {
                    order_id: order.id,
                    client_id: order.client_id,
                    freelancer_id: order.freelancer_id,
                    amount_cents: order.amount_cents,
                    fee_bps: order.fee_bps.unwrap_or_default(),
                };
                ledger::clear(conn, &money, &order.currency).await?;
                model::mark_cleared(conn, order.id).await?;
            }
            Ok(due.len())
        })
        .await?;
    Ok(cleared)
}
