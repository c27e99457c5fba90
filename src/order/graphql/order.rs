//! The `Order` object: the contract's fields, what the viewer may do next, and the lists
//! hanging off it (each through its per-order loader), plus `OrderOrigin`.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};

use super::{
    board::{BoardItem, OrderMilestone},
    dispute::Dispute,
    records::{Deliverable, OrderHistoryEntry, PaymentProof},
    OrderAction, OrderBilling, OrderOrigin, OrderStatus, PaymentStage,
};
use crate::{
    application::{graphql::Application, loaders::ApplicationById},
    code_link::{
        self,
        graphql::{CodeLink, PullRequest},
    },
    error::AppError,
    gig::{
        graphql::{Gig, PackageTier},
        loaders::GigById,
    },
    graphql::{
        context::ContextExt,
        loader::{load_list, shared_error},
        types::Date,
    },
    order::{
        loaders::{BoardOf, DeliverablesOf, DisputesOf, HistoryOf, MilestonesOf, OrderById, ProofsOf},
        machine::{self, Action},
        model::{ActorRole, OrderRow},
        service,
    },
    profile::graphql::User,
    review::{self, graphql::Review},
    task::{graphql::Task, loaders::TaskById},
    timesheet::{
        graphql::Timesheet,
        loaders::{TermsOf, TimesheetsOf},
        model::TermsRow,
    },
};

pub struct Order(pub Arc<OrderRow>);

impl Order {
    pub fn new(row: OrderRow) -> Self {
        Order(Arc::new(row))
    }

