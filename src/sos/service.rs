//! Raising SOS alerts and handling them.

use chrono::Utc;
use uuid::Uuid;

use super::model::{self, SosRow, SosStatus};
use crate::{
    admin,
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    events::{self, topic},
    notification::service::{self as notification, Kind},
    order::{model::OrderStatus, service as orders},
    profile::{
        model::{self as profiles, UserRow},
        service::check_coordinates,
    },
    state::AppState,
    validation,
};

/// The event kind on the admins' SOS topic when an alert is raised.
pub const SOS_RAISED: &str = "SOS_RAISED";

const MESSAGE_MAX: usize = 1_000;
const NOTE_MAX: usize = 2_000;

/// Order states in which the parties may be together or working on site.
pub const ACTIVE_STATES: [OrderStatus; 4] = [
    OrderStatus::PaymentConfirmed,
    OrderStatus::InProgress,
    OrderStatus::Submitted,
    OrderStatus::RevisionRequested,
];

/// What `raiseSos` takes.
pub struct Raise {
    pub order_id: Uuid,
    pub lat: f64,
    pub lng: f64,
    pub message: Option<String>,
}

/// Raises an alert on an active order the user is a party of, or answers their unresolved
/// one. A new alert reaches every admin (subscription and notification) on commit.
pub async fn raise(app: &AppState, user: &UserRow, input: Raise) -> AppResult<SosRow> {
    check_coordinates(input.lat, input.lng)?;
    let mut errors = FieldErrors::new();
    let message = validation::optional_text("message", input.message, MESSAGE_MAX, &mut errors);
    errors.into_result()?;

    let order = orders::visible(app, user, input.order_id).await?;
    if !order.is_party(user.id) {
        return Err(AppError::Forbidden(
            "Only the client or the freelancer of an order can raise an SOS on it.".into(),
        ));
    }
    let active = ACTIVE_STATES.contains(&order.status);
    if !active {
        return Err(AppError::Conflict(format!(
            "An SOS can be raised while the order is under way, not while it is {}.",
            order.status
        )));
    }

    let now = Utc::now();
    let row = SosRow {
        id: Uuid::now_v7(),
        order_id: order.id,
        raised_by: user.id,
        latitude: input.lat,
        longitude: input.lng,
        message,
        status: SosStatus::Open,
        acknowledged_by: None,
        acknowledged_at: None,
        resolved_by: None,
        resolved_at: None,
        resolution_note: None,
        created_at: now,
        updated_at: now,
    };
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            if !model::insert_unless_open(conn, &row).await? {
                return model::unresolved(conn, row.order_id, row.raised_by)
                    .await?
                    .ok_or_else(|| AppError::Conflict("The SOS was just resolved; raise it again if needed.".into()));
            }
            events::emit(conn, &topic::admin_sos(), SOS_RAISED, &row).await?;
            for admin_id in profiles::admin_ids(conn).await? {
                notification::notify(
                    conn,
                    admin_id,
                    Kind::System,
                    &format!("SOS from {} on \"{}\"", user.full_name, order.title),
                    row.message.as_deref().unwrap_or("No message."),
                    serde_json::json!({
                        "sosAlertId": row.id,
                        "orderId": row.order_id,
                        "lat": row.latitude,
                        "lng": row.longitude,
                    }),
                )
                .await?;
            }
            Ok(row)
        })
        .await
}

/// An admin's step on an alert.
pub enum Step {
    Acknowledge,
    Resolve { note: String },
}

/// Acknowledges (OPEN → ACKNOWLEDGED) or resolves (→ RESOLVED, with a note) an alert as an
/// admin; audit-logged, the raiser notified.
pub async fn handle(app: &AppState, admin_user: &UserRow, id: Uuid, step: Step) -> AppResult<SosRow> {
    let mut errors = FieldErrors::new();
    let note = match &step {
        Step::Acknowledge => None,
        Step::Resolve { note } => Some(validation::text("note", note, 3, NOTE_MAX, true, &mut errors)),
    };
    errors.into_result()?;

    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let alert = model::lock(conn, id)
                .await?
                .ok_or_else(|| AppError::not_found("SOS alert"))?;
            let now = Utc::now();
            let (updated, action, title) = match (&note, alert.status) {
                (None, SosStatus::Open) => (
                    model::acknowledge(conn, id, admin_user.id, now).await?,
                    "sos.acknowledge",
                    "Your SOS was acknowledged: help is on the way",
                ),
                (Some(note), SosStatus::Open | SosStatus::Acknowledged) => (
                    model::resolve(conn, id, admin_user.id, note, now).await?,
                    "sos.resolve",
                    "Your SOS was resolved",
                ),
                (_, status) => {
                    return Err(AppError::Conflict(format!("This SOS alert is already {status}.")));
                }
            };
            admin::model::record(
                conn,
                admin_user.id,
                action,
                "SOS_ALERT",
                id,
                note.as_deref().unwrap_or(""),
                serde_json::json!({ "from": alert.status, "to": updated.status, "orderId": alert.order_id }),
            )
            .await?;
            notification::notify(
                conn,
                alert.raised_by,
                Kind::System,
                title,
                note.as_deref().unwrap_or("An administrator is handling your alert."),
                serde_json::json!({ "sosAlertId": id, "orderId": alert.order_id, "status": updated.status }),
            )
            .await?;
            Ok(updated)
        })
        .await
}

/// A page of alerts (admins), newest first, optionally in one status.
pub async fn page(app: &AppState, status: Option<SosStatus>, request: &PageRequest<Uuid>) -> AppResult<Page<SosRow>> {
    let mut conn = app.db.conn().await?;
    Ok(model::listing(&mut conn, status, request).await?)
}
