//! Disputes after they are opened: the parties' evidence, an admin taking the dispute on as
//! its mediator, and the ruling — which is a transition of the order ([`super::act`] with
//! [`Act::ResolveDispute`]: the money, the order's final state, the dispute's resolution,
//! the parties' notifications and the audit entry in one transaction).

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{find_visible, input::Act, transition::act};
use crate::{
    admin, code_link,
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    message,
    notification::service::{self as notification, Kind},
    order::model::{self, DisputeOutcome, DisputeRow, DisputeStatus, EvidenceKind, EvidenceRow, OrderRow, Resolution},
    profile::model::{self as profiles, UserRow},
    state::AppState,
    storage::{self, Upload},
    validation,
};

/// Evidence one dispute holds at most.
pub const EVIDENCE_MAX: i64 = 50;
/// The longest evidence note, and the longest link.
const NOTE_MAX: usize = 2_000;
const URL_MAX: usize = 2_000;

/// A piece of evidence as a party gives it.
pub struct EvidenceInput {
    pub kind: EvidenceKind,
    /// MESSAGE: the message id; LINK: the URL; PR: the pull request id; CI: the check id;
    /// nothing for FILE and NOTE.
    pub reference: Option<String>,
    pub note: Option<String>,
    /// FILE: the upload.
    pub file: Option<Upload>,
}

/// The dispute `id` with its order, if `viewer` may see them (a party of the order or an
/// admin); `NOT_FOUND` otherwise.
pub async fn find(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<(DisputeRow, OrderRow)> {
    let mut conn = app.db.conn().await?;
    visible(&mut conn, viewer, id).await
}

async fn visible(conn: &mut AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<(DisputeRow, OrderRow)> {
    let dispute = model::find_dispute(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Dispute"))?;
    let order = find_visible(conn, viewer, dispute.order_id)
        .await
        .map_err(|_| AppError::not_found("Dispute"))?;
    Ok((dispute, order))
}

/// The mediators' queue: disputes oldest first, optionally in one status (admins only; the
/// caller checks).
pub async fn list(
    app: &AppState,
    status: Option<DisputeStatus>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<DisputeRow>> {
    let mut conn = app.db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, after, limit| model::disputes_after(c, status, after.copied(), limit).await,
            async |c| model::disputes_count(c, status).await,
        )
        .await?)
}

/// A party adds evidence to an unsettled dispute. A MESSAGE must be one of the parties'
/// conversation (tied to this order, or between the two of them); a PR or CI must be a pull
/// request or check of a repository the order links; a FILE is stored before
/// anything is locked. `CONFLICT` once the dispute is settled, `LIMIT_EXCEEDED` past
/// [`EVIDENCE_MAX`]; the other party and the mediator are notified.
pub async fn add_evidence(
    app: &AppState,
    author: &UserRow,
    dispute_id: Uuid,
    input: EvidenceInput,
) -> AppResult<EvidenceRow> {
    let mut conn = app.db.conn().await?;
    let (_, order) = visible(&mut conn, author, dispute_id).await?;
    drop(conn);
    if author.id != order.client_id && author.id != order.freelancer_id {
        return Err(AppError::Forbidden(
            "Only the parties of the order add evidence to its dispute.".into(),
        ));
    }
    let checked = check_evidence(app, input).await?;

    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let dispute = lock_unsettled(conn, dispute_id).await?;
            if model::evidence_count(conn, dispute_id).await? >= EVIDENCE_MAX {
                return Err(AppError::LimitExceeded(format!(
                    "A dispute holds at most {EVIDENCE_MAX} pieces of evidence."
                )));
            }
            if let Some(message_id) = checked.message_id {
                check_message(conn, &order, message_id).await?;
            }
            if let Some(id) = checked.pull_request_id {
                code_link::service::check_pull_request_of(conn, order.id, id).await?;
            }
            if let Some(id) = checked.check_id {
                code_link::service::check_check_of(conn, order.id, id).await?;
            }
            let row = EvidenceRow {
                id: Uuid::now_v7(),
                dispute_id,
                author_id: author.id,
                kind: checked.kind,
                message_id: checked.message_id,
                url: checked.url,
                file: checked.file,
                note: checked.note,
                created_at: Utc::now(),
                pull_request_id: checked.pull_request_id,
                check_id: checked.check_id,
            };
            model::insert_evidence(conn, &row).await?;
            let others = [Some(order.client_id), Some(order.freelancer_id), dispute.mediator_id];
            for user in others.into_iter().flatten().filter(|u| *u != author.id) {
                notification::notify(
                    conn,
                    user,
                    Kind::Dispute,
                    &format!("New evidence in the dispute over \"{}\"", order.title),
                    &format!(
                        "{} added a {} to the dispute.",
                        author.full_name,
                        row.kind.as_str().to_lowercase()
                    ),
                    serde_json::json!({ "orderId": order.id, "disputeId": dispute_id, "evidenceId": row.id }),
                )
                .await?;
            }
            Ok(row)
        })
        .await
}

