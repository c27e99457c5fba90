//! How orders come about: a gig package ordered or booked (`orderGig`, `requestBooking`),
//! an application accepted, or a first-accept task taken. Each creates the order, its
//! milestones, the first history row, the event and the other party's notification in one
//! transaction.

use chrono::{Duration, NaiveDate, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::publish;
use crate::{
    application::model::{self as applications, ApplicationStatus},
    calendar,
    error::{AppError, AppResult, FieldErrors},
    gig,
    notification::service::{self as notification, Kind},
    order::model::{self, ActorRole, HistoryRow, MilestoneRow, OrderOrigin, OrderRow, OrderStatus},
    profile::model::{self as profiles, UserRow},
    state::AppState,
    task::{
        self,
        model::{BudgetType, LocationType, TaskMode, TaskStatus},
        service::Milestone,
    },
    timesheet, validation,
};

const REQUIREMENTS_MAX: usize = 5_000;
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
/// accept first, with the deposit its gig asks fixed on it; otherwise straight to
/// PENDING_PAYMENT, paid at once, with any date blocked at once).
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
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let (gig, owner) = gig::model::find_with_owner(conn, input.gig_id)
                .await?
                .filter(|(gig, owner)| gig.status == gig::model::GigStatus::Active && !owner.is_banned())
                .ok_or_else(|| AppError::not_found("Gig"))?;
            if gig.owner_id == client.id {
                return Err(AppError::Conflict("You cannot order your own gig.".into()));
            }
            let package = gig::model::packages_of(conn, &[gig.id])
                .await?
                .into_iter()
                .find(|p| p.tier.as_str() == input.tier)
                .ok_or_else(|| AppError::field("tier", "this gig has no such package"))?;
            let now = Utc::now();
            let order = OrderRow {
                id: Uuid::now_v7(),
                client_id: client.id,
                freelancer_id: owner.id,
                origin: if booking {
                    OrderOrigin::Booking
                } else {
                    OrderOrigin::Gig
                },
                gig_id: Some(gig.id),
                package_tier: Some(package.tier.as_str().into()),
                task_id: None,
                application_id: None,
                title: gig.title.clone(),
                requirements,
                amount_cents: package.price_cents,
                currency: gig.currency.clone(),
                fee_bps: None,
                status: if booking {
                    OrderStatus::Requested
                } else {
                    OrderStatus::PendingPayment
                },
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
                stripe_checkout_session_id: None,
                stripe_payment_intent_id: None,
                checkout_attempts: 0,
                released_cents: None,
                deposit_cents: if booking {
                    booking_deposit(package.price_cents, gig.booking_deposit_bps)
                } else {
                    None
                },
                deposit_paid_at: None,
                billed_cents: None,
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
                    !calendar::model::day_taken(conn, owner.id, day).await?
                } else {
                    calendar::model::book_day(conn, owner.id, day, order.id).await?
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
                ActorRole::Client,
                if booking { "requested a booking" } else { "ordered" },
            )
            .await?;
            Ok(order)
        })
        .await
}

/// The deposit a booking of `amount_cents` asks when its gig asks `deposit_bps` of the
/// price: rounded half up and kept within 1 cent .. amount − 1 cent, so that both the deposit
/// and the balance are at least a cent; none when the gig asks none (or the amount cannot be
/// split).
fn booking_deposit(amount_cents: i64, deposit_bps: Option<i32>) -> Option<i64> {
    let bps = deposit_bps.filter(|bps| (1..10_000).contains(bps))?;
    (amount_cents >= 2).then(|| crate::ledger::service::bps_of(amount_cents, bps).clamp(1, amount_cents - 1))
}

