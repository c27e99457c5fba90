//! Disputes over orders and the evidence the parties add to them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::OrderStatus;
use crate::db::{
    by_id,
    schema::{dispute_evidence, disputes},
    text_enum::pg_enum,
};

pg_enum! {
    /// Where a dispute stands. OPEN and IN_MEDIATION are unsettled (at most one per order);
    /// the other four are final.
    #[derive(async_graphql::Enum)]
    pub enum DisputeStatus {
        /// Opened by a party (or the card issuer); waiting for a mediator.
        Open = "OPEN",
        /// An admin mediates it (`assignDispute`).
        InMediation = "IN_MEDIATION",
        /// Settled for the client: the escrow went back to them and the order is CANCELLED.
        ResolvedClient = "RESOLVED_CLIENT",
        /// Settled for the freelancer: the escrow went to them less the fee and the order is
        /// COMPLETED.
        ResolvedFreelancer = "RESOLVED_FREELANCER",
        /// Settled by splitting the escrow (`splitBps` to the freelancer, the rest to the
        /// client); the order is COMPLETED.
        ResolvedSplit = "RESOLVED_SPLIT",
        /// Closed without a ruling: the order went back to where it stood when it was
        /// disputed, its escrow untouched.
        Dismissed = "DISMISSED",
    }
}

impl DisputeStatus {
    /// The statuses of a dispute not yet settled (at most one per order).
    pub const UNSETTLED: [Self; 2] = [Self::Open, Self::InMediation];

    /// Whether the dispute is still waiting for a ruling.
    pub fn is_unsettled(self) -> bool {
        Self::UNSETTLED.contains(&self)
    }
}

/// An admin's ruling on a dispute (`resolveDispute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum DisputeOutcome {
    /// For the client: the escrow goes back to them and the order is CANCELLED
    /// (RESOLVED_CLIENT).
    Client,
    /// For the freelancer: the escrow is released to them less the fee and the order is
    /// COMPLETED (RESOLVED_FREELANCER).
    Freelancer,
    /// Split the escrow: `splitBps` of it to the freelancer (less the fee on that share), the
    /// rest back to the client; the order is COMPLETED (RESOLVED_SPLIT).
    Split,
    /// No ruling: the order goes back to where it stood when it was disputed and its escrow
    /// stays held (DISMISSED).
    Dismissed,
}

pg_enum! {
    /// What a piece of dispute evidence is.
    #[derive(async_graphql::Enum)]
    #[graphql(name = "DisputeEvidenceKind")]
    pub enum EvidenceKind {
        /// A message of the parties' conversation (`ref`: the message id).
        Message = "MESSAGE",
        /// A file (the `file` upload).
        File = "FILE",
        /// A web page (`ref`: an http(s) URL).
        Link = "LINK",
        /// A statement in the author's words (`note`).
        Note = "NOTE",
        /// A pull request of a repository the order links (`ref`: the `PullRequest` id).
        Pr = "PR",
        /// A CI check of a repository the order links (`ref`: the `CiCheck` id).
        Ci = "CI",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = disputes, check_for_backend(diesel::pg::Pg))]
pub struct DisputeRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub opened_by: Uuid,
    pub reason: String,
    pub status: DisputeStatus,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The card dispute (`dp_…`) that opened it, for disputes opened by the card issuer.
    pub stripe_dispute_id: Option<String>,
    /// Where the order stood when the dispute froze it (a dismissal puts it back there).
    pub resumes_status: Option<OrderStatus>,
    pub mediator_id: Option<Uuid>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolution_note: Option<String>,
    /// RESOLVED_SPLIT: the freelancer's share in basis points.
    pub split_bps: Option<i32>,
    /// What the resolution moved out of escrow to the client.
    pub client_cents: Option<i64>,
    /// What the resolution moved out of escrow to the freelancer's side (before the fee).
    pub freelancer_cents: Option<i64>,
}

impl DisputeRow {
    /// A dispute opened now by `opened_by` on an order that stood in `order_status` (a
    /// dismissal puts a live order back there; a card dispute may come after the order is
    /// final).
    pub fn open(
        order_id: Uuid,
        opened_by: Uuid,
        reason: String,
        order_status: OrderStatus,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            order_id,
            opened_by,
            reason,
            status: DisputeStatus::Open,
            created_at: now,
            resolved_at: None,
            stripe_dispute_id: None,
            resumes_status: Some(order_status).filter(|s| !s.is_final() && *s != OrderStatus::Disputed),
            mediator_id: None,
            assigned_at: None,
            resolved_by: None,
            resolution_note: None,
            split_bps: None,
            client_cents: None,
            freelancer_cents: None,
        }
    }
}

/// How a dispute was settled, written with its final status.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = disputes, treat_none_as_null = true)]
pub struct Resolution {
    pub status: DisputeStatus,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolution_note: Option<String>,
    pub split_bps: Option<i32>,
    pub client_cents: Option<i64>,
    pub freelancer_cents: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = dispute_evidence, check_for_backend(diesel::pg::Pg))]
