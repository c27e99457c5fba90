//! What an order accumulates as it goes, over GraphQL: its history, manual payment proofs,
//! deliveries (disputes have [`super::dispute`]).

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{OrderStatus, PaymentProofStatus};
use crate::{
    order::model::{DeliverableRow, HistoryRow, ProofRow},
    profile::graphql::User,
};

pub struct OrderHistoryEntry(pub HistoryRow);

/// One step of an order: who took which action, and the status before and after.
#[Object]
impl OrderHistoryEntry {
    /// e.g. `CONFIRM_PAYMENT`; `CREATE` for the first entry; for a week of an hourly order
    /// (the status stays), `SUBMIT_TIMESHEET`, `APPROVE_TIMESHEET`, `AUTO_APPROVE_TIMESHEET` or
    /// `DISPUTE_TIMESHEET`, with the week in the note.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The status before; null for the `CREATE` entry.
    async fn from_status(&self) -> Option<OrderStatus> {
        self.0.from_status
    }
    /// The status after.
    async fn to_status(&self) -> OrderStatus {
        self.0.to_status
    }
    /// Who acted; null for SYSTEM steps (the payment provider).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        User::on_record(ctx, id).await
    }
    /// The role the actor acted in: CLIENT, FREELANCER, ADMIN or SYSTEM.
    async fn actor_role(&self) -> &str {
        self.0.actor_role.as_str()
    }
    /// The reason or note given with the action (decline, payment rejection, cancellation,
    /// revision request, dispute, admin override); null when none.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When it happened (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct PaymentProof(pub ProofRow);

/// A client's evidence of a manual payment (`submitPaymentProof`).
#[Object]
impl PaymentProof {
    /// Opaque id of the proof.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The transfer's reference (transaction id).
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    /// The name on the account that paid, as the client entered it.
    async fn payer_name(&self) -> &str {
        &self.0.payer_name
    }
    /// The amount paid in minor units of `currency` (always the order amount).
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// ISO 4217 code: the order's currency.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Whether the payment was confirmed, rejected, or is still to be checked.
    async fn status(&self) -> PaymentProofStatus {
        self.0.status
    }
    /// The reason given when the proof was rejected; null otherwise.
    async fn review_note(&self) -> Option<&str> {
        self.0.review_note.as_deref()
    }
    /// When the proof was confirmed or rejected (UTC); null while SUBMITTED.
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
    /// When the client submitted it (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A file attached to a delivery.
#[derive(SimpleObject)]
pub struct DeliverableFile {
    /// Where to download the file: a public URL with an unguessable name.
    pub url: String,
    /// The file's name as uploaded, without any folder.
    pub file_name: String,
    /// The MIME type detected from the content: image/png, image/jpeg, image/webp,
    /// image/gif, application/pdf, application/zip or text/plain.
    pub content_type: String,
    /// The file's size in bytes.
    pub size_bytes: i64,
}

impl From<crate::storage::Attachment> for DeliverableFile {
    fn from(a: crate::storage::Attachment) -> Self {
        DeliverableFile {
            url: a.url,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
        }
    }
}

pub struct Deliverable(pub DeliverableRow);

/// Work handed over: one `submitWork`.
#[Object]
impl Deliverable {
    /// Opaque id of the delivery.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who delivered (the freelancer).
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.author_id).await
    }
    /// What was done (1 to 5,000 characters; may contain line breaks).
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// Links handed over (up to 10 http(s) URLs).
    async fn links(&self) -> &[String] {
        &self.0.links
    }
    /// Files handed over (up to 5).
    async fn files(&self) -> Vec<DeliverableFile> {
        serde_json::from_value::<Vec<crate::storage::Attachment>>(self.0.attachments.clone())
            .unwrap_or_default()
            .into_iter()
            .map(DeliverableFile::from)
            .collect()
    }
    /// 0 for the first delivery, n after the n-th revision request.
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    /// When the work was submitted (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
