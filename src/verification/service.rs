//! Submitting documents for verification and reviewing them.

use chrono::Utc;
use uuid::Uuid;

use super::model::{self, DocumentRow, RequestRow};
use crate::{
    admin,
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    ledger::policy,
    notification::service::{self as notification, Kind},
    profile::model::{self as profiles, UserRow, VerificationStatus},
    state::AppState,
    storage,
    storage::{display_name, Upload},
    validation,
};

/// Most documents in one submission (e.g. a student ID and a government ID, front and back).
pub const DOCUMENTS_MAX: usize = 5;
const NOTE_MAX: usize = 1_000;
/// Document types accepted, by sniffed content: scans and photos, or PDF.
const DOCUMENT_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp", "application/pdf"];
/// Folder of verification documents in the private store.
const FOLDER: &str = "verification";

/// Why a member in `status` may not submit now, if they may not.
fn submission_refusal(status: VerificationStatus) -> Option<AppError> {
    match status {
        VerificationStatus::Pending => Some(AppError::Conflict(
            "Your documents are being reviewed; you can submit again if they are rejected.".into(),
        )),
        VerificationStatus::Verified => Some(AppError::Conflict("You are already verified.".into())),
        _ => None,
    }
}

/// Checks the documents and returns each one's (content type, extension).
fn check_documents(documents: &[Upload], max_bytes: usize) -> AppResult<Vec<(&'static str, &'static str)>> {
    let mut errors = FieldErrors::new();
    if documents.is_empty() || documents.len() > DOCUMENTS_MAX {
        errors.add("documents", format!("must be 1 to {DOCUMENTS_MAX} files"));
    }
    let mut kinds = Vec::with_capacity(documents.len());
    for document in documents {
        match storage::sniff_document(&document.bytes) {
            _ if document.bytes.is_empty() => errors.add("documents", "must not contain empty files"),
            _ if document.bytes.len() > max_bytes => {
                errors.add("documents", format!("each file must be at most {max_bytes} bytes"))
            }
            Some(kind) if DOCUMENT_TYPES.contains(&kind.0) => kinds.push(kind),
            _ => errors.add("documents", "may be PNG, JPEG or WebP images, or PDF"),
        }
    }
    errors.into_result()?;
    Ok(kinds)
}

/// Stores the member's documents privately and puts them up for review (status PENDING).
pub async fn submit(app: &AppState, user: &UserRow, documents: Vec<Upload>) -> AppResult<RequestRow> {
    let kinds = check_documents(&documents, app.config.limits.upload_max_bytes)?;
    // A quick look before writing any file; decided again under the lock below.
    if let Some(refusal) = submission_refusal(user.verification_status) {
        return Err(refusal);
    }

    let now = Utc::now();
    let request = RequestRow {
        id: Uuid::now_v7(),
        user_id: user.id,
        status: VerificationStatus::Pending,
        reviewer_id: None,
        review_note: None,
        created_at: now,
        reviewed_at: None,
    };
    let mut rows = Vec::with_capacity(documents.len());
    for (document, (content_type, ext)) in documents.into_iter().zip(kinds) {
        let size_bytes = document.bytes.len() as i64;
        let stored = app.storage.put_private(FOLDER, ext, document.bytes).await;
        match stored {
            Ok(key) => rows.push(DocumentRow {
                id: Uuid::now_v7(),
                request_id: request.id,
                storage_key: key,
                file_name: display_name(&document.file_name),
                content_type: content_type.to_owned(),
                size_bytes,
                created_at: now,
            }),
            Err(e) => {
                discard(app, &rows).await;
                return Err(AppError::internal(e));
            }
        }
    }

    let mut conn = app.db.conn().await?;
    let saved = app
        .bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let current = profiles::lock(conn, user.id)
                .await?
                .ok_or_else(|| AppError::not_found("User"))?;
            if let Some(refusal) = submission_refusal(current.verification_status) {
                return Err(refusal);
            }
            model::insert_request(conn, &request).await?;
            model::insert_documents(conn, &rows).await?;
            profiles::set_verification_status(conn, user.id, VerificationStatus::Pending).await?;
            Ok(())
        })
        .await;
    if let Err(e) = saved {
        // Nothing refers to the files: remove them.
        discard(app, &rows).await;
        return Err(e);
    }
    Ok(request)
}

async fn discard(app: &AppState, rows: &[DocumentRow]) {
    for row in rows {
        app.storage.remove_private(&row.storage_key).await;
    }
}

/// The outcome of a review, as an admin gives it.
pub struct Review {
    pub user_id: Uuid,
    pub approve: bool,
    pub note: Option<String>,
}