pub struct EvidenceRow {
    pub id: Uuid,
    pub dispute_id: Uuid,
    pub author_id: Uuid,
    pub kind: EvidenceKind,
    pub message_id: Option<Uuid>,
    pub url: Option<String>,
    /// The stored upload (`storage::Attachment` as JSON).
    pub file: Option<serde_json::Value>,
    pub note: String,
    pub created_at: DateTime<Utc>,
    /// PR: the pull request (null once it is gone).
    pub pull_request_id: Option<Uuid>,
    /// CI: the check (null once it is gone).
    pub check_id: Option<Uuid>,
}

pub async fn insert_dispute(conn: &mut AsyncPgConnection, row: &DisputeRow) -> QueryResult<()> {
    diesel::insert_into(disputes::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// The disputes of some orders, by order and oldest first.
pub async fn disputes_of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<DisputeRow>> {
    disputes::table
        .filter(disputes::order_id.eq_any(order_ids))
        .order((disputes::order_id, disputes::id))
        .select(DisputeRow::as_select())
        .load(conn)
        .await
}

by_id!(DisputeRow, disputes, find: find_dispute, lock: lock_dispute);

/// The order's unsettled dispute, if any.
pub async fn unsettled_dispute(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Option<DisputeRow>> {
    disputes::table
        .filter(disputes::order_id.eq(order_id))
        .filter(disputes::status.eq_any(DisputeStatus::UNSETTLED))
        .select(DisputeRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Closes the order's unsettled dispute (at most one) with `resolution`; the dispute closed.
pub async fn resolve_dispute(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    resolution: &Resolution,
) -> QueryResult<Option<DisputeRow>> {
    diesel::update(
        disputes::table
            .filter(disputes::order_id.eq(order_id))
            .filter(disputes::status.eq_any(DisputeStatus::UNSETTLED)),
    )
    .set(resolution)
    .returning(DisputeRow::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Puts `mediator_id` in charge of the dispute (IN_MEDIATION).
pub async fn assign_mediator(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mediator_id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<DisputeRow> {
    diesel::update(disputes::table.find(id))
        .set((
            disputes::status.eq(DisputeStatus::InMediation),
            disputes::mediator_id.eq(mediator_id),
            disputes::assigned_at.eq(at),
        ))
        .returning(DisputeRow::as_returning())
        .get_result(conn)
        .await
}

/// Disputes after `after`, oldest first (the mediators' queue), optionally in one status.
pub async fn disputes_after(
    conn: &mut AsyncPgConnection,
    status: Option<DisputeStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<DisputeRow>> {
    let mut query = disputes::table.into_boxed();
    if let Some(status) = status {
        query = query.filter(disputes::status.eq(status));
    }
    if let Some(after) = after {
        query = query.filter(disputes::id.gt(after));
    }
    query
        .order(disputes::id)
        .limit(limit)
        .select(DisputeRow::as_select())
        .load(conn)
        .await
}

/// How many disputes there are, optionally in one status.
pub async fn disputes_count(conn: &mut AsyncPgConnection, status: Option<DisputeStatus>) -> QueryResult<i64> {
    let mut query = disputes::table.into_boxed();
    if let Some(status) = status {
        query = query.filter(disputes::status.eq(status));
    }
    query.count().get_result(conn).await
}

/// Whether a dispute already records the card dispute `stripe_dispute_id`.
pub async fn card_dispute_known(conn: &mut AsyncPgConnection, stripe_dispute_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        disputes::table.filter(disputes::stripe_dispute_id.eq(stripe_dispute_id)),
    ))
    .get_result(conn)
    .await
}

/// Ties the card dispute `stripe_dispute_id` to the order's unsettled dispute; false when it
/// has none.
pub async fn attach_card_dispute(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    stripe_dispute_id: &str,
) -> QueryResult<bool> {
    diesel::update(
        disputes::table
            .filter(disputes::order_id.eq(order_id))
            .filter(disputes::status.eq_any(DisputeStatus::UNSETTLED))
            .filter(disputes::stripe_dispute_id.is_null()),
    )
    .set(disputes::stripe_dispute_id.eq(stripe_dispute_id))
    .execute(conn)
    .await
    .map(|n| n == 1)
}

pub async fn insert_evidence(conn: &mut AsyncPgConnection, row: &EvidenceRow) -> QueryResult<()> {
    diesel::insert_into(dispute_evidence::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// How much evidence the dispute holds.
pub async fn evidence_count(conn: &mut AsyncPgConnection, dispute_id: Uuid) -> QueryResult<i64> {
    dispute_evidence::table
        .filter(dispute_evidence::dispute_id.eq(dispute_id))
        .count()
        .get_result(conn)
        .await
}

/// The evidence of some disputes, by dispute and oldest first.
pub async fn evidence_of(conn: &mut AsyncPgConnection, dispute_ids: &[Uuid]) -> QueryResult<Vec<EvidenceRow>> {
    dispute_evidence::table
        .filter(dispute_evidence::dispute_id.eq_any(dispute_ids))
        .order((dispute_evidence::dispute_id, dispute_evidence::id))
        .select(EvidenceRow::as_select())
        .load(conn)
        .await
}
