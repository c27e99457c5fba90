//! Admin operations over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, ConnectionNameType, EdgeNameType, EmptyFields},
    Context, Object, ID,
};
use chrono::{DateTime, Utc};

use super::{
    model::{AuditRow, Filter},
    service,
};
use crate::{
    account, gig,
    gig::graphql::Gig,
    graphql::{
        context::ContextExt,
        pagination::{connection, list_cost, page_request, ListConnection, Total},
        types::parse_id,
    },
    order::{
        graphql::{disputes, Dispute, DisputeOutcome, DisputeStatus, Order, OrderStatus},
        service::{self as orders, Act},
    },
    profile::{
        self,
        graphql::{User, VerificationStatus},
        model::MemberFilter,
    },
    review,
    sos::{
        self,
        graphql::{SosAlert, SosStatus},
        service::Step,
    },
    task::{self, graphql::Task},
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
    /// Only actions on this kind of thing: `ORDER`, `DISPUTE`, `USER`, `GIG`, `TASK` or `SOS_ALERT`
    /// (exact match).
    pub target_type: Option<String>,
    /// Only actions on this order, user or SOS alert.
    pub target_id: Option<ID>,
}

/// Narrows the admins' member list; every condition given must hold.
#[derive(async_graphql::InputObject, Default)]
pub struct AdminUserFilter {
    /// Part of the email, username or full name (any case; at most 200 characters).
    pub search: Option<String>,
    /// Only administrators (ADMIN) or only other members (MEMBER).
    pub role: Option<MemberRole>,
    /// Only suspended members (true) or only members in good standing (false).
    pub banned: Option<bool>,
    /// Only members in this verification status.
    pub verification_status: Option<VerificationStatus>,
}

/// What a member is to the platform.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    /// A platform administrator.
    Admin,
    /// Everyone else (clients and freelancers alike).
    Member,
}

/// Names the admins' member list apart from the other lists of users.
pub struct MemberListNames;

impl ConnectionNameType for MemberListNames {
    fn type_name<T: async_graphql::OutputType>() -> String {
        "AdminUserConnection".into()
    }
}

impl EdgeNameType for MemberListNames {
    fn type_name<T: async_graphql::OutputType>() -> String {
        "AdminUserEdge".into()
    }
}

