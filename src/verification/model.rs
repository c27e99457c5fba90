//! Rows and queries of `verification_requests` and `verification_documents`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::{
    db::schema::{verification_documents, verification_requests},
    profile::model::VerificationStatus,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = verification_requests, check_for_backend(diesel::pg::Pg))]
pub struct RequestRow {
    pub id: Uuid,
    pub user_id: Uuid,
    /// PENDING, VERIFIED or REJECTED (never NONE).
    pub status: VerificationStatus,
    pub reviewer_id: Option<Uuid>,
    pub review_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = verification_documents, check_for_backend(diesel::pg::Pg))]
pub struct DocumentRow {
    pub id: Uuid,
    pub request_id: Uuid,
    /// Key in the private store.
    pub storage_key: String,
    /// The uploader's file name, cleaned for display.
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_request(conn: &mut AsyncPgConnection, row: &RequestRow) -> QueryResult<()> {
    diesel::insert_into(verification_requests::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn insert_documents(conn: &mut AsyncPgConnection, rows: &[DocumentRow]) -> QueryResult<()> {
    diesel::insert_into(verification_documents::table)
        .values(rows)
        .execute(conn)
        .await
        .map(drop)
}

/// The user's most recent request.
pub async fn latest_of(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<RequestRow>> {
    verification_requests::table
        .filter(verification_requests::user_id.eq(user_id))
        .order(verification_requests::id.desc())
        .select(RequestRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The user's PENDING request, locked until the transaction ends.
pub async fn lock_pending_of(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<RequestRow>> {
    verification_requests::table
        .filter(verification_requests::user_id.eq(user_id))
        .filter(verification_requests::status.eq(VerificationStatus::Pending))
        .select(RequestRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Records the outcome of a review.
pub async fn review(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: VerificationStatus,
    reviewer_id: Uuid,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> QueryResult<RequestRow> {
    diesel::update(verification_requests::table.find(id))
        .set((
            verification_requests::status.eq(status),
            verification_requests::reviewer_id.eq(reviewer_id),
            verification_requests::review_note.eq(note),
            verification_requests::reviewed_at.eq(at),
        ))
        .returning(RequestRow::as_returning())
        .get_result(conn)
        .await
}

/// The documents of `request_ids`, in upload order.
pub async fn documents_of(conn: &mut AsyncPgConnection, request_ids: &[Uuid]) -> QueryResult<Vec<DocumentRow>> {
    verification_documents::table
        .filter(verification_documents::request_id.eq_any(request_ids))
        .order((verification_documents::request_id, verification_documents::id))
        .select(DocumentRow::as_select())
        .load(conn)
        .await
}

crate::db::status_listing!(verification_requests, RequestRow, VerificationStatus);
