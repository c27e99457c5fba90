//! Disputes over GraphQL: the `Dispute` and its evidence, reading one, the parties'
//! `addDisputeEvidence`, and what the admin root fields (`disputes`, `assignDispute`,
//! `resolveDispute`) call.

use async_graphql::{Context, InputObject, Object, Upload, ID};
use chrono::{DateTime, Utc};

use super::{records::DeliverableFile, Order};
use crate::{
    code_link::graphql::{CiCheck, PullRequest},
    error::AppError,
    graphql::{
        context::ContextExt,
        loader::load_list,
        pagination::{connection, page_request, ListConnection},
        types::parse_id,
    },
    message::graphql::Message,
    order::{
        loaders::EvidenceOf,
        model::{DisputeOutcome, DisputeRow, DisputeStatus, EvidenceKind, EvidenceRow},
        service::dispute::{self, EvidenceInput},
    },
    profile::graphql::User,
    storage,
};

pub struct Dispute(pub DisputeRow);

/// A dispute over an order. Opening one (`openDispute`, or the card issuer through Stripe)
/// freezes the order (DISPUTED) and its escrow. The parties add evidence; an admin takes it
/// on as mediator (`assignDispute`, IN_MEDIATION) and rules (`resolveDispute`): for the
/// client, for the freelancer, a split, or dismissed. Seen by the order's parties and admins.
#[Object]
impl Dispute {
    /// Opaque id of the dispute: pass it to `dispute(id:)`, `addDisputeEvidence` and the
    /// admin mutations.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The order in dispute.
    async fn order(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Order>> {
        Order::on_record(ctx, self.0.order_id).await
    }
    /// Who opened it: the client or the freelancer (the client for a card dispute).
    async fn opened_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.opened_by).await
    }
    /// What went wrong, in the opener's words (3 to 2,000 characters), or the card issuer's
    /// reason.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Where it stands.
    async fn status(&self) -> DisputeStatus {
        self.0.status
    }
    /// Whether the card issuer opened it (Stripe's `charge.dispute.created`).
    async fn from_card_issuer(&self) -> bool {
        self.0.stripe_dispute_id.is_some()
    }
    /// The admin mediating it; null until one takes it on.
    async fn mediator(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.mediator_id else { return Ok(None) };
        User::on_record(ctx, id).await
    }
    /// When the mediator took it on (UTC).
    async fn assigned_at(&self) -> Option<DateTime<Utc>> {
        self.0.assigned_at
    }
    /// The evidence the parties added, oldest first (at most 50).
    async fn evidence(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<DisputeEvidence>> {
        let rows = load_list(ctx, EvidenceOf(self.0.id)).await?;
        Ok(rows.iter().cloned().map(DisputeEvidence).collect())
    }
    /// When it was opened (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it was settled (UTC); null while OPEN or IN_MEDIATION.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    /// Who settled it: the admin who ruled (null while unsettled, and when the order was
    /// settled by the payment provider).
    async fn resolved_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.resolved_by else { return Ok(None) };
        User::on_record(ctx, id).await
    }
    /// The ruling's explanation, shown to both parties.
    async fn resolution_note(&self) -> Option<&str> {
        self.0.resolution_note.as_deref()
    }
    /// RESOLVED_SPLIT: the freelancer's share of the escrow in basis points (7000 = 70 %).
    async fn split_bps(&self) -> Option<i32> {
        self.0.split_bps
    }
    /// What the settlement moved out of escrow back to the client, in cents (0 when no
    /// escrow was held); null while unsettled or when dismissed.
    async fn client_cents(&self) -> Option<i64> {
        self.0.client_cents
    }
    /// What the settlement released to the freelancer, in cents, before the platform fee on
    /// it (0 when no escrow was held); null while unsettled or when dismissed.
    async fn freelancer_cents(&self) -> Option<i64> {
        self.0.freelancer_cents
    }
}

pub struct DisputeEvidence(pub EvidenceRow);