type AdminUserConnection = Connection<String, User, Total, EmptyFields, MemberListNames, MemberListNames>;

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

    /// Members, newest first, narrowed by `filter`; suspended members included unless
    /// filtered out. Admins only.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn admin_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to narrow the list to; everyone when omitted.")] filter: Option<AdminUserFilter>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<AdminUserConnection> {
        ctx.admin()?;
        let filter = filter.unwrap_or_default();
        let filter = MemberFilter {
            search: filter.search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
            admin: filter.role.map(|r| r == MemberRole::Admin),
            banned: filter.banned,
            verification_status: filter.verification_status,
        };
        let request = page_request(ctx, first, after.as_deref())?;
        let page = profile::service::members(&ctx.app().db, &filter, &request).await?;
        Ok(connection(page, |row| row.id, |row| User::new(Arc::new(row))))
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

    /// Disputes, oldest first (the mediators' queue), optionally in one status (OPEN: not
    /// yet taken on; IN_MEDIATION: being mediated). Admins only.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn disputes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only disputes in this status; all when omitted.")] status: Option<DisputeStatus>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Dispute>> {
        ctx.admin()?;
        disputes::queue(ctx, status, first, after).await
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
    /// Suspends a member at once: every further request of theirs answers `FORBIDDEN`, their
    /// sessions are revoked and their live subscriptions closed (4403); their gigs and tasks
    /// leave public lists. With `removeReviews`, every review they wrote is removed too (as
    /// by `removeReview`, each audit-logged). Audit-logged. Admins only; `FORBIDDEN` for
    /// yourself, `CONFLICT` when already suspended.
    async fn ban_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's `id`.")] user_id: ID,
        #[graphql(desc = "Why, for the audit log: 3 to 2,000 characters.")] reason: String,
        #[graphql(
            desc = "Also remove every review the member wrote (fake or abusive reviews of a fraud ring).",
            default = false
        )]
        remove_reviews: bool,
    ) -> async_graphql::Result<User> {
        let admin = ctx.admin()?;
        let user_id = parse_id(&user_id, "userId")?;
        let row = account::moderation::ban(ctx.app(), &admin.user, user_id, &reason, remove_reviews).await?;
        Ok(User::new(Arc::new(row)))
    }

    /// Removes a review: from now on it is public to nobody (its author included) and counts
    /// in no rating; a public one is taken out of the reviewee's `rating` and the gig's in
    /// this transaction. Its author is notified with the reason (SYSTEM). The other party's
    /// review of the order is untouched. Audit-logged with the review as it was. Admins only;
    /// `NOT_FOUND` for no such review, `CONFLICT` when already removed. Answers the reviewee,
    /// with their rating as it now stands.
    async fn remove_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The review's `id`.")] review_id: ID,
        #[graphql(desc = "Why, for the audit log and the author: 3 to 2,000 characters.")] reason: String,
    ) -> async_graphql::Result<User> {
        let admin = ctx.admin()?;
        let review_id = parse_id(&review_id, "reviewId")?;
        let reviewee = review::service::remove(ctx.app(), &admin.user, review_id, &reason).await?;
        Ok(User::new(Arc::new(reviewee)))
    }

    /// Lifts a member's suspension; they are told and sign in again (their old sessions stay
    /// revoked). Audit-logged. Admins only; `CONFLICT` when not suspended.
    async fn unban_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's `id`.")] user_id: ID,
        #[graphql(desc = "Why, for the audit log: 3 to 2,000 characters.")] reason: String,
    ) -> async_graphql::Result<User> {
        let admin = ctx.admin()?;
        let user_id = parse_id(&user_id, "userId")?;
        let row = account::moderation::unban(ctx.app(), &admin.user, user_id, &reason).await?;
        Ok(User::new(Arc::new(row)))
    }

    /// Takes a gig out of the catalogue: an ACTIVE gig is PAUSED and its owner cannot make it
    /// ACTIVE again; orders already placed go on. The owner is notified (GIG_UPDATE).
    /// Audit-logged. Admins only; `CONFLICT` when already deactivated.
    async fn deactivate_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
        #[graphql(desc = "Why, for the audit log and the owner: 3 to 2,000 characters.")] reason: String,
    ) -> async_graphql::Result<Gig> {
        let admin = ctx.admin()?;
        let id = parse_id(&id, "id")?;
        let row = gig::service::deactivate(ctx.app(), &admin.user, id, &reason).await?;
        Ok(Gig(Arc::new(row)))
    }

    /// Takes a task out of public view: a DRAFT or OPEN task is CANCELLED (no more
    /// applications or accepts); an assigned task keeps its status so that its order goes
    /// on. The poster is notified. Audit-logged. Admins only; `CONFLICT` when already
    /// deactivated.
    async fn deactivate_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task's `id`.")] id: ID,
        #[graphql(desc = "Why, for the audit log and the poster: 3 to 2,000 characters.")] reason: String,
    ) -> async_graphql::Result<Task> {
        let admin = ctx.admin()?;
        let id = parse_id(&id, "id")?;
        let row = task::service::deactivate(ctx.app(), &admin.user, id, &reason).await?;
        Ok(Task(Arc::new(row)))
    }

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

    /// Takes an OPEN or IN_MEDIATION dispute on as its mediator — yourself, or the admin
    /// `mediatorId` — making it IN_MEDIATION; both parties are notified. Audit-logged.
    /// Admins only; `CONFLICT` once the dispute is settled or when that admin already
    /// mediates it; `VALIDATION_ERROR` on `mediatorId` when it is not an admin.
    async fn assign_dispute(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The dispute's `id`.")] dispute_id: ID,
        #[graphql(desc = "The admin who mediates; yourself when omitted.")] mediator_id: Option<ID>,
    ) -> async_graphql::Result<Dispute> {
        ctx.admin()?;
        disputes::assign(ctx, &dispute_id, mediator_id.as_ref()).await
    }

    /// Rules on an OPEN or IN_MEDIATION dispute, in one transaction with the money, the
    /// order's final state, both parties' notifications (DISPUTE) and the audit entry:
    /// CLIENT refunds the escrow (to the card when paid through Stripe, else to the client's
    /// balance) and cancels the order; FREELANCER releases it less the fee and completes the
    /// order; SPLIT releases `splitBps` of it to the freelancer (less the fee on that share)
    /// and refunds the rest, and completes the order; DISMISSED puts the order back where it
    /// stood, escrow untouched. A card dispute that came after the order was final can only
    /// be DISMISSED. Admins only; `CONFLICT` when the dispute is already settled (of
    /// concurrent rulings one wins).
    async fn resolve_dispute(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The dispute's `id`.")] dispute_id: ID,
        #[graphql(desc = "The ruling.")] outcome: DisputeOutcome,
        #[graphql(desc = "SPLIT only (required then): the freelancer's share of the escrow in basis \
                          points, 1 to 9,999 (7000 = 70 % to the freelancer, 30 % back to the client); \
                          each side must get at least a cent.")]
        split_bps: Option<i32>,
        #[graphql(desc = "Why, shown to both parties and kept in the audit log: 3 to 2,000 characters.")] note: String,
    ) -> async_graphql::Result<Dispute> {
        ctx.admin()?;
        disputes::resolve(ctx, &dispute_id, outcome, split_bps, note).await
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

/// The names of every admin query and mutation field (for the test that proves each one
/// refuses non-admins).
pub async fn field_names() -> Vec<String> {
    let schema = async_graphql::Schema::build(AdminQuery, AdminMutation, async_graphql::EmptySubscription).finish();
    let response = schema
        .execute("{ __schema { queryType { fields { name } } mutationType { fields { name } } } }")
        .await;
    let data = response.data.into_json().unwrap_or_default();
    ["queryType", "mutationType"]
        .iter()
        .flat_map(|root| data["__schema"][root]["fields"].as_array().cloned().unwrap_or_default())
        .filter_map(|field| field["name"].as_str().map(str::to_owned))
        .collect()
}