/// Accepts an application to the viewer's OPEN task: the order is created, the task is
/// ASSIGNED, and the other open applications are turned down (their authors are told). For
/// an HOURLY task the order is an hourly contract at the application's proposed rate with
/// a weekly cap of `weekly_hour_cap` hours (required then, refused for a FIXED task).
pub async fn accept_application(
    app: &AppState,
    poster: &UserRow,
    application_id: Uuid,
    weekly_hour_cap: Option<i32>,
) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
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
            if task.status != TaskStatus::Open {
                return Err(AppError::Conflict(format!(
                    "The task is {} and cannot be assigned.",
                    task.status
                )));
            }
            if !application.status.is_open() {
                return Err(AppError::Conflict(format!(
                    "A {} application cannot be accepted.",
                    application.status
                )));
            }
            let planned: Vec<Milestone> = serde_json::from_value(application.milestones.clone()).unwrap_or_default();
            let (mut order, mut milestones) = task_order(
                &task,
                application.freelancer_id,
                Some(application.id),
                &planned,
                application.proposed_rate_cents,
                application.revisions,
            );
            let rate = application.proposed_rate_cents;
            let terms = timesheet::service::hire_terms(&task, order.id, rate, weekly_hour_cap, "weeklyHourCap")?;
            insert_task_order(conn, &mut order, &mut milestones, terms).await?;
            applications::set_status(conn, &[application.id], ApplicationStatus::Accepted).await?;
            let others: Vec<Uuid> = applications::open_of_task(conn, task.id)
                .await?
                .into_iter()
                .filter(|id| *id != application.id)
                .collect();
            for rejected in applications::set_status(conn, &others, ApplicationStatus::Rejected).await? {
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
                    ..task::model::StatusChange::to(TaskStatus::Assigned)
                },
            )
            .await?;
            task::service::announce(app, conn, &assigned, Some(task.status)).await?;
            created(conn, &order, poster, ActorRole::Client, "accepted your application for").await?;
            Ok(order)
        })
        .await
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
    let on_site = task.location_type == LocationType::Onsite || task.mode == TaskMode::Immediate;
    let order = OrderRow {
        id: order_id,
        client_id: task.poster_id,
        freelancer_id: freelancer,
        origin: if application_id.is_some() {
            OrderOrigin::Application
        } else {
            OrderOrigin::Task
        },
        gig_id: None,
        package_tier: None,
        task_id: Some(task.id),
        application_id,
        title: task.title.clone(),
        requirements: task.description.chars().take(REQUIREMENTS_MAX).collect(),
        amount_cents: milestones.iter().map(|m| m.amount_cents).sum(),
        currency: task.currency.clone(),
        fee_bps: None,
        status: OrderStatus::PendingPayment,
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
        stripe_checkout_session_id: None,
        stripe_payment_intent_id: None,
        checkout_attempts: 0,
        released_cents: None,
        deposit_cents: None,
        deposit_paid_at: None,
        billed_cents: None,
    };
    (order, milestones)
}

/// Makes the order made from an HOURLY task an hourly contract on `terms` (nothing for a
/// FIXED task, `None`): its amount is the retainer (its weeks at the cap) held as one
/// milestone, due when those weeks end, and the terms are stored beside it.
async fn make_hourly(
    conn: &mut AsyncPgConnection,
    order: &mut OrderRow,
    milestones: &mut Vec<MilestoneRow>,
    terms: Option<timesheet::model::TermsRow>,
) -> AppResult<()> {
    let Some(terms) = terms else {
        return Ok(());
    };
    let retainer = timesheet::service::retainer(&terms)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("unchecked hourly retainer")))?;
    let due_at = order.created_at + Duration::weeks(i64::from(terms.weeks));
    order.amount_cents = retainer;
    order.billed_cents = Some(0);
    order.due_at = Some(due_at);
    *milestones = vec![MilestoneRow {
        id: Uuid::now_v7(),
        order_id: order.id,
        position: 0,
        title: format!(
            "Retainer: {} week(s) of up to {} h",
            terms.weeks,
            terms.weekly_minute_cap / 60
        ),
        amount_cents: retainer,
        due_at: Some(due_at),
        checklist: serde_json::json!([]),
    }];
    model::insert(conn, order, milestones).await?;
    timesheet::model::insert_terms(conn, &terms).await?;
    Ok(())
}

/// Inserts an order made from a task with its milestones, as an hourly contract on
/// `terms` when it has them.
async fn insert_task_order(
    conn: &mut AsyncPgConnection,
    order: &mut OrderRow,
    milestones: &mut Vec<MilestoneRow>,
    terms: Option<timesheet::model::TermsRow>,
) -> AppResult<()> {
    if terms.is_some() {
        return make_hourly(conn, order, milestones, terms).await;
    }
    model::insert(conn, order, milestones).await?;
    Ok(())
}

/// Revisions included when a first-accept task becomes an order.
const TASK_REVISIONS: i32 = 2;