/// The dispute, locked, while it is unsettled; `CONFLICT` once it is settled.
async fn lock_unsettled(conn: &mut AsyncPgConnection, dispute_id: Uuid) -> AppResult<DisputeRow> {
    let dispute = model::lock_dispute(conn, dispute_id)
        .await?
        .ok_or_else(|| AppError::not_found("Dispute"))?;
    if !dispute.status.is_unsettled() {
        return Err(AppError::Conflict(format!(
            "This dispute is settled ({}).",
            dispute.status
        )));
    }
    Ok(dispute)
}

/// Evidence checked field by field (named as the API names them), its file stored.
struct CheckedEvidence {
    kind: EvidenceKind,
    message_id: Option<Uuid>,
    pull_request_id: Option<Uuid>,
    check_id: Option<Uuid>,
    url: Option<String>,
    file: Option<serde_json::Value>,
    note: String,
}

async fn check_evidence(app: &AppState, input: EvidenceInput) -> AppResult<CheckedEvidence> {
    let mut errors = FieldErrors::new();
    let note = validation::optional_text("note", input.note, NOTE_MAX, &mut errors).unwrap_or_default();
    let reference = input.reference.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let mut checked = CheckedEvidence {
        kind: input.kind,
        message_id: None,
        pull_request_id: None,
        check_id: None,
        url: None,
        file: None,
        note,
    };
    match input.kind {
        EvidenceKind::Message | EvidenceKind::Pr | EvidenceKind::Ci => {
            let what = match input.kind {
                EvidenceKind::Message => "message",
                EvidenceKind::Pr => "pull request",
                _ => "CI check",
            };
            match reference.as_deref().map(Uuid::parse_str) {
                Some(Ok(id)) => match input.kind {
                    EvidenceKind::Message => checked.message_id = Some(id),
                    EvidenceKind::Pr => checked.pull_request_id = Some(id),
                    _ => checked.check_id = Some(id),
                },
                Some(Err(_)) => errors.add("ref", format!("must be the id of a {what}")),
                None => errors.add("ref", format!("is required: the id of the {what}")),
            }
        }
        EvidenceKind::Link => match reference {
            Some(url) if url.chars().count() > URL_MAX => {
                errors.add("ref", format!("must be at most {URL_MAX} characters"))
            }
            Some(url) if url::Url::parse(&url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) => {
                checked.url = Some(url)
            }
            Some(_) => errors.add("ref", "must be an http(s) URL"),
            None => errors.add("ref", "is required: the URL"),
        },
        EvidenceKind::File | EvidenceKind::Note => {
            if reference.is_some() {
                errors.add("ref", "is only for MESSAGE, LINK, PR and CI evidence");
            }
        }
    }
    if input.kind == EvidenceKind::Note && checked.note.is_empty() {
        errors.add("note", "is required for NOTE evidence");
    }
    let file = match (input.kind, input.file) {
        (EvidenceKind::File, Some(file)) => Some(file),
        (EvidenceKind::File, None) => {
            errors.add("file", "is required for FILE evidence");
            None
        }
        (_, Some(_)) => {
            errors.add("file", "is only for FILE evidence");
            None
        }
        (_, None) => None,
    };
    let files: Vec<Upload> = file.into_iter().collect();
    let kinds = storage::check_uploads(&files, app.config.limits.upload_max_bytes, "file", &mut errors);
    errors.into_result()?;
    if !files.is_empty() {
        let stored = app
            .storage
            .store_uploads("evidence", files, kinds)
            .await
            .map_err(AppError::internal)?;
        let attachment = stored.into_iter().next();
        checked.file = Some(serde_json::to_value(attachment).map_err(AppError::internal)?);
    }
    Ok(checked)
}

/// A MESSAGE must be a message both parties can read: in a conversation of theirs that is
/// tied to this order or to no other order. `VALIDATION_ERROR` on `ref` otherwise (the
/// author learns nothing of conversations they are not in).
async fn check_message(conn: &mut AsyncPgConnection, order: &OrderRow, message_id: Uuid) -> AppResult<()> {
    let refused = || AppError::field("ref", "must be a message of your conversation with the other party");
    let found = message::model::find_message(conn, message_id)
        .await?
        .ok_or_else(refused)?;
    let conversation = message::model::find_conversation(conn, found.conversation_id)
        .await?
        .ok_or_else(refused)?;
    if conversation.order_id.is_some_and(|id| id != order.id) {
        return Err(refused());
    }
    for party in [order.client_id, order.freelancer_id] {
        if message::model::participant(conn, conversation.id, party)
            .await?
            .is_none()
        {
            return Err(refused());
        }
    }
    Ok(())
}

