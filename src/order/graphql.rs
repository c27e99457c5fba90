//! Orders over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, SimpleObject, Subscription, Upload, ID,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    codes::Purpose,
    loaders::{forget_orders, BoardOf, DeliverablesOf, DisputesOf, HistoryOf, MilestonesOf, OrderById, ProofsOf},
    machine::{self, Action, Status},
    model::{
        BoardItemRow, ChecklistItem, DeliverableRow, DisputeRow, HistoryRow, MilestoneRow, OrderRow, ProofRow, Side,
    },
    service::{self, Act, DeliveryInput, GigOrderInput, OrderEvent, ProofInput},
};
use crate::{
    application::{graphql::Application, loaders::ApplicationById},
    error::AppError,
    events::topic,
    gig::{
        graphql::{Gig, PackageTier},
        loaders::GigById,
    },
    graphql::{
        context::ContextExt,
        loader::{load_list, shared_error},
        pagination::{decode_event_cursor, decode_id_cursor, id_cursor, page_size, wants_total, Total},
        subscription::topic_events,
        types::{parse_id, Date},
    },
    message::{model::Attachment, service::NewAttachment},
    profile::{graphql::User, loaders::UserById},
    task::{graphql::Task, loaders::TaskById},
};

/// The machine's own enums are the GraphQL ones (`OrderStatus`, `OrderAction`).
pub use super::machine::{Action as OrderAction, Status as OrderStatus};

fn status_of(s: &str) -> OrderStatus {
    Status::parse(s).unwrap_or(OrderStatus::Cancelled)
}

/// How an order came about.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderOrigin {
    /// `orderGig`.
    Gig,
    /// `acceptApplication`.
    Application,
    /// `acceptTask` (IMMEDIATE tasks).
    Task,
    /// `requestBooking`.
    Booking,
}

/// The viewer's side of an order.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderSide {
    Client,
    Freelancer,
}

/// A contract between a client and a freelancer.
pub struct Order(pub Arc<OrderRow>);

