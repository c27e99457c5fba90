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
    /// A package of a gig bought directly (`orderGig`).
    Gig,
    /// A task's poster hired an applicant (`acceptApplication`).
    Application,
    /// A freelancer took an IMMEDIATE task (`acceptTask`).
    Task,
    /// A dated booking of a gig package that the freelancer accepted or is still to answer
    /// (`requestBooking`).
    Booking,
}

/// Which side of an order you are on; filters `myOrders`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderSide {
    /// Orders you placed or hired for: you pay.
    Client,
    /// Orders you work on: you get paid.
    Freelancer,
}

pub struct Order(pub Arc<OrderRow>);

impl Order {
    pub fn new(row: OrderRow) -> Self {
        Order(Arc::new(row))
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
        let row = ctx
            .loader()
            .load_one(UserById(self.0.client_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// The freelancer: who does the work and gets paid.
    async fn freelancer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.freelancer_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// How the order came about.
    async fn origin(&self) -> OrderOrigin {
        match self.0.origin.as_str() {
            "APPLICATION" => OrderOrigin::Application,
            "TASK" => OrderOrigin::Task,
            "BOOKING" => OrderOrigin::Booking,
            _ => OrderOrigin::Gig,
        }
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
        self.0.package_tier.as_deref().map(PackageTier::from_db)
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
    /// The whole order amount (the sum of its milestones), in minor units of `currency`.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// ISO 4217 code of every amount on the order, e.g. `USD`.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The platform fee rate in basis points (800 = 8%), fixed when the order is funded;
    /// null until then.
    async fn fee_bps(&self) -> Option<i32> {
        self.0.fee_bps
    }
    /// The platform fee on this order in minor units (`amountCents` × `feeBps`, rounded half
    /// up), kept from the freelancer's payout; null until the order is funded.
    async fn fee_cents(&self) -> Option<i64> {
        self.0
            .fee_bps
            .map(|bps| crate::ledger::service::fee_cents(self.0.amount_cents, bps))
    }
    /// Where the order stands in the order state machine.
    async fn status(&self) -> OrderStatus {
        status_of(&self.0.status)
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
    /// When the payment entered escrow (UTC); null while unpaid.
    async fn funded_at(&self) -> Option<DateTime<Utc>> {
        self.0.funded_at
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

/// One definition-of-done item of a milestone.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "ChecklistItemInput")]
pub struct ChecklistEntry {
    /// What must be true for the milestone to count as done (1 to 200 characters).
    pub text: String,
    /// Whether the item is ticked off (false when omitted).
    #[graphql(default)]
    pub done: bool,
}

pub struct OrderMilestone(MilestoneRow);

/// A part of an order with its own amount, due date and definition of done.
#[Object]
impl OrderMilestone {
    /// Opaque milestone id: pass it to `setMilestoneChecklist`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The milestone's place in the order, from 0.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// What this milestone delivers.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// This milestone's part of the order amount, in minor units of the order's currency.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
    /// When this milestone is due (UTC); null when no date was set.
    async fn due_at(&self) -> Option<DateTime<Utc>> {
        self.0.due_at
    }
    /// The definition of done (up to 20 items), as `setMilestoneChecklist` last set it.
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

pub struct OrderHistoryEntry(HistoryRow);

/// One step of an order: who took which action, and the status before and after.
#[Object]
impl OrderHistoryEntry {
    /// e.g. `CONFIRM_PAYMENT`; `CREATE` for the first entry.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The status before; null for the `CREATE` entry.
    async fn from_status(&self) -> Option<OrderStatus> {
        self.0.from_status.as_deref().map(status_of)
    }
    /// The status after.
    async fn to_status(&self) -> OrderStatus {
        status_of(&self.0.to_status)
    }
    /// Who acted; null for SYSTEM steps (the payment provider).
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = self.0.actor_id else { return Ok(None) };
        let row = ctx.loader().load_one(UserById(id)).await.map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// The role the actor acted in: CLIENT, FREELANCER, ADMIN or SYSTEM.
    async fn actor_role(&self) -> &str {
        &self.0.actor_role
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

/// Where a manual payment proof stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PaymentProofStatus {
    /// Waiting for the freelancer (or an admin) to check the payment.
    Submitted,
    /// The payment arrived (`confirmPayment`).
    Confirmed,
    /// The payment did not arrive (`rejectPaymentProof`); the client may submit another.
    Rejected,
}

pub struct PaymentProof(ProofRow);

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
        match self.0.status.as_str() {
            "CONFIRMED" => PaymentProofStatus::Confirmed,
            "REJECTED" => PaymentProofStatus::Rejected,
            _ => PaymentProofStatus::Submitted,
        }
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

pub struct Deliverable(DeliverableRow);

/// Work handed over: one `submitWork`.
#[Object]
impl Deliverable {
    /// Opaque id of the delivery.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who delivered (the freelancer).
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.author_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
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
    /// When the work was submitted (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A column of an order's board.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum BoardItemStatus {
    /// Not started; new cards land here.
    Todo,
    /// Being worked on.
    Doing,
    /// Finished.
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

pub struct BoardItem(BoardItemRow);

/// A card on an order's task board, shared by the client and the freelancer.
#[Object]
impl BoardItem {
    /// Opaque card id: pass it to `moveBoardItem` and `deleteBoardItem`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// What the card says (1 to 200 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// The card's column.
    async fn status(&self) -> BoardItemStatus {
        match self.0.status.as_str() {
            "DOING" => BoardItemStatus::Doing,
            "DONE" => BoardItemStatus::Done,
            _ => BoardItemStatus::Todo,
        }
    }
    /// Who added the card.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.created_by))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// When the card was added (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the card last moved (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct Dispute(DisputeRow);

/// A dispute over an order (`openDispute`). The order and its escrow stay frozen until an
/// admin settles the order with `overrideOrderStatus`.
#[Object]
impl Dispute {
    /// Opaque id of the dispute.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Who opened it: the client or the freelancer.
    async fn opened_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.0.opened_by))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// What went wrong, in the opener's words (3 to 2,000 characters).
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// OPEN until an admin settles the order: RESOLVED_FREELANCER when it is completed,
    /// RESOLVED_CLIENT when it is cancelled. (IN_MEDIATION, RESOLVED_SPLIT and DISMISSED are
    /// reserved.)
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// When it was opened (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the order was settled (UTC); null while the dispute is open.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
}

/// A start or end code of an on-site order, shown to the client once.
#[derive(SimpleObject)]
pub struct OrderCode {
    /// Six digits the client tells the freelancer in person; the freelancer passes them as
    /// `code` to `startWork` (START) or `approveWork` (END).
    pub code: String,
    /// When the code stops working (UTC), 15 minutes after it was issued. It is also spent
    /// by one use or by 5 wrong attempts.
    pub expires_at: DateTime<Utc>,
}

/// Which step of an on-site order a code unlocks.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderCodePurpose {
    /// Starting the work (`startWork`); issued while the order is PAYMENT_CONFIRMED.
    Start,
    /// Completing the order by the freelancer (`approveWork`); issued while the order is
    /// IN_PROGRESS, SUBMITTED or REVISION_REQUESTED.
    End,
}

pub struct OrderUpdate {
    order: Arc<OrderRow>,
    action: String,
    from: Option<String>,
    event_cursor: Option<i64>,
}

/// One transition of an order, as `orderUpdated` delivers it.
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
    /// The status before; null when the order was just made.
    async fn from_status(&self) -> Option<OrderStatus> {
        self.from.as_deref().map(status_of)
    }
    /// The status after.
    async fn to_status(&self) -> OrderStatus {
        status_of(&self.order.status)
    }
    /// Pass it as `after` to `orderUpdated` to resume after this event.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|c| c.to_string())
    }
}

type OrderConnection = Connection<String, Order, Total, EmptyFields>;

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// An order you are a party of (admins see every order); null when it does not exist or
    /// is not yours. UNAUTHORIZED when signed out.
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's id.")] id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let row = ctx.loader().load_one(OrderById(id)).await.map_err(shared_error)?;
        Ok(row
            .filter(|o| !service::roles_of(o, &viewer.user).is_empty())
            .map(Order))
    }

    /// Your orders, newest first: as client, as freelancer, or both when `side` is omitted.
    /// UNAUTHORIZED when signed out.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "CLIENT or FREELANCER; both when omitted.")] side: Option<OrderSide>,
        #[graphql(desc = "Only orders in this status; every status when omitted.")] status: Option<OrderStatus>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
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

/// What `orderGig` takes.
#[derive(InputObject)]
pub struct OrderGigInput {
    /// An ACTIVE gig of someone else; NOT_FOUND otherwise, CONFLICT for your own.
    pub gig_id: ID,
    /// The package to buy: it sets the price, delivery time and revisions. VALIDATION_ERROR
    /// when the gig has no such package.
    pub tier: PackageTier,
    /// What you need (up to 5,000 characters).
    #[graphql(default)]
    pub requirements: String,
    /// A date the work is for, from today up to 730 days ahead; blocked in the freelancer's
    /// calendar at once (CONFLICT when it is not free).
    pub scheduled_for: Option<Date>,
    /// Where on-site work happens (up to 300 characters); makes the order on-site
    /// (start/end codes).
    pub event_location: Option<String>,
}

/// What `requestBooking` takes.
#[derive(InputObject)]
pub struct RequestBookingInput {
    /// An ACTIVE gig of someone else; NOT_FOUND otherwise, CONFLICT for your own.
    pub gig_id: ID,
    /// The package to book: it sets the price, delivery time and revisions.
    pub tier: PackageTier,
    /// The day to book, from today up to 730 days ahead; it must be free (CONFLICT
    /// otherwise), and the freelancer must accept.
    pub date: Date,
    /// What you need (up to 5,000 characters).
    #[graphql(default)]
    pub requirements: String,
    /// Where on-site work happens (up to 300 characters); makes the order on-site
    /// (start/end codes).
    pub event_location: Option<String>,
}

/// A manual payment, as the client reports it.
#[derive(InputObject)]
pub struct PaymentProofInput {
    /// The transfer's reference, e.g. its transaction id (3 to 200 characters).
    pub reference: String,
    /// The name on the account that paid (2 to 200 characters).
    pub payer_name: String,
    /// The amount paid in minor units; must equal the order amount (VALIDATION_ERROR
    /// otherwise).
    pub amount_cents: i64,
}

/// A delivery for `submitWork`.
#[derive(InputObject)]
pub struct SubmitWorkInput {
    /// The order to deliver on; you must be its freelancer.
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
    /// Orders a package of an active gig at its price; the order starts in PENDING_PAYMENT and
    /// the freelancer is notified. NOT_FOUND when the gig is not active; CONFLICT for your own
    /// gig or a date that is not free; VALIDATION_ERROR names each bad field.
    async fn order_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig, the package and what you need.")] input: OrderGigInput,
    ) -> async_graphql::Result<Order> {
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

    /// Asks a freelancer to book a date for a package of their gig: the order is REQUESTED
    /// until they `acceptOrder` (PENDING_PAYMENT, date blocked) or `declineOrder`. NOT_FOUND
    /// when the gig is not active; CONFLICT for your own gig or a date that is not free.
    async fn request_booking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig, the package, the day and what you need.")] input: RequestBookingInput,
    ) -> async_graphql::Result<Order> {
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

    /// Hires the author of an application to your open task: creates the order
    /// (PENDING_PAYMENT, with the application's milestones, or one milestone at its proposed
    /// rate), assigns the task and turns the other open applications down. NOT_FOUND for
    /// applications to tasks that are not yours; CONFLICT when the task is not OPEN or the
    /// application was already decided or withdrawn.
    async fn accept_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application to accept.")] id: ID,
    ) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Order::new(
            service::accept_application(ctx.app(), &viewer.user, id).await?,
        ))
    }

    /// Takes an OPEN first-accept (IMMEDIATE) task: of everyone accepting at once exactly one
    /// gets the order (PENDING_PAYMENT, with the task's planned milestones, or one milestone
    /// at its maximum budget); the others get
    /// `CONFLICT` (as does a task whose deadline has passed or that is not IMMEDIATE).
    /// FORBIDDEN on your own task; NOT_FOUND when you cannot see it. Watchers of the task
    /// (`taskUpdated`) learn it is taken.
    async fn accept_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The OPEN IMMEDIATE task to take.")] id: ID,
    ) -> async_graphql::Result<Order> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Order::new(service::accept_task(ctx.app(), &viewer.user, id).await?))
    }

    /// Freelancer: accepts a booking request (REQUESTED → PENDING_PAYMENT) and blocks its date
    /// (CONFLICT when the day is no longer free).
    async fn accept_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A booking request made to you.")] order_id: ID,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::Accept).await
    }

    /// Freelancer: declines a booking request (REQUESTED → DECLINED, final).
    async fn decline_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A booking request made to you.")] order_id: ID,
        #[graphql(desc = "Why, for the client (up to 1,000 characters).")] reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::Decline { reason }).await
    }

    /// Client: reports a manual payment of the order amount (PENDING_PAYMENT →
    /// PAYMENT_SUBMITTED); the freelancer checks it.
    async fn submit_payment_proof(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the client of.")] order_id: ID,
        #[graphql(desc = "What you paid and how to find the transfer.")] input: PaymentProofInput,
    ) -> async_graphql::Result<Order> {
        let proof = ProofInput {
            reference: input.reference,
            payer_name: input.payer_name,
            amount_cents: input.amount_cents,
        };
        act(ctx, &order_id, Act::SubmitPaymentProof(proof)).await
    }

    /// Freelancer (or an admin): confirms the payment arrived (PAYMENT_SUBMITTED →
    /// PAYMENT_CONFIRMED); the amount enters escrow and the fee rate is fixed.
    async fn confirm_payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the freelancer of (admins: any order).")] order_id: ID,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::ConfirmPayment).await
    }

    /// Freelancer (or an admin): the payment did not arrive (PAYMENT_SUBMITTED →
    /// PENDING_PAYMENT); the client may submit again.
    async fn reject_payment_proof(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the freelancer of (admins: any order).")] order_id: ID,
        #[graphql(desc = "Why, for the client (up to 1,000 characters).")] reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::RejectPaymentProof { reason }).await
    }

    /// Freelancer: starts work (PAYMENT_CONFIRMED → IN_PROGRESS). On-site orders need the
    /// client's start code: VALIDATION_ERROR on `code` when it is missing, wrong, used or
    /// expired (each wrong attempt counts).
    async fn start_work(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the freelancer of.")] order_id: ID,
        #[graphql(desc = "The client's start code: required on on-site orders, else ignored.")] code: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::StartWork { code }).await
    }

    /// Freelancer: delivers the work or a revision (IN_PROGRESS or REVISION_REQUESTED →
    /// SUBMITTED); files come as GraphQL multipart uploads.
    async fn submit_work(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, a message, links and files.")] input: SubmitWorkInput,
    ) -> async_graphql::Result<Order> {
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

    /// Client: asks for changes (SUBMITTED → REVISION_REQUESTED); LIMIT_EXCEEDED once the
    /// order's `revisionLimit` is used up.
    async fn request_revision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the client of.")] order_id: ID,
        #[graphql(desc = "What to change (3 to 2,000 characters).")] note: String,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::RequestRevision { note }).await
    }

    /// Client: accepts the delivery (SUBMITTED → COMPLETED); escrow is released to the
    /// freelancer less the platform fee. On on-site orders the freelancer may complete instead
    /// by entering the client's end code; on other orders the freelancer gets FORBIDDEN.
    async fn approve_work(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are a party of.")] order_id: ID,
        #[graphql(desc = "The client's end code, needed when the freelancer completes on site.")] code: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::ApproveWork { code }).await
    }

    /// Either party, before work starts (REQUESTED, PENDING_PAYMENT, PAYMENT_SUBMITTED or
    /// PAYMENT_CONFIRMED): calls the order off (CANCELLED, final). A funded order is refunded
    /// to the client's balance and a booked date is freed; a task it was made for reopens.
    async fn cancel_order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are a party of.")] order_id: ID,
        #[graphql(desc = "Why, for the other party (up to 1,000 characters).")] reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::Cancel { reason }).await
    }

    /// Either party, after payment (PAYMENT_CONFIRMED, IN_PROGRESS, SUBMITTED or
    /// REVISION_REQUESTED): freezes the order (DISPUTED) and its escrow until an admin settles
    /// it.
    async fn open_dispute(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are a party of.")] order_id: ID,
        #[graphql(desc = "What went wrong (3 to 2,000 characters).")] reason: String,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::OpenDispute { reason }).await
    }

    /// Client of an on-site order: a fresh start or end code to give the freelancer
    /// (valid 15 minutes, single use, 5 attempts); it replaces any earlier code for that step.
    /// FORBIDDEN for anyone but the client; CONFLICT when the order is not on-site or not at
    /// that step.
    async fn issue_order_code(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An on-site order you are the client of.")] order_id: ID,
        #[graphql(desc = "START to let work begin, END to let the freelancer complete.")] purpose: OrderCodePurpose,
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

    /// Adds a card (TODO) to the board of an order you are a party of. CONFLICT once the order
    /// is COMPLETED, CANCELLED or DECLINED; LIMIT_EXCEEDED past 100 cards.
    async fn add_board_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are a party of.")] order_id: ID,
        #[graphql(desc = "What the card says (1 to 200 characters).")] title: String,
    ) -> async_graphql::Result<BoardItem> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&order_id, "orderId")?;
        Ok(BoardItem(
            service::add_board_item(ctx.app(), &viewer.user, id, &title).await?,
        ))
    }

    /// Moves a card between TODO, DOING and DONE (parties of an order that is not final;
    /// CONFLICT otherwise).
    async fn move_board_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The card.")] id: ID,
        #[graphql(desc = "The column to move it to.")] status: BoardItemStatus,
    ) -> async_graphql::Result<BoardItem> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(BoardItem(
            service::move_board_item(ctx.app(), &viewer.user, id, status.as_db()).await?,
        ))
    }

    /// Removes a card; returns its id (parties of an order that is not final; CONFLICT
    /// otherwise).
    async fn delete_board_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The card.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let gone: Uuid = service::delete_board_item(ctx.app(), &viewer.user, id).await?;
        Ok(ID(gone.to_string()))
    }

    /// Replaces a milestone's definition-of-done checklist (up to 20 items), for the parties
    /// of an order that is not final (CONFLICT otherwise).
    async fn set_milestone_checklist(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An `OrderMilestone` of an order you are a party of.")] milestone_id: ID,
        #[graphql(desc = "The new list in order: up to 20, texts 1 to 200 characters.")] items: Vec<ChecklistEntry>,
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
        #[graphql(desc = "An order you are a party of (admins: any order); NOT_FOUND otherwise.")] order_id: ID,
        #[graphql(desc = "The last `eventCursor` you received; later events are sent first.")] after: Option<String>,
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
