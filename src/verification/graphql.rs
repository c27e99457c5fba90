//! Verification over GraphQL: `submitVerification`, `myVerification`, and the
//! `VerificationRequest` type admins review (their operations are in `admin::graphql`).

use std::sync::Arc;

use async_graphql::{Context, Object, Upload, ID};
use chrono::{DateTime, Duration, Utc};

use super::{
    loaders::DocumentsOf,
    model::{DocumentRow, RequestRow},
    service,
};
use crate::{
    error::AppError,
    graphql::{
        context::ContextExt,
        loader::load_list,
        pagination::{connection, page_request, ListConnection},
    },
    profile::graphql::{User, VerificationStatus},
};

/// How long a document link works.
const LINK_TTL_MINUTES: i64 = 10;

/// A member's submission of identity documents and its review. Seen only by the member
/// (`myVerification`) and admins (`verificationRequests`).
#[derive(async_graphql::Description)]
pub struct VerificationRequest(Arc<RequestRow>);

impl VerificationRequest {
    pub fn new(row: RequestRow) -> Self {
        Self(Arc::new(row))
    }
}

#[Object(use_type_description)]
impl VerificationRequest {
    /// Opaque id of the request.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The member who submitted; null if they are banned and you are not an admin.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.user_id).await
    }
    /// PENDING until an admin reviews it, then VERIFIED or REJECTED.
    async fn status(&self) -> VerificationStatus {
        self.0.status
    }
    /// The submitted files, with links that work for a few minutes.
    async fn documents(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<VerificationDocument>> {
        // Requests are only handed to their member and admins; checked again where the files are.
        let viewer = ctx.viewer()?;
        if viewer.id() != self.0.user_id && !viewer.user.is_admin {
            return Err(AppError::Forbidden("Only the member and admins see these documents.".into()).into());
        }
        let rows = load_list(ctx, DocumentsOf(self.0.id)).await?;
        let (storage, now) = (&ctx.app().storage, Utc::now());
        Ok(rows
            .iter()
            .map(|row| {
                let (url, url_expires_at) =
                    storage.signed_url(&row.storage_key, now, Duration::minutes(LINK_TTL_MINUTES));
                VerificationDocument {
                    row: row.clone(),
                    url,
                    url_expires_at,
                }
            })
            .collect())
    }
    /// The admin who reviewed it; null while PENDING.
    async fn reviewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match self.0.reviewer_id {
            Some(id) => User::load(ctx, id).await,
            None => Ok(None),
        }
    }
    /// What the reviewer said (always given for a rejection).
    async fn review_note(&self) -> Option<&str> {
        self.0.review_note.as_deref()
    }
    /// When the documents were submitted (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When an admin reviewed it (UTC); null while PENDING.
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
}

/// One identity document of a verification request, kept in private storage; only the
/// member and admins get links to it.
#[derive(async_graphql::Description)]
pub struct VerificationDocument {
    row: DocumentRow,
    url: String,
    url_expires_at: DateTime<Utc>,
}

#[Object(use_type_description)]
impl VerificationDocument {
    /// Opaque id of the document.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// The uploader's file name (display only).
    async fn file_name(&self) -> &str {
        &self.row.file_name
    }
    /// The type judged from the content: image/png, image/jpeg, image/webp or application/pdf.
    async fn content_type(&self) -> &str {
        &self.row.content_type
    }
    /// The file's size in bytes.
    async fn size_bytes(&self) -> i64 {
        self.row.size_bytes
    }
    /// A signed link to the file that works until `urlExpiresAt` (ten minutes); ask again
    /// for a fresh one. Never share it.
    async fn url(&self) -> &str {
        &self.url
    }
    /// When `url` stops working.
    async fn url_expires_at(&self) -> DateTime<Utc> {
        self.url_expires_at
    }
    /// When it was uploaded (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// Verification requests, newest first (`verificationRequests`, admins only).
pub async fn requests(
    ctx: &Context<'_>,
    status: Option<VerificationStatus>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ListConnection<VerificationRequest>> {
    let request = page_request(ctx, first, after.as_deref())?;
    let page = service::page(ctx.app(), status, &request).await?;
    Ok(connection(page, |row| row.id, VerificationRequest::new))
}

#[derive(Default)]
pub struct VerificationQuery;

#[Object]
impl VerificationQuery {
    /// Your most recent verification request (null if you never submitted).
    async fn my_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VerificationRequest>> {
        let viewer = ctx.viewer()?;
        Ok(service::latest(ctx.app(), viewer.id())
            .await?
            .map(VerificationRequest::new))
    }
}

#[derive(Default)]
pub struct VerificationMutation;

#[Object]
impl VerificationMutation {
    /// Submits 1 to 5 identity documents (PNG, JPEG or WebP images or PDF, judged by content,
    /// each at most UPLOAD_MAX_BYTES) as a GraphQL multipart request; your status becomes
    /// PENDING until an admin reviews them. Refused (CONFLICT) while a request is pending or
    /// once you are verified. The files are private: only you and admins get links to them.
    async fn submit_verification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 5 files (e.g. both sides of an ID card), as multipart uploads.")] documents: Vec<Upload>,
    ) -> async_graphql::Result<VerificationRequest> {
        let viewer = ctx.viewer()?;
        let mut files = Vec::with_capacity(documents.len());
        for upload in &documents {
            let value = upload
                .value(ctx)
                .map_err(|_| AppError::field("documents", "a file is missing from the request"))?;
            files.push(crate::storage::Upload {
                file_name: value.filename,
                bytes: value.content,
            });
        }
        let row = service::submit(ctx.app(), &viewer.user, files).await?;
        Ok(VerificationRequest::new(row))
    }
}