/// An admin takes an unsettled dispute on as its mediator — themselves, or another admin
/// (`mediator_id`): IN_MEDIATION. Audit-logged; the parties are told. `CONFLICT` once the
/// dispute is settled or when that admin already mediates it.
pub async fn assign(
    app: &AppState,
    admin_user: &UserRow,
    dispute_id: Uuid,
    mediator_id: Option<Uuid>,
) -> AppResult<DisputeRow> {
    let mediator_id = mediator_id.unwrap_or(admin_user.id);
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let mediator = profiles::find(conn, mediator_id)
                .await?
                .filter(|u| u.is_admin && u.banned_at.is_none())
                .ok_or_else(|| AppError::field("mediatorId", "must be an administrator in good standing"))?;
            let dispute = lock_unsettled(conn, dispute_id).await?;
            if dispute.mediator_id == Some(mediator.id) {
                return Err(AppError::Conflict(format!(
                    "{} already mediates this dispute.",
                    mediator.full_name
                )));
            }
            let updated = model::assign_mediator(conn, dispute_id, mediator.id, Utc::now()).await?;
            let order = model::find(conn, dispute.order_id)
                .await?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("dispute {dispute_id} without its order")))?;
            admin::model::record(
                conn,
                admin_user.id,
                "dispute.assign",
                "DISPUTE",
                dispute_id,
                "",
                serde_json::json!({
                    "orderId": order.id,
                    "from": { "status": dispute.status, "mediatorId": dispute.mediator_id },
                    "to": { "status": updated.status, "mediatorId": updated.mediator_id },
                }),
            )
            .await?;
            let title = format!("A mediator took on the dispute over \"{}\"", order.title);
            let body = format!(
                "{} mediates the dispute. Add any evidence that helps decide it.",
                mediator.full_name
            );
            tell_parties(conn, &order, dispute_id, &title, &body).await?;
            Ok(updated)
        })
        .await
}

/// An admin's ruling on an unsettled dispute (see [`DisputeOutcome`]): carried out as the
/// order's transition, so the money, the order's state, the dispute's resolution, the
/// parties' notifications and the audit entry commit together or not at all. Of concurrent
/// rulings one wins; the others answer `CONFLICT` and change nothing.
pub async fn resolve(
    app: &AppState,
    admin_user: &UserRow,
    dispute_id: Uuid,
    outcome: DisputeOutcome,
    split_bps: Option<i32>,
    note: String,
) -> AppResult<(DisputeRow, OrderRow)> {
    let (dispute, order) = find(app, admin_user, dispute_id).await?;
    if !dispute.status.is_unsettled() {
        return Err(AppError::Conflict(format!(
            "This dispute is already settled ({}).",
            dispute.status
        )));
    }
    if order.status.is_final() {
        return close_after_the_fact(app, admin_user, dispute_id, outcome, split_bps, note).await;
    }
    let ruling = Act::ResolveDispute {
        dispute_id,
        outcome,
        split_bps,
        note,
    };
    let order = act(app, admin_user, dispute.order_id, ruling).await?;
    let mut conn = app.db.conn().await?;
    let settled = model::find_dispute(&mut conn, dispute_id)
        .await?
        .ok_or_else(|| AppError::not_found("Dispute"))?;
    Ok((settled, order))
}

/// A card dispute that came after its order was final (its money moved already) is closed
/// without a ruling: only DISMISSED, with the note; audit-logged, the parties told.
async fn close_after_the_fact(
    app: &AppState,
    admin_user: &UserRow,
    dispute_id: Uuid,
    outcome: DisputeOutcome,
    split_bps: Option<i32>,
    note: String,
) -> AppResult<(DisputeRow, OrderRow)> {
    let mut errors = FieldErrors::new();
    let note = validation::text("note", &note, 3, 2_000, true, &mut errors);
    if outcome != DisputeOutcome::Dismissed {
        errors.add(
            "outcome",
            "must be DISMISSED: the order is final and its money has moved already",
        );
    }
    if split_bps.is_some() {
        errors.add("splitBps", "is only for a SPLIT");
    }
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let dispute = model::lock_dispute(conn, dispute_id)
                .await?
                .ok_or_else(|| AppError::not_found("Dispute"))?;
            let order = model::find(conn, dispute.order_id)
                .await?
                .ok_or_else(|| AppError::not_found("Dispute"))?;
            let resolution = Resolution {
                status: DisputeStatus::Dismissed,
                resolved_at: Some(Utc::now()),
                resolved_by: Some(admin_user.id),
                resolution_note: Some(note.clone()),
                split_bps: None,
                client_cents: None,
                freelancer_cents: None,
            };
            let settled = model::resolve_dispute(conn, order.id, &resolution)
                .await?
                .ok_or_else(|| AppError::Conflict("This dispute is already settled.".into()))?;
            admin::model::record(
                conn,
                admin_user.id,
                "dispute.dismiss",
                "DISPUTE",
                dispute_id,
                &note,
                serde_json::json!({ "orderId": order.id, "from": dispute.status, "to": settled.status }),
            )
            .await?;
            let title = format!("The dispute over \"{}\" is closed", order.title);
            let body = format!("The dispute was dismissed.\n\n{note}");
            tell_parties(conn, &order, dispute_id, &title, &body).await?;
            Ok((settled, order))
        })
        .await
}

/// Notifies both parties of the order (DISPUTE) about its dispute.
async fn tell_parties(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    dispute_id: Uuid,
    title: &str,
    body: &str,
) -> AppResult<()> {
    for party in [order.client_id, order.freelancer_id] {
        let data = serde_json::json!({ "orderId": order.id, "disputeId": dispute_id });
        notification::notify(conn, party, Kind::Dispute, title, body, data).await?;
    }
    Ok(())
}