/// One piece of evidence in a dispute, added by a party.
#[Object]
impl DisputeEvidence {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What it is.
    async fn kind(&self) -> EvidenceKind {
        self.0.kind
    }
    /// Who added it.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.author_id).await
    }
    /// MESSAGE: the message of the parties' conversation (null once it is deleted).
    async fn message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let Some(id) = self.0.message_id else { return Ok(None) };
        Message::on_record(ctx, id).await
    }
    /// PR: the pull request (null once it is gone).
    async fn pull_request(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PullRequest>> {
        let Some(id) = self.0.pull_request_id else {
            return Ok(None);
        };
        PullRequest::on_record(ctx, id).await
    }
    /// CI: the check (null once it is gone).
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CiCheck>> {
        let Some(id) = self.0.check_id else { return Ok(None) };
        CiCheck::on_record(ctx, id).await
    }
    /// LINK: the URL.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// FILE: the uploaded file.
    async fn file(&self) -> Option<DeliverableFile> {
        let file = self.0.file.clone()?;
        serde_json::from_value::<storage::Attachment>(file)
            .ok()
            .map(DeliverableFile::from)
    }
    /// The author's words on it (required for a NOTE, optional otherwise; up to 2,000
    /// characters); empty when none.
    async fn note(&self) -> &str {
        &self.0.note
    }
    /// When it was added (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Evidence for a dispute.
#[derive(InputObject)]
#[graphql(name = "DisputeEvidenceInput")]
pub struct EvidenceInputObject {
    /// What it is: MESSAGE, LINK, PR and CI need `ref`, FILE needs the `file` argument, NOTE
    /// needs `note`.
    pub kind: EvidenceKind,
    /// MESSAGE: the `id` of a message of your conversation with the other party (tied to
    /// this order or to none); LINK: an http(s) URL (up to 2,000 characters); PR: the `id` of
    /// a `PullRequest`, CI: the `id` of a `CiCheck`, of a repository this order links. Omit
    /// for FILE and NOTE.
    #[graphql(name = "ref")]
    pub reference: Option<String>,
    /// Your words on it (up to 2,000 characters); required for NOTE.
    pub note: Option<String>,
}

/// `dispute(id)`: the dispute if the viewer is a party of its order or an admin.
pub async fn one(ctx: &Context<'_>, id: &ID) -> async_graphql::Result<Option<Dispute>> {
    let viewer = ctx.viewer()?;
    let id = parse_id(id, "id")?;
    match dispute::find(ctx.app(), &viewer.user, id).await {
        Ok((row, _)) => Ok(Some(Dispute(row))),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `addDisputeEvidence`.
pub async fn add_evidence(
    ctx: &Context<'_>,
    dispute_id: &ID,
    input: EvidenceInputObject,
    file: Option<Upload>,
) -> async_graphql::Result<DisputeEvidence> {
    let viewer = ctx.viewer()?;
    let dispute_id = parse_id(dispute_id, "disputeId")?;
    let file = match file {
        Some(upload) => {
            let value = upload
                .value(ctx)
                .map_err(|_| AppError::field("file", "the file is missing from the request"))?;
            Some(storage::Upload {
                file_name: value.filename,
                bytes: value.content,
            })
        }
        None => None,
    };
    let input = EvidenceInput {
        kind: input.kind,
        reference: input.reference,
        note: input.note,
        file,
    };
    let row = dispute::add_evidence(ctx.app(), &viewer.user, dispute_id, input).await?;
    Ok(DisputeEvidence(row))
}

/// Admin `disputes(status)`: the mediators' queue, oldest first.
pub async fn queue(
    ctx: &Context<'_>,
    status: Option<DisputeStatus>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ListConnection<Dispute>> {
    let request = page_request(ctx, first, after.as_deref())?;
    let page = dispute::list(ctx.app(), status, &request).await?;
    Ok(connection(page, |row| row.id, Dispute))
}

/// Admin `assignDispute`.
pub async fn assign(ctx: &Context<'_>, dispute_id: &ID, mediator_id: Option<&ID>) -> async_graphql::Result<Dispute> {
    let admin = ctx.admin()?;
    let dispute_id = parse_id(dispute_id, "disputeId")?;
    let mediator_id = mediator_id.map(|id| parse_id(id, "mediatorId")).transpose()?;
    let row = dispute::assign(ctx.app(), &admin.user, dispute_id, mediator_id).await?;
    Ok(Dispute(row))
}

/// Admin `resolveDispute`.
pub async fn resolve(
    ctx: &Context<'_>,
    dispute_id: &ID,
    outcome: DisputeOutcome,
    split_bps: Option<i32>,
    note: String,
) -> async_graphql::Result<Dispute> {
    let admin = ctx.admin()?;
    let dispute_id = parse_id(dispute_id, "disputeId")?;
    let (row, _) = dispute::resolve(ctx.app(), &admin.user, dispute_id, outcome, split_bps, note).await?;
    Ok(Dispute(row))
}