/// An admin approves (VERIFIED) or rejects (REJECTED, with a reason) a member's pending
/// request. Audit-logged; the member is notified. Returns the reviewed request.
pub async fn review(app: &AppState, admin_user: &UserRow, review: Review) -> AppResult<RequestRow> {
    let mut errors = FieldErrors::new();
    let note = if review.approve {
        validation::optional_text("note", review.note, NOTE_MAX, &mut errors)
    } else {
        Some(validation::text(
            "note",
            review.note.as_deref().unwrap_or_default(),
            3,
            NOTE_MAX,
            true,
            &mut errors,
        ))
    };
    errors.into_result()?;
    if review.user_id == admin_user.id {
        return Err(AppError::Forbidden(
            "Another admin must review your own verification.".into(),
        ));
    }
    let status = if review.approve {
        VerificationStatus::Verified
    } else {
        VerificationStatus::Rejected
    };

    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let member = profiles::lock(conn, review.user_id)
                .await?
                .ok_or_else(|| AppError::not_found("User"))?;
            let pending = model::lock_pending_of(conn, member.id).await?;
            let (Some(pending), VerificationStatus::Pending) = (pending, member.verification_status) else {
                return Err(AppError::Conflict(format!(
                    "There is no pending verification to review (status {}).",
                    member.verification_status
                )));
            };
            let now = Utc::now();
            let reviewed = model::review(conn, pending.id, status, admin_user.id, note.as_deref(), now).await?;
            let member = profiles::set_verification_status(conn, member.id, status).await?;
            let commission_bps = policy::commission_bps(
                app.config.verification_commission,
                member.verification_status,
                member.commission_bps,
            );
            admin::model::record(
                conn,
                admin_user.id,
                if review.approve {
                    "verification.approve"
                } else {
                    "verification.reject"
                },
                "USER",
                member.id,
                note.as_deref().unwrap_or(""),
                serde_json::json!({
                    "requestId": reviewed.id,
                    "from": "PENDING",
                    "to": status,
                    "commissionBps": commission_bps,
                }),
            )
            .await?;
            let (title, body) = if review.approve {
                (
                    "Your identity is verified".to_owned(),
                    format!("Your commission is now {commission_bps} basis points."),
                )
            } else {
                (
                    "Your verification was not approved".to_owned(),
                    format!("{} You can submit new documents.", note.as_deref().unwrap_or_default()),
                )
            };
            notification::notify(
                conn,
                member.id,
                Kind::System,
                &title,
                &body,
                serde_json::json!({ "verificationRequestId": reviewed.id, "status": status }),
            )
            .await?;
            Ok(reviewed)
        })
        .await
}

/// The member's most recent request.
pub async fn latest(app: &AppState, user_id: Uuid) -> AppResult<Option<RequestRow>> {
    let mut conn = app.db.conn().await?;
    Ok(model::latest_of(&mut conn, user_id).await?)
}

/// A page of requests (admins), newest first, optionally in one status (a request is never
/// NONE: asking for it names the field).
pub async fn page(
    app: &AppState,
    status: Option<VerificationStatus>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<RequestRow>> {
    if status == Some(VerificationStatus::None) {
        return Err(AppError::field("status", "must be PENDING, VERIFIED or REJECTED"));
    }
    let mut conn = app.db.conn().await?;
    Ok(model::listing(&mut conn, status, request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &'static [u8]) -> Upload {
        Upload {
            file_name: "id.pdf".into(),
            bytes: bytes::Bytes::from_static(bytes),
        }
    }

    #[test]
    fn documents_are_images_or_pdf_within_the_limits() {
        assert_eq!(
            check_documents(&[file(b"%PDF-1.7 scan")], 100).unwrap(),
            [("application/pdf", "pdf")]
        );
        for bad in [
            vec![],
            vec![file(b"plain text is not a document")],
            vec![file(b"")],
            vec![file(b"%PDF-1.7 but far too long for the limit")],
            (0..6).map(|_| file(b"%PDF-1.7")).collect(),
        ] {
            let Err(AppError::Validation(fields)) = check_documents(&bad, 20) else {
                panic!("accepted {} files", bad.len())
            };
            assert_eq!(
                fields.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
                ["documents"]
            );
        }
    }

    #[test]
    fn members_submit_only_without_a_pending_or_granted_verification() {
        assert!(submission_refusal(VerificationStatus::None).is_none());
        assert!(submission_refusal(VerificationStatus::Rejected).is_none());
        assert!(matches!(
            submission_refusal(VerificationStatus::Pending),
            Some(AppError::Conflict(_))
        ));
        assert!(matches!(
            submission_refusal(VerificationStatus::Verified),
            Some(AppError::Conflict(_))
        ));
    }
}