impl Order {
    pub fn new(row: OrderRow) -> Self {
        Order(Arc::new(row))
    }
}

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn client(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.client_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    async fn freelancer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.freelancer_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    async fn origin(&self) -> OrderOrigin {
        match self.0.origin.as_str() {
            "APPLICATION" => OrderOrigin::Application,
            "TASK" => OrderOrigin::Task,
            "BOOKING" => OrderOrigin::Booking,
            _ => OrderOrigin::Gig,
        }
    }
    /// The gig ordered or booked.
    async fn gig(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Gig>> {
        let Some(id) = self.0.gig_id else { return Ok(None) };
        let row = ctx.loader().load_one(GigById(id)).await.map_err(shared_error)?;
        Ok(row.map(Gig))
    }
    async fn package_tier(&self) -> Option<PackageTier> {
        self.0.package_tier.as_deref().map(PackageTier::from_db)
    }
    /// The task the order was made for.
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Task>> {
        let Some(id) = self.0.task_id else { return Ok(None) };
        let row = ctx.loader().load_one(TaskById(id)).await.map_err(shared_error)?;
        Ok(row.map(Task))
    }
    /// The accepted application.
    async fn application(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Application>> {
        let Some(id) = self.0.application_id else {
            return Ok(None);
        };
        let row = ctx.loader().load_one(ApplicationById(id)).await.map_err(shared_error)?;
        Ok(row.map(Application))
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn requirements(&self) -> &str {
        &self.0.requirements
    }
    /// The whole order amount (the sum of its milestones), in minor units.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The platform fee rate, fixed when the order is funded.
    async fn fee_bps(&self) -> Option<i32> {
        self.0.fee_bps
    }
    /// The platform fee on this order, once funded.
    async fn fee_cents(&self) -> Option<i64> {
        self.0
            .fee_bps
            .map(|bps| crate::ledger::service::fee_cents(self.0.amount_cents, bps))
    }
    async fn status(&self) -> OrderStatus {
        status_of(&self.0.status)
    }
    /// Revision rounds included.
    async fn revision_limit(&self) -> i32 {
        self.0.revision_limit
    }
    async fn revisions_used(&self) -> i32 {
        self.0.revisions_used
    }
    /// On-site orders start and end with a code the client gives the freelancer.
    async fn on_site(&self) -> bool {
        self.0.on_site
    }
    /// The booked date.
    async fn scheduled_for(&self) -> Option<Date> {
        self.0.scheduled_for.map(Date)
    }
    async fn event_location(&self) -> Option<&str> {
        self.0.event_location.as_deref()
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// When the payment entered escrow.
    async fn funded_at(&self) -> Option<DateTime<Utc>> {
        self.0.funded_at
    }
    /// When escrow was released or refunded.
    async fn settled_at(&self) -> Option<DateTime<Utc>> {
        self.0.settled_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// What you could do to this order now.
    async fn available_actions(&self, ctx: &Context<'_>) -> Vec<OrderAction> {
        let Some(viewer) = ctx.viewer_opt() else {
            return Vec::new();
        };
        let Some(status) = Status::parse(&self.0.status) else {
            return Vec::new();
        };
        let roles = service::roles_of(&self.0, &viewer.user);
        machine::available(status, &roles)
            .into_iter()
            .filter(|a| *a != Action::ProviderPaymentSucceeded)
            .filter(|a| *a != Action::ApproveWork || roles.contains(&machine::Role::Client) || self.0.on_site)
            .collect()
    }
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
    /// Disputes, oldest first.
    async fn disputes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Dispute>> {
        list(ctx, DisputesOf(self.0.id), Dispute).await
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

/// One definition-of-done item.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "ChecklistItemInput")]
pub struct ChecklistEntry {
    pub text: String,
    #[graphql(default)]
    pub done: bool,
}

/// A part of an order with its own amount and due date.
pub struct OrderMilestone(MilestoneRow);

#[Object]
impl OrderMilestone {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// The definition of done.
    async fn checklist(&self) -> Vec<ChecklistEntry> {
        self.0
            .checklist_items()
            .into_iter()
            .map(|i| ChecklistEntry {
                text: i.text,
                done: i.done,
            })
            .collect()
    }
}

/// One transition of an order.
pub struct OrderHistoryEntry(HistoryRow);

#[Object]
impl OrderHistoryEntry {
    /// e.g. `CONFIRM_PAYMENT`; `CREATE` for the first entry.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn from_status(&self) -> Option<OrderStatus> {
        self.0.from_status.as_deref().map(status_of)
    }
    async fn to_status(&self) -> OrderStatus {
        status_of(&self.0.to_status)
    }
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        let row = ctx.loader().load_one(UserById(id)).await.map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// CLIENT, FREELANCER, ADMIN or SYSTEM.
    async fn actor_role(&self) -> &str {
        &self.0.actor_role
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PaymentProofStatus {
    Submitted,
    Confirmed,
    Rejected,
}

/// A client's evidence of a manual payment.
pub struct PaymentProof(ProofRow);

#[Object]
impl PaymentProof {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The transfer's reference (transaction id).
    async fn reference(&self) -> &str {
        &self.0.reference
    }
    async fn payer_name(&self) -> &str {
        &self.0.payer_name
    }
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    async fn status(&self) -> PaymentProofStatus {
        match self.0.status.as_str() {
            "CONFIRMED" => PaymentProofStatus::Confirmed,
            "REJECTED" => PaymentProofStatus::Rejected,
            _ => PaymentProofStatus::Submitted,
        }
    }
    async fn review_note(&self) -> Option<&str> {
        self.0.review_note.as_deref()
    }
    async fn reviewed_at(&self) -> Option<DateTime<Utc>> {
        self.0.reviewed_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A file attached to a delivery.
#[derive(SimpleObject)]
pub struct DeliverableFile {
    pub url: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// Work handed over.
pub struct Deliverable(DeliverableRow);

#[Object]
impl Deliverable {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.author_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    async fn links(&self) -> &[String] {
        &self.0.links
    }
    async fn files(&self) -> Vec<DeliverableFile> {
        serde_json::from_value::<Vec<Attachment>>(self.0.attachments.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|a| DeliverableFile {
                url: a.url,
                file_name: a.file_name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
            })
            .collect()
    }
    /// 0 for the first delivery, n after the n-th revision request.
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum BoardItemStatus {
    Todo,
    Doing,
    Done,
}

impl BoardItemStatus {
    fn as_db(self) -> &'static str {
        match self {
            Self::Todo => "TODO",
            Self::Doing => "DOING",
            Self::Done => "DONE",
        }
    }
}

/// A card on an order's task board.
pub struct BoardItem(BoardItemRow);

#[Object]
impl BoardItem {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn status(&self) -> BoardItemStatus {
        match self.0.status.as_str() {
            "DOING" => BoardItemStatus::Doing,
            "DONE" => BoardItemStatus::Done,
            _ => BoardItemStatus::Todo,
        }
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.created_by))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A dispute over an order (settled by an admin).
pub struct Dispute(DisputeRow);

#[Object]
impl Dispute {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn opened_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.opened_by))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// OPEN, IN_MEDIATION, RESOLVED_CLIENT, RESOLVED_FREELANCER, RESOLVED_SPLIT or DISMISSED.
    async fn status(&self) -> &str {
        &self.0.status
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// A start or end code, shown to the client once.
#[derive(SimpleObject)]
pub struct OrderCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderCodePurpose {
    Start,
    End,
}

/// One transition as a subscriber sees it.
pub struct OrderUpdate {
    order: Arc<OrderRow>,
    action: String,
    from: Option<String>,
    event_cursor: Option<i64>,
}

#[Object]
impl OrderUpdate {
    /// The order as the transition left it.
    async fn order(&self, ctx: &Context<'_>) -> Order {
        // The subscription's loader lives as long as the subscription: read lists afresh.
        forget_orders(ctx.loader());
        Order(self.order.clone())
    }
    /// e.g. `CONFIRM_PAYMENT`; `CREATE` when the order was made.
    async fn action(&self) -> &str {
        &self.action
    }
    async fn from_status(&self) -> Option<OrderStatus> {
        self.from.as_deref().map(status_of)
    }
    async fn to_status(&self) -> OrderStatus {
        status_of(&self.order.status)
    }
    /// Pass as `after` to resume from here.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|c| c.to_string())
    }
}

type OrderConnection = Connection<String, Order, Total, EmptyFields>;

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// An order you are a party of (admins see every order).
    async fn order(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Order>> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let row = ctx.loader().load_one(OrderById(id)).await.map_err(shared_error)?;
        Ok(row
            .filter(|o| !service::roles_of(o, &viewer.user).is_empty())
            .map(Order))
    }

    /// Your orders, newest first: as client, as freelancer, or both when `side` is omitted.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        side: Option<OrderSide>,
        status: Option<OrderStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = ctx.viewer()?.id();
        let size = page_size(first, ctx.app().config.limits.max_page_size)?;
        let before = decode_id_cursor(after.as_deref(), "after")?;
        let side = match side {
            Some(OrderSide::Client) => Side::Client,
            Some(OrderSide::Freelancer) => Side::Freelancer,
            None => Side::Either,
        };
        let status = status.map(Status::as_str);
        let page = service::mine(ctx.app(), viewer, side, status, before, size, wants_total(ctx)).await?;
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            page.more,
            Total {
                total_count: page.total.unwrap_or_default(),
            },
        );
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|row| Edge::new(id_cursor(row.id), Order::new(row))),
        );
        Ok(connection)
    }
}

#[derive(InputObject)]
pub struct OrderGigInput {
    pub gig_id: ID,
    pub tier: PackageTier,
    /// What you need (up to 5,000 characters).
    #[graphql(default)]
    pub requirements: String,
    /// A date the work is for (blocked in the freelancer's calendar at once).
    pub scheduled_for: Option<Date>,
    /// Where on-site work happens; makes the order on-site (start/end codes).
    pub event_location: Option<String>,
}

#[derive(InputObject)]
pub struct RequestBookingInput {
    pub gig_id: ID,
    pub tier: PackageTier,
    /// The day to book; the freelancer must accept.
    pub date: Date,
    #[graphql(default)]
    pub requirements: String,
    /// Where on-site work happens; makes the order on-site (start/end codes).
    pub event_location: Option<String>,
}

#[derive(InputObject)]
pub struct PaymentProofInput {
    /// The transfer's reference (transaction id).
    pub reference: String,
    pub payer_name: String,
    /// Must equal the order amount.
    pub amount_cents: i64,
}

#[derive(InputObject)]
pub struct SubmitWorkInput {
    pub order_id: ID,
    /// What was done (1 to 5,000 characters).
    pub message: String,
    /// Up to 10 http(s) links (repository, preview, …).
    #[graphql(default)]
    pub links: Vec<String>,
    /// Up to 5 files (images, PDF, ZIP, plain text) as GraphQL multipart uploads.
    #[graphql(default)]
    pub files: Vec<Upload>,
}

#[derive(Default)]
pub struct OrderMutation;

async fn act(ctx: &Context<'_>, order_id: &ID, act: Act) -> async_graphql::Result<Order> {
    let viewer = ctx.viewer()?;
    let id = parse_id(order_id, "orderId")?;
    Ok(Order::new(service::act(ctx.app(), &viewer.user, id, act).await?))
}

#[Object]
impl OrderMutation {
    /// Orders a package of an active gig; the order waits for payment.
    async fn order_gig(&self, ctx: &Context<'_>, input: OrderGigInput) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let gig_id = parse_id(&input.gig_id, "gigId")?;
        let row = service::order_gig(
            ctx.app(),
            &viewer.user,
            GigOrderInput {
                gig_id,
                tier: input.tier.as_db().into(),
                requirements: input.requirements,
                scheduled_for: input.scheduled_for.map(|d| d.0),
                event_location: input.event_location,
            },
            false,
        )
        .await?;
        Ok(Order::new(row))
    }

    /// Asks a freelancer to book a date for a package of their gig; they accept or decline.
    async fn request_booking(&self, ctx: &Context<'_>, input: RequestBookingInput) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let gig_id = parse_id(&input.gig_id, "gigId")?;
        let row = service::order_gig(
            ctx.app(),
            &viewer.user,
            GigOrderInput {
                gig_id,
                tier: input.tier.as_db().into(),
                requirements: input.requirements,
                scheduled_for: Some(input.date.0),
                event_location: input.event_location,
            },
            true,
        )
        .await?;
        Ok(Order::new(row))
    }

    /// Hires the author of an application to your open task: creates the order, assigns
    /// the task and turns the other applications down.
    async fn accept_application(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Order::new(
            service::accept_application(ctx.app(), &viewer.user, id).await?,
        ))
    }

    /// Takes an OPEN first-accept (IMMEDIATE) task: of everyone accepting at once exactly one
    /// gets the order (at the task's maximum budget, awaiting payment); the others get
    /// `CONFLICT`. Watchers of the task (`taskUpdated`) learn it is taken.
    async fn accept_task(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Order::new(service::accept_task(ctx.app(), &viewer.user, id).await?))
    }

    /// Freelancer: accepts a booking request (its date is blocked).
    async fn accept_order(&self, ctx: &Context<'_>, order_id: ID) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::Accept).await
    }

    /// Freelancer: declines a booking request.
    async fn decline_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::Decline { reason }).await
    }

    /// Client: reports a manual payment of the order amount.
    async fn submit_payment_proof(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        input: PaymentProofInput,
    ) -> async_graphql::Result<Order> {
        let proof = ProofInput {
            reference: input.reference,
            payer_name: input.payer_name,
            amount_cents: input.amount_cents,
        };
        act(ctx, &order_id, Act::SubmitPaymentProof(proof)).await
    }

    /// Freelancer (or an admin): confirms the payment arrived; the amount enters escrow.
    async fn confirm_payment(&self, ctx: &Context<'_>, order_id: ID) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::ConfirmPayment).await
    }

    /// Freelancer (or an admin): the payment did not arrive; the client may submit again.
    async fn reject_payment_proof(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::RejectPaymentProof { reason }).await
    }

    /// Freelancer: starts work (on-site orders need the client's start code).
    async fn start_work(&self, ctx: &Context<'_>, order_id: ID, code: Option<String>) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::StartWork { code }).await
    }

    /// Freelancer: delivers the work (or a revision).
    async fn submit_work(&self, ctx: &Context<'_>, input: SubmitWorkInput) -> async_graphql::Result<Order> {
        let mut files = Vec::with_capacity(input.files.len());
        for upload in &input.files {
            let value = upload
                .value(ctx)
                .map_err(|_| AppError::field("files", "a file is missing from the request"))?;
            files.push(NewAttachment {
                file_name: value.filename,
                bytes: value.content,
            });
        }
        let delivery = DeliveryInput {
            message: input.message,
            links: input.links,
            files,
        };
        act(ctx, &input.order_id, Act::SubmitWork(delivery)).await
    }

    /// Client: asks for changes (within the order's revision limit).
    async fn request_revision(&self, ctx: &Context<'_>, order_id: ID, note: String) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::RequestRevision { note }).await
    }

    /// Client: accepts the delivery; escrow is released to the freelancer. On on-site orders
    /// the freelancer may complete instead by entering the client's end code.
    async fn approve_work(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        code: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::ApproveWork { code }).await
    }

    /// Either party, before work starts: calls the order off (a funded order is refunded).
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::Cancel { reason }).await
    }

    /// Either party, after payment: freezes the order and its escrow until an admin settles it.
    async fn open_dispute(&self, ctx: &Context<'_>, order_id: ID, reason: String) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::OpenDispute { reason }).await
    }

    /// Client of an on-site order: a fresh start or end code to give the freelancer
    /// (valid 15 minutes, single use, 5 attempts).
    async fn issue_order_code(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        purpose: OrderCodePurpose,
    ) -> async_graphql::Result<OrderCode> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&order_id, "orderId")?;
        let purpose = match purpose {
            OrderCodePurpose::Start => Purpose::Start,
            OrderCodePurpose::End => Purpose::End,
        };
        let (code, expires_at) = service::issue_code(ctx.app(), &viewer.user, id, purpose).await?;
        Ok(OrderCode { code, expires_at })
    }

    /// Adds a card to an order's board.
    async fn add_board_item(&self, ctx: &Context<'_>, order_id: ID, title: String) -> async_graphql::Result<BoardItem> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&order_id, "orderId")?;
        Ok(BoardItem(
            service::add_board_item(ctx.app(), &viewer.user, id, &title).await?,
        ))
    }

    /// Moves a card between TODO, DOING and DONE.
    async fn move_board_item(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: BoardItemStatus,
    ) -> async_graphql::Result<BoardItem> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(BoardItem(
            service::move_board_item(ctx.app(), &viewer.user, id, status.as_db()).await?,
        ))
    }

    /// Removes a card; returns its id.
    async fn delete_board_item(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let gone: Uuid = service::delete_board_item(ctx.app(), &viewer.user, id).await?;
        Ok(ID(gone.to_string()))
    }

    /// Replaces a milestone's definition-of-done checklist (up to 20 items).
    async fn set_milestone_checklist(
        &self,
        ctx: &Context<'_>,
        milestone_id: ID,
        items: Vec<ChecklistEntry>,
    ) -> async_graphql::Result<OrderMilestone> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&milestone_id, "milestoneId")?;
        let items = items
            .into_iter()
            .map(|i| ChecklistItem {
                text: i.text,
                done: i.done,
            })
            .collect();
        Ok(OrderMilestone(
            service::set_checklist(ctx.app(), &viewer.user, id, items).await?,
        ))
    }
}

#[derive(Default)]
pub struct OrderSubscription;

#[Subscription]
impl OrderSubscription {
    /// Every transition of an order you are a party of (admins: any order), in order. Pass
    /// the last `eventCursor` you saw as `after` to first receive what you missed.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<OrderUpdate>>> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&order_id, "orderId")?;
        let after = decode_event_cursor(after.as_deref())?;
        let app = ctx.app().clone();
        service::visible(&app, &viewer.user, id).await?;
        let viewer_id = viewer.id();
        let is_admin = viewer.user.is_admin;
        Ok(
            topic_events(app, topic::order(id), after).filter_map(move |event| async move {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => return Some(Err(e.into())),
                };
                if event.kind != service::ORDER_UPDATED {
                    return None;
                }
                let payload = event.decode::<OrderEvent>()?;
                // Authorised per event: the parties of the order as it now stands, or admins.
                if !is_admin && !payload.order.is_party(viewer_id) {
                    return None;
                }
                Some(Ok(OrderUpdate {
                    order: payload.order.clone(),
                    action: payload.action.clone(),
                    from: payload.from.clone(),
                    event_cursor: event.seq,
                }))
            }),
        )
    }
}
