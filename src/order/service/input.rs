//! What each action carries (`Act`), and the checks and uploads it needs before the
//! transition's transaction starts: a payload is only processed for an action that can
//! happen, and files are stored before any row is locked.

use crate::{
    error::{AppError, AppResult, FieldErrors},
    order::{
        machine::Action,
        model::{DisputeOutcome, OrderStatus},
    },
    state::AppState,
    storage::{self, Attachment, Upload},
    validation,
};

const LINKS_MAX: usize = 10;
const DELIVERY_FILES_MAX: usize = 5;

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
    pub files: Vec<Upload>,
}

/// An action with what it carries.
pub enum Act {
    Accept,
    Decline {
        reason: Option<String>,
    },
    SubmitPaymentProof(ProofInput),
    ConfirmPayment,
    RejectPaymentProof {
        reason: Option<String>,
    },
    StartWork {
        code: Option<String>,
    },
    SubmitWork(DeliveryInput),
    RequestRevision {
        note: String,
    },
    ApproveWork {
        code: Option<String>,
    },
    Cancel {
        reason: Option<String>,
    },
    OpenDispute {
        reason: String,
    },
    Override {
        status: OrderStatus,
        reason: String,
    },
    /// An admin's ruling on the order's open dispute `dispute_id`.
    ResolveDispute {
        dispute_id: uuid::Uuid,
        outcome: DisputeOutcome,
        /// SPLIT: the freelancer's share in basis points (1 to 9,999).
        split_bps: Option<i32>,
        note: String,
    },
}

impl Act {
    pub(super) fn action(&self) -> AppResult<Action> {
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
                status: OrderStatus::Completed,
                ..
            } => Action::ForceComplete,
            Act::Override {
                status: OrderStatus::Cancelled,
                ..
            } => Action::ForceCancel,
            Act::Override { .. } => return Err(AppError::field("status", "must be COMPLETED or CANCELLED")),
            Act::ResolveDispute { outcome, .. } => match outcome {
                DisputeOutcome::Client => Action::SettleForClient,
                DisputeOutcome::Freelancer => Action::SettleForFreelancer,
                DisputeOutcome::Split => Action::SettleSplit,
                DisputeOutcome::Dismissed => Action::DismissDispute,
            },
        })
    }

    /// A dispute split's share for the freelancer, in basis points.
    pub(super) fn split_bps(&self) -> Option<i32> {
        match self {
            Act::ResolveDispute { split_bps, .. } => *split_bps,
            _ => None,
        }
    }

    /// The start or end code the action was given, if any.
    pub(super) fn code(&self) -> Option<&str> {
        match self {
            Act::StartWork { code } | Act::ApproveWork { code } => code.as_deref(),
            _ => None,
        }
    }

    /// The note recorded in the history.
    pub(super) fn note(&self) -> Option<String> {
        match self {
            Act::Decline { reason } | Act::RejectPaymentProof { reason } | Act::Cancel { reason } => reason.clone(),
            Act::RequestRevision { note } => Some(note.clone()),
            Act::OpenDispute { reason } | Act::Override { reason, .. } => Some(reason.clone()),
            Act::ResolveDispute { note, .. } => Some(note.clone()),
            _ => None,
        }
    }
}

/// What the act carries, checked and made ready before the transaction starts.
pub(super) enum Prepared {
    None,
    Proof(ProofInput),
    Delivery {
        message: String,
        links: Vec<String>,
        attachments: Vec<Attachment>,
    },
}

pub(super) async fn prepare(app: &AppState, act: &mut Act) -> AppResult<Prepared> {
    let mut errors = FieldErrors::new();
    let field = match act {
        Act::RequestRevision { .. } | Act::ResolveDispute { .. } => "note",
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
        Act::ResolveDispute {
            outcome,
            split_bps,
            note,
            ..
        } => {
            *note = validation::text(field, note, 3, 2_000, true, &mut errors);
            match (outcome, *split_bps) {
                (DisputeOutcome::Split, None) => errors.add("splitBps", "is required to split"),
                (DisputeOutcome::Split, Some(bps)) if !(1..=9_999).contains(&bps) => {
                    errors.add("splitBps", "must be between 1 and 9999 (the freelancer's share)")
                }
                (DisputeOutcome::Split, Some(_)) | (_, None) => {}
                (_, Some(_)) => errors.add("splitBps", "is only for a SPLIT"),
            }
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
            let kinds = storage::check_uploads(
                &delivery.files,
                app.config.limits.upload_max_bytes,
                "files",
                &mut errors,
            );
            errors.into_result()?;
            let attachments = app
                .storage
                .store_uploads("deliverables", std::mem::take(&mut delivery.files), kinds)
                .await
                .map_err(AppError::internal)?;
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