    /// The order a record names, through the loader (null if it is gone).
    pub async fn on_record(ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<Option<Self>> {
        let row = ctx.loader().load_one(OrderById(id)).await.map_err(shared_error)?;
        Ok(row.map(Order))
    }
}

/// A contract between a client and a freelancer: the amount, its milestones, where it stands
/// in the order state machine, deliveries, board and disputes. Seen by its two parties and
/// admins. Every order action answers NOT_FOUND for an order that is not yours, FORBIDDEN
/// when your role may not take the action, and CONFLICT when the order's status does not
/// allow it.
#[Object]
impl Order {
    /// Opaque order id: pass it to `order(id:)`, the order mutations and `orderUpdated`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The client: who ordered or hired, and pays.
    async fn client(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.client_id).await
    }
    /// The freelancer: who does the work and gets paid.
    async fn freelancer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.freelancer_id).await
    }
    /// How the order came about.
    async fn origin(&self) -> OrderOrigin {
        self.0.origin
    }
    /// The gig ordered or booked; null for orders made from a task, or when the gig has been
    /// deleted.
    async fn gig(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Gig>> {
        let Some(id) = self.0.gig_id else { return Ok(None) };
        let row = ctx.loader().load_one(GigById(id)).await.map_err(shared_error)?;
        Ok(row.map(Gig))
    }
    /// The gig package bought (it set the price, delivery time and revisions); null for
    /// orders made from a task.
    async fn package_tier(&self) -> Option<PackageTier> {
        self.0.package_tier.as_deref().and_then(PackageTier::parse)
    }
    /// The task the order was made for; null for gig orders, or when the task has been
    /// deleted.
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Task>> {
        let Some(id) = self.0.task_id else { return Ok(None) };
        let row = ctx.loader().load_one(TaskById(id)).await.map_err(shared_error)?;
        Ok(row.map(Task))
    }
    /// The accepted application the order was made from (origin APPLICATION); null
    /// otherwise.
    async fn application(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Application>> {
        let Some(id) = self.0.application_id else {
            return Ok(None);
        };
        let row = ctx.loader().load_one(ApplicationById(id)).await.map_err(shared_error)?;
        Ok(row.map(Application))
    }
    /// The gig's or task's title, copied when the order was made.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the client asked for (up to 5,000 characters; may be empty); for orders made from
    /// a task, the task's description.
    async fn requirements(&self) -> &str {
        &self.0.requirements
    }
    /// The whole order amount (the sum of its milestones), in minor units of `currency`; for
    /// an HOURLY order, the retainer escrow is funded with (`contractWeeks` at the weekly cap).
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// ISO 4217 code of every amount on the order, e.g. `USD`.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The platform fee rate in basis points (800 = 8%), fixed when the first payment enters
    /// escrow (a booking's deposit); null until then.
    async fn fee_bps(&self) -> Option<i32> {
        self.0.fee_bps
    }
    /// The platform fee on this order in minor units (`amountCents` × `feeBps`, rounded half
    /// up), kept from the freelancer's payout; null until the first payment.
    async fn fee_cents(&self) -> Option<i64> {
        self.0
            .fee_bps
            .map(|bps| crate::ledger::service::fee_cents(self.0.amount_cents, bps))
    }
    /// Where the order stands in the order state machine.
    async fn status(&self) -> OrderStatus {
        self.0.status
    }
    /// Revision rounds included (from the gig package or the application).
    async fn revision_limit(&self) -> i32 {
        self.0.revision_limit
    }
    /// Revisions requested so far; once it reaches `revisionLimit`, `requestRevision`
    /// answers LIMIT_EXCEEDED.
    async fn revisions_used(&self) -> i32 {
        self.0.revisions_used
    }
    /// Whether the work happens on site: `startWork` then needs a start code from the client,
    /// and the freelancer may complete the order with an end code (see `issueOrderCode`).
    async fn on_site(&self) -> bool {
        self.0.on_site
    }
    /// The day the work is booked for: blocked in the freelancer's calendar at once for a
    /// direct order, when the freelancer accepts for a booking request. Null when no date was
    /// asked for.
    async fn scheduled_for(&self) -> Option<Date> {
        self.0.scheduled_for.map(Date)
    }
    /// Where on-site work happens (the order's `eventLocation`, or the task's address); null
    /// for remote work.
    async fn event_location(&self) -> Option<&str> {
        self.0.event_location.as_deref()
    }
    /// When delivery is due (UTC): for gig orders, the order time plus the package's delivery
    /// days; for task orders, the last milestone's due date. Null when there is none.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// When the whole amount was in escrow (UTC): the payment, or a booking's balance after
    /// its deposit; null until then.
    async fn funded_at(&self) -> Option<DateTime<Utc>> {
        self.0.funded_at
    }
    /// The deposit this booking asks before its balance, in minor units of `currency`: fixed
    /// when the booking was requested, from the gig's `bookingDepositBps`. Null for orders
    /// paid at once. Two stages then: the client pays the deposit once the freelancer accepts
    /// (PENDING_PAYMENT → DEPOSIT_PAID, day held), and the balance (`amountCents` −
    /// `depositCents`) before work starts (→ PAYMENT_CONFIRMED); each by card
    /// (`createOrderCheckout`) or manual proof, each into escrow. Release and refunds use
    /// everything paid; cancelling with only the deposit paid refunds the deposit.
    async fn deposit_cents(&self) -> Option<i64> {
        self.0.deposit_cents
    }
    /// When the deposit entered escrow (UTC); null until then, and for orders paid at once.
    async fn deposit_paid_at(&self) -> Option<DateTime<Utc>> {
        self.0.deposit_paid_at
    }
    /// What the client has paid into escrow so far: 0, the deposit, or `amountCents`.
    async fn paid_cents(&self) -> i64 {
        self.0.paid_cents()
    }
    /// What is left to pay of `amountCents` (`amountCents` − `paidCents`): the balance of a
    /// booking whose deposit is paid; 0 once fully paid. Null once the order is final or
    /// disputed (nothing more is collected then).
    async fn balance_due_cents(&self) -> Option<i64> {
        let open = !self.0.status.is_final() && self.0.status != OrderStatus::Disputed;
        open.then(|| self.0.amount_cents - self.0.paid_cents())
    }
    /// The stage the client pays now — FULL, or a booking's DEPOSIT then BALANCE — while the
    /// order waits for a payment (PENDING_PAYMENT, PAYMENT_SUBMITTED, DEPOSIT_PAID); null
    /// otherwise.
    async fn payment_due_stage(&self) -> Option<PaymentStage> {
        self.payment_due().map(|(stage, _)| stage)
    }
    /// What the client pays now (`createOrderCheckout` charges it; `submitPaymentProof`
    /// expects it), in minor units of `currency`; null when no payment is awaited.
    async fn payment_due_cents(&self) -> Option<i64> {
        self.payment_due().map(|(_, cents)| cents)
    }
    /// When escrow was released to the freelancer or refunded to the client (UTC); null while
    /// it is held or was never funded.
    async fn settled_at(&self) -> Option<DateTime<Utc>> {
        self.0.settled_at
    }
    /// When the order was made (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the order last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The actions you could take now, given the status and your role (empty when signed
    /// out). A hint for buttons: codes and the revision limit are not checked here, and the
    /// server checks everything again when you act.
    async fn available_actions(&self, ctx: &Context<'_>) -> Vec<OrderAction> {
        let Some(viewer) = ctx.viewer_opt() else {
            return Vec::new();
        };
        let roles = service::roles_of(&self.0, &viewer.user);
        machine::available(self.0.status, &roles)
            .into_iter()
            .filter(|a| *a != Action::ProviderPaymentSucceeded)
            .filter(|a| *a != Action::ApproveWork || roles.contains(&ActorRole::Client) || self.0.on_site)
            .collect()
    }
    /// The milestones in order (at least one); their amounts add up to `amountCents`.
    async fn milestones(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderMilestone>> {
        list(ctx, MilestonesOf(self.0.id), OrderMilestone).await
    }
    /// Every step the order took, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OrderHistoryEntry>> {
        list(ctx, HistoryOf(self.0.id), OrderHistoryEntry).await
    }
    /// Manual payment proofs, oldest first.
    async fn payment_proofs(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PaymentProof>> {
        list(ctx, ProofsOf(self.0.id), PaymentProof).await
    }
    /// Deliveries, oldest first.
    async fn deliverables(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Deliverable>> {
        list(ctx, DeliverablesOf(self.0.id), Deliverable).await
    }
    /// The order's task board (at most 100 items), oldest first.
    async fn board(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BoardItem>> {
        list(ctx, BoardOf(self.0.id), BoardItem).await
    }
    /// Repositories and preview URLs the parties linked (`linkRepository`, `addPreviewUrl`),
    /// oldest first (at most 20).
    async fn code_links(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CodeLink>> {
        code_link::graphql::links_of_order(ctx, self.0.id).await
    }
    /// The pull requests of every repository linked to the order or its milestones, as GitHub
    /// last reported them, most recently updated first.
    async fn pull_requests(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PullRequest>> {
        code_link::graphql::pull_requests_of_order(ctx, self.0.id).await
    }
    /// Disputes, oldest first.
    async fn disputes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Dispute>> {
        list(ctx, DisputesOf(self.0.id), Dispute).await
    }
    /// The order's current dispute: the one freezing it, or else the last one settled; null
    /// when it never had one.
    async fn dispute(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Dispute>> {
        let rows = load_list(ctx, DisputesOf(self.0.id)).await?;
        let current = rows.iter().find(|d| d.status.is_unsettled()).or(rows.last());
        Ok(current.cloned().map(Dispute))
    }
    /// How the order is paid for: FIXED (one price) or HOURLY (weekly timesheets billed out of
    /// a retainer).
    async fn billing(&self) -> OrderBilling {
        self.0.billing()
    }
    /// An HOURLY order's rate per hour in minor units of `currency`; null for FIXED orders.
    async fn hourly_rate_cents(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i64>> {
        Ok(self.terms(ctx).await?.map(|t| t.hourly_rate_cents))
    }
    /// An HOURLY order's weekly cap in hours: no ISO week may hold more logged time (more is
    /// refused with LIMIT_EXCEEDED); null for FIXED orders.
    async fn weekly_hour_cap(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        Ok(self.terms(ctx).await?.map(|t| t.weekly_minute_cap / 60))
    }
    /// How many weeks at the cap an HOURLY order's retainer covers (1, 4 or 13, from the
    /// task's expected duration); null for FIXED orders.
    async fn contract_weeks(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        Ok(self.terms(ctx).await?.map(|t| t.weeks))
    }
    /// What an HOURLY order's approved weeks billed out of escrow so far (before the fee);
    /// null for FIXED orders.
    async fn billed_cents(&self) -> Option<i64> {
        self.0.billed_cents
    }
    /// What the escrow still holds for an HOURLY order's coming weeks (the retainer less what
    /// was billed) while funded and not settled; null otherwise. Time that would cost more
    /// is refused with LIMIT_EXCEEDED; what is left goes back to the client when the contract
    /// ends.
    async fn escrow_remaining_cents(&self) -> Option<i64> {
        let held = self.0.funded_at.is_some() && self.0.settled_at.is_none();
        self.0.billed_cents.filter(|_| held).map(|_| self.0.escrow_cents())
    }
    /// An HOURLY order's weekly timesheets, latest week first (empty for FIXED orders).
    async fn timesheets(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Timesheet>> {
        list(ctx, TimesheetsOf(self.0.id), Timesheet::new).await
    }
    /// The parties' reviews of each other (after completion): public ones, and your own
    /// even while it is hidden (reviews are blind until both parties reviewed or the review
    /// window closed).
    async fn reviews(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Review>> {
        review::graphql::of_order(ctx, self.0.id).await
    }
}

impl Order {
    /// The payment the order waits for now, if it waits for one.
    fn payment_due(&self) -> Option<(PaymentStage, i64)> {
        let waiting = matches!(
            self.0.status,
            OrderStatus::PendingPayment | OrderStatus::PaymentSubmitted | OrderStatus::DepositPaid
        );
        self.0.payment_due().filter(|_| waiting)
    }

    /// The order's hourly terms (none for a fixed-price order), through the loader.
    async fn terms(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Arc<TermsRow>>> {
        if self.0.billed_cents.is_none() {
            return Ok(None);
        }
        Ok(ctx.loader().load_one(TermsOf(self.0.id)).await.map_err(shared_error)?)
    }
}

/// The rows a per-order loader holds for `key`, each wrapped for GraphQL.
async fn list<K, T, R>(ctx: &Context<'_>, key: K, wrap: fn(T) -> R) -> async_graphql::Result<Vec<R>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Clone + Send + Sync + 'static,
    crate::graphql::loader::DbLoader: async_graphql::dataloader::Loader<K, Value = Arc<Vec<T>>, Error = Arc<AppError>>,
{
    let rows = load_list(ctx, key).await?;
    Ok(rows.iter().cloned().map(wrap).collect())
}
