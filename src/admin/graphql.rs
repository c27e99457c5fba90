//! Admin operations over GraphQL.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};

use super::{
    model::{AuditRow, Filter},
    service,
};
use crate::{
    graphql::{
        context::ContextExt,
        pagination::{connection, list_cost, page_request, ListConnection},
        types::parse_id,
    },
    order::{
        graphql::{Order, OrderStatus},
        service::{self as orders, Act},
    },
    profile::graphql::{User, VerificationStatus},
    sos::{
        self,
        graphql::{SosAlert, SosStatus},
        service::Step,
    },
    verification::{self, graphql::VerificationRequest, service::Review},
};

/// One admin action, as the append-only audit log keeps it. Admins only.
#[derive(async_graphql::Description)]
pub struct AuditEntry(Arc<AuditRow>);

#[Object(use_type_description)]
impl AuditEntry {
    /// Opaque id of the entry.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The admin who acted.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.actor_id).await
    }
    /// What was done: `order.force_complete`, `order.force_cancel`, `verification.approve`,
    /// `verification.reject`, `sos.acknowledge` or `sos.resolve`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The kind of thing acted on: `ORDER`, `USER` or `SOS_ALERT`.
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The `id` of the thing acted on (an order, user or SOS alert, per `targetType`).
    async fn target_id(&self) -> ID {
        ID(self.0.target_id.to_string())
    }
    /// The admin's reason or note; empty when none was needed (e.g. an approval).
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Details of the action (e.g. the states before and after).
    async fn data(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.data.clone())
    }
    /// When the action happened (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Narrows the audit log; every condition given must hold.
#[derive(async_graphql::InputObject, Default)]
pub struct AuditLogFilter {
    /// Only actions by this admin (a user `id`).
    pub actor_id: Option<ID>,
    /// Only actions on this kind of thing: `ORDER`, `USER` or `SOS_ALERT` (exact match).
    pub target_type: Option<String>,
    /// Only actions on this order, user or SOS alert.
    pub target_id: Option<ID>,
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// The audit log, newest first (admins only).
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to narrow the log to; everything when omitted.")] filter: Option<AuditLogFilter>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<AuditEntry>> {
        ctx.admin()?;
        let filter = filter.unwrap_or_default();
        let filter = Filter {
            actor_id: filter
                .actor_id
                .as_ref()
                .map(|id| parse_id(id, "filter.actorId"))
                .transpose()?,
            target_type: filter.target_type,
            target_id: filter
                .target_id
                .as_ref()
                .map(|id| parse_id(id, "filter.targetId"))
                .transpose()?,
        };
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::audit_log(ctx.app(), &filter, &request).await?;
        Ok(connection(page, |row| row.id, |row| AuditEntry(Arc::new(row))))
    }

    /// Verification requests, newest first, optionally in one status (PENDING: the review
    /// queue). Admins only.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn verification_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only requests in this status: PENDING, VERIFIED or REJECTED (NONE answers \
                          `VALIDATION_ERROR`); all when omitted.")]
        status: Option<VerificationStatus>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<VerificationRequest>> {
        ctx.admin()?;
        verification::graphql::requests(ctx, status, first, after).await
    }

    /// SOS alerts, newest first, optionally in one status. Admins only.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn sos_alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only alerts in this status (OPEN: the ones needing help); all when omitted.")] status: Option<
            SosStatus,
        >,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<SosAlert>> {
        ctx.admin()?;
        sos::graphql::alerts(ctx, status, first, after).await
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Settles an order that is not final as COMPLETED (escrow released to the freelancer)
    /// or CANCELLED (escrow refunded to the client), with a reason for the audit log; both
    /// parties are notified. Admins only. `CONFLICT` when the order is already final.
    async fn override_order_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's `id`.")] id: ID,
        #[graphql(desc = "COMPLETED or CANCELLED; any other status answers `VALIDATION_ERROR`.")] status: OrderStatus,
        #[graphql(desc = "Why, for the audit log and the order history: 3 to 2,000 characters.")] reason: String,
    ) -> async_graphql::Result<Order> {
        let admin = ctx.admin()?;
        let id = parse_id(&id, "id")?;
        let row = orders::act(ctx.app(), &admin.user, id, Act::Override { status, reason }).await?;
        Ok(Order::new(row))
    }

    /// Approves (VERIFIED) or rejects (REJECTED; `note` says why) a member's pending
    /// verification. Their commission follows the fee policy; the review is audit-logged and
    /// the member notified. CONFLICT when nothing is pending; admins never review themselves.
    async fn review_verification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member whose pending request to review (not yourself: `FORBIDDEN`).")] user_id: ID,
        #[graphql(desc = "True to approve (VERIFIED), false to reject (REJECTED).")] approve: bool,
        #[graphql(desc = "Shown to the member: required for a rejection (3 to 1,000 characters), \
                          optional for an approval (up to 1,000).")]
        note: Option<String>,
    ) -> async_graphql::Result<VerificationRequest> {
        let admin = ctx.admin()?;
        let user_id = parse_id(&user_id, "userId")?;
        let row = verification::service::review(ctx.app(), &admin.user, Review { user_id, approve, note }).await?;
        Ok(VerificationRequest::new(row))
    }

    /// Takes an OPEN SOS alert on (ACKNOWLEDGED); the raiser is told help is on the way.
    /// Audit-logged. Admins only; `CONFLICT` when the alert is not OPEN.
    async fn acknowledge_sos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The alert's `id`.")] id: ID,
    ) -> async_graphql::Result<SosAlert> {
        let admin = ctx.admin()?;
        let id = parse_id(&id, "id")?;
        let row = sos::service::handle(ctx.app(), &admin.user, id, Step::Acknowledge).await?;
        Ok(SosAlert::new(row))
    }

    /// Closes an OPEN or ACKNOWLEDGED SOS alert (RESOLVED) with a note of what was done.
    /// Audit-logged; the raiser is notified. Admins only; `CONFLICT` when already resolved.
    async fn resolve_sos(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The alert's `id`.")] id: ID,
        #[graphql(desc = "What was done, shown to the raiser: 3 to 2,000 characters.")] note: String,
    ) -> async_graphql::Result<SosAlert> {
        let admin = ctx.admin()?;
        let id = parse_id(&id, "id")?;
        let row = sos::service::handle(ctx.app(), &admin.user, id, Step::Resolve { note }).await?;
        Ok(SosAlert::new(row))
    }
}