/// Takes an OPEN first-accept (IMMEDIATE) task for `freelancer`. Of any number of concurrent
/// callers exactly one wins: the task is claimed by one conditional UPDATE (the others wait
/// for its row lock, then find it taken and get `CONFLICT`), and the order (PENDING_PAYMENT,
/// at the task's maximum budget) is created in the same transaction.
pub async fn accept_task(app: &AppState, freelancer: &UserRow, task_id: Uuid) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    // In a rush all but one caller lose. Once the task is seen taken, one read says why,
    // without a transaction that would wait for the winner's row lock.
    let found = task::model::find_with_poster(&mut conn, task_id).await?;
    if found.as_ref().is_some_and(|(task, _)| task.status != TaskStatus::Open) {
        return Err(refusal(found, freelancer));
    }
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
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
            let (mut order, mut milestones) = task_order(
                &task,
                freelancer.id,
                None,
                &planned,
                task.budget_max_cents,
                TASK_REVISIONS,
            );
            // Nobody sets a cap when a first-accept task is taken: the default applies.
            let cap = (task.budget_type == BudgetType::Hourly).then_some(timesheet::rules::DEFAULT_WEEKLY_HOURS);
            let terms = timesheet::service::hire_terms(&task, order.id, task.budget_max_cents, cap, "weeklyHourCap")?;
            insert_task_order(conn, &mut order, &mut milestones, terms).await?;
            task::service::announce(app, conn, &task, Some(TaskStatus::Open)).await?;
            created(conn, &order, freelancer, ActorRole::Freelancer, "accepted").await?;
            Ok(order)
        })
        .await
}

/// Why `take_immediate` found nothing to take: NOT_FOUND for tasks the freelancer may not
/// see, CONFLICT otherwise (taken, expired, not first-accept).
async fn why_not_taken(conn: &mut AsyncPgConnection, freelancer: &UserRow, task_id: Uuid) -> AppError {
    match task::model::find_with_poster(conn, task_id).await {
        Ok(found) => refusal(found, freelancer),
        Err(e) => e.into(),
    }
}

/// Why `freelancer` cannot take the task `found` (with its poster), as [`why_not_taken`]
/// says it.
fn refusal(found: Option<(task::model::TaskRow, UserRow)>, freelancer: &UserRow) -> AppError {
    let Some((task, _)) = found.filter(|(t, p)| task::service::visible(t, p, Some(freelancer))) else {
        return AppError::not_found("Task");
    };
    if task.poster_id == freelancer.id {
        return AppError::Forbidden("You cannot accept your own task.".into());
    }
    AppError::Conflict(match (task.mode, task.status) {
        (TaskMode::Immediate, TaskStatus::Open) => "The task's acceptance deadline has passed.".into(),
        (TaskMode::Immediate, TaskStatus::Assigned | TaskStatus::InProgress | TaskStatus::Completed) => {
            "Someone else accepted this task first.".into()
        }
        (TaskMode::Immediate, status) => format!("The task is {status} and cannot be accepted."),
        _ => "Only IMMEDIATE tasks are accepted directly; apply to this one.".into(),
    })
}

/// The first history row, the event and the other party's notification of a new order
/// that `actor` (in `role`) made.
async fn created(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    actor: &UserRow,
    role: ActorRole,
    verb: &str,
) -> AppResult<()> {
    model::insert_history(
        conn,
        &HistoryRow {
            id: Uuid::now_v7(),
            order_id: order.id,
            action: "CREATE".into(),
            from_status: None,
            to_status: order.status,
            actor_id: Some(actor.id),
            actor_role: role,
            note: None,
            created_at: order.created_at,
        },
    )
    .await?;
    publish(conn, order, "CREATE", None, Some(actor.id)).await?;
    let recipient = if role == ActorRole::Client {
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

#[cfg(test)]
mod tests {
    use super::booking_deposit;

    #[test]
    fn a_deposit_and_its_balance_are_each_at_least_a_cent() {
        assert_eq!(booking_deposit(10_000, Some(2_500)), Some(2_500));
        assert_eq!(booking_deposit(12_345, Some(2_500)), Some(3_086)); // 3086.25
        assert_eq!(booking_deposit(500, Some(1)), Some(1)); // 0.05 rounds to nothing
        assert_eq!(booking_deposit(500, Some(9_999)), Some(499)); // 499.95 would leave nothing
        assert_eq!(booking_deposit(10_000, None), None);
        assert_eq!(booking_deposit(1, Some(5_000)), None);
        assert_eq!(booking_deposit(10_000, Some(10_000)), None);
    }
}
