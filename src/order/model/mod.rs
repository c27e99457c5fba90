//! Rows and queries of orders and what hangs off them; disputes and their evidence in
//! [`dispute`].

mod dispute;

pub use self::dispute::*;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{
    by_id,
    schema::{
        disputes, order_board_items, order_codes, order_deliverables, order_history, order_milestones, order_payments,
        orders, payment_proofs,
    },
    text_enum::pg_enum,
};

pg_enum! {
    /// Where an order stands in its state machine. COMPLETED, CANCELLED and DECLINED are final.
    #[derive(async_graphql::Enum)]
    pub enum OrderStatus {
        /// A booking request waiting for the freelancer to accept or decline it.
        Requested = "REQUESTED",
        /// The freelancer declined the booking request (final).
        Declined = "DECLINED",
        /// Waiting for the client to pay.
        PendingPayment = "PENDING_PAYMENT",
        /// The client reported a manual payment (of the whole amount, a booking's deposit or
        /// its balance); the freelancer (or an admin) checks it.
        PaymentSubmitted = "PAYMENT_SUBMITTED",
        /// A booking with a deposit: the deposit is in escrow and the day is held; the client
        /// pays the balance (`balanceDueCents`) before the freelancer may start.
        DepositPaid = "DEPOSIT_PAID",
        /// Paid: the whole amount is in escrow and the freelancer may start.
        PaymentConfirmed = "PAYMENT_CONFIRMED",
        /// The freelancer is working.
        InProgress = "IN_PROGRESS",
        /// Work delivered; the client approves it or asks for a revision.
        Submitted = "SUBMITTED",
        /// The client asked for changes; the freelancer delivers again.
        RevisionRequested = "REVISION_REQUESTED",
        /// Done: escrow went to the freelancer less the platform fee (final).
        Completed = "COMPLETED",
        /// Called off: any escrow went back to the client (final).
        Cancelled = "CANCELLED",
        /// A party opened a dispute: the order and its escrow are frozen until an admin settles
        /// it as COMPLETED or CANCELLED.
        Disputed = "DISPUTED",
    }
}

impl OrderStatus {
    /// Nothing moves an order out of a final state.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Declined)
    }

    /// The status in words, for notifications ("payment confirmed").
    pub fn human(self) -> String {
        self.as_str().to_lowercase().replace('_', " ")
    }
}

pg_enum! {
    /// Who acts on an order (`order_history.actor_role`; GraphQL shows it as text).
    pub enum ActorRole {
        Client = "CLIENT",
        Freelancer = "FREELANCER",
        Admin = "ADMIN",
        /// The payment provider.
        System = "SYSTEM",
    }
}

pg_enum! {
    /// How an order came about.
    #[derive(async_graphql::Enum)]
    pub enum OrderOrigin {
        /// A package of a gig bought directly (`orderGig`).
        Gig = "GIG",
        /// A task's poster hired an applicant (`acceptApplication`).
        Application = "APPLICATION",
        /// A freelancer took an IMMEDIATE task (`acceptTask`).
        Task = "TASK",
        /// A dated booking of a gig package that the freelancer accepted or is still to answer
        /// (`requestBooking`).
        Booking = "BOOKING",
    }
}

pg_enum! {
    /// Which part of an order's amount a payment pays. An order is paid at once (FULL), or —
    /// a booking of a gig that asks a deposit — in two stages, DEPOSIT then BALANCE.
    #[derive(async_graphql::Enum)]
    pub enum PaymentStage {
        /// The whole amount in one payment.
        Full = "FULL",
        /// A booking's deposit (`depositCents`), due once the freelancer accepted.
        Deposit = "DEPOSIT",
        /// The rest of a booking's amount after its deposit, due before work starts.
        Balance = "BALANCE",
    }
}

impl PaymentStage {
    /// What tells this stage's keys (ledger, Stripe idempotency) from the others': nothing for
    /// FULL, so that orders paid at once keep the keys they always had.
    pub fn key_part(self) -> Option<&'static str> {
        match self {
            Self::Full => None,
            Self::Deposit => Some("deposit"),
            Self::Balance => Some("balance"),
        }
    }

    /// `base`, with this stage's part appended (`base:deposit`).
    pub fn key(self, base: String) -> String {
        match self.key_part() {
            Some(part) => format!("{base}:{part}"),
            None => base,
        }
    }
}

pg_enum! {
    /// Where a manual payment proof stands.
    #[derive(async_graphql::Enum)]
    pub enum PaymentProofStatus {
        /// Waiting for the freelancer (or an admin) to check the payment.
        Submitted = "SUBMITTED",
        /// The payment arrived (`confirmPayment`).
        Confirmed = "CONFIRMED",
        /// The payment did not arrive (`rejectPaymentProof`); the client may submit another.
        Rejected = "REJECTED",
    }
}

pg_enum! {
    /// A column of an order's board.
    #[derive(async_graphql::Enum)]
    pub enum BoardItemStatus {
        /// Not started; new cards land here.
        Todo = "TODO",
        /// Being worked on.
        Doing = "DOING",
        /// Finished.
        Done = "DONE",
    }
}

pg_enum! {
    /// Which step of an on-site order a code unlocks.
    #[derive(async_graphql::Enum)]
    pub enum OrderCodePurpose {
        /// Starting the work (`startWork`); issued while the order is PAYMENT_CONFIRMED.
        Start = "START",
        /// Completing the order by the freelancer (`approveWork`); issued while the order is
        /// IN_PROGRESS, SUBMITTED or REVISION_REQUESTED.
        End = "END",
    }
}

/// Which side of an order you are on; filters `myOrders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum OrderSide {
    /// Orders you placed or hired for: you pay.
    Client,
    /// Orders you work on: you get paid.
    Freelancer,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = orders, check_for_backend(diesel::pg::Pg))]
pub struct OrderRow {
    pub id: Uuid,
    pub client_id: Uuid,
    pub freelancer_id: Uuid,
    pub origin: OrderOrigin,
    pub gig_id: Option<Uuid>,
    pub package_tier: Option<String>,
    pub task_id: Option<Uuid>,
    pub application_id: Option<Uuid>,
    pub title: String,
    pub requirements: String,
    pub amount_cents: i64,
    pub currency: String,
    pub fee_bps: Option<i32>,
    pub status: OrderStatus,
    pub revision_limit: i32,
    pub revisions_used: i32,
    pub on_site: bool,
    pub scheduled_for: Option<NaiveDate>,
    pub event_location: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub funded_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The Stripe Checkout Session last made for the order (`createOrderCheckout`).
    #[serde(default)]
    pub stripe_checkout_session_id: Option<String>,
    /// The Stripe payment intent that completed the escrow (the whole amount, or a booking's
    /// balance): set by the webhook that funds it. Every payment's intent, a deposit's too,
    /// is in `order_payments`, which refunds read.
    #[serde(default)]
    pub stripe_payment_intent_id: Option<String>,
    /// Checkout Sessions asked for so far (numbers the idempotency key of the next one).
    #[serde(default)]
    pub checkout_attempts: i32,
    /// What the freelancer's side received on release, before the fee: the whole amount, or
    /// a dispute split's share; `None` until released.
    pub released_cents: Option<i64>,
    /// The deposit a booking asks before its balance, fixed when it was requested; `None`:
    /// paid at once.
    #[serde(default)]
    pub deposit_cents: Option<i64>,
    /// When the deposit entered escrow (`funded_at` is when the whole amount had).
    #[serde(default)]
    pub deposit_paid_at: Option<DateTime<Utc>>,
    /// An hourly order's weeks billed out of escrow so far (`None`: a fixed-price order).
    #[serde(default)]
    pub billed_cents: Option<i64>,
}

impl OrderRow {
    pub fn is_party(&self, user_id: Uuid) -> bool {
        self.client_id == user_id || self.freelancer_id == user_id
    }

    /// How the order is paid for.
    pub fn billing(&self) -> OrderBilling {
        match self.billed_cents {
            Some(_) => OrderBilling::Hourly,
            None => OrderBilling::Fixed,
        }
    }

    /// What the order's escrow holds until settled: what its payments put in
    /// ([`Self::paid_cents`]), less the weeks an hourly order has billed.
    pub fn escrow_cents(&self) -> i64 {
        self.paid_cents() - self.billed_cents.unwrap_or(0)
    }

    /// The payment the order waits for, whatever its status: the stage and its amount;
    /// `None` once the whole amount is in escrow.
    pub fn payment_due(&self) -> Option<(PaymentStage, i64)> {
        if self.funded_at.is_some() {
            return None;
        }
        Some(match (self.deposit_cents, self.deposit_paid_at) {
            (None, _) => (PaymentStage::Full, self.amount_cents),
            (Some(deposit), None) => (PaymentStage::Deposit, deposit),
            (Some(deposit), Some(_)) => (PaymentStage::Balance, self.amount_cents - deposit),
        })
    }

    /// What the order's payments put into escrow so far: the whole amount, the deposit, or
    /// nothing.
    pub fn paid_cents(&self) -> i64 {
        match (self.funded_at, self.deposit_paid_at, self.deposit_cents) {
            (Some(_), _, _) => self.amount_cents,
            (None, Some(_), Some(deposit)) => deposit,
            _ => 0,
        }
    }
}

/// One payment that entered an order's escrow (one per stage).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_payments, check_for_backend(diesel::pg::Pg))]
pub struct PaymentRow {
    pub order_id: Uuid,
    pub stage: PaymentStage,
    pub amount_cents: i64,
    /// The Stripe payment intent that paid it; `None` for a manual payment.
    pub stripe_payment_intent_id: Option<String>,
    pub paid_at: DateTime<Utc>,
}

/// How an order is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum OrderBilling {
    /// One price: escrow goes to the freelancer, less the fee, when the work is approved.
    Fixed,
    /// By the hour (an order made from an HOURLY task): the escrow is a retainer that each
    /// approved weekly timesheet bills from; what is left goes back to the client when the
    /// contract ends.
    Hourly,
}

/// The fields a transition may change.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = orders)]
pub struct Transition {
    pub status: OrderStatus,
    pub fee_bps: Option<i32>,
    pub revisions_used: i32,
    pub funded_at: Option<DateTime<Utc>>,
    pub deposit_paid_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub released_cents: Option<i64>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_milestones, check_for_backend(diesel::pg::Pg))]
pub struct MilestoneRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub position: i32,
    pub title: String,
    pub amount_cents: i64,
    pub due_at: Option<DateTime<Utc>>,
    pub checklist: serde_json::Value,
}

/// One definition-of-done item of a milestone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChecklistItem {
    pub text: String,
    pub done: bool,
}

impl MilestoneRow {
    pub fn checklist_items(&self) -> Vec<ChecklistItem> {
        serde_json::from_value(self.checklist.clone()).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_history, check_for_backend(diesel::pg::Pg))]
pub struct HistoryRow {
    pub id: Uuid,
    pub order_id: Uuid,
    /// The machine's action (`machine::Action`), or `CREATE` for the first entry.
    pub action: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor_id: Option<Uuid>,
    pub actor_role: ActorRole,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payment_proofs, check_for_backend(diesel::pg::Pg))]
pub struct ProofRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub submitted_by: Uuid,
    pub reference: String,
    pub payer_name: String,
    pub amount_cents: i64,
    pub currency: String,
    pub status: PaymentProofStatus,
    pub review_note: Option<String>,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_deliverables, check_for_backend(diesel::pg::Pg))]
pub struct DeliverableRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub author_id: Uuid,
    pub message: String,
    pub links: Vec<String>,
    pub attachments: serde_json::Value,
    pub revision: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_board_items, check_for_backend(diesel::pg::Pg))]
pub struct BoardItemRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub title: String,
    pub status: BoardItemStatus,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_codes, check_for_backend(diesel::pg::Pg))]
pub struct CodeRow {
    pub order_id: Uuid,
    pub purpose: OrderCodePurpose,
    pub code_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub attempts: i32,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &OrderRow, milestones: &[MilestoneRow]) -> QueryResult<()> {
    diesel::insert_into(orders::table).values(row).execute(conn).await?;
    diesel::insert_into(order_milestones::table)
        .values(milestones)
        .execute(conn)
        .await
        .map(drop)
}

by_id!(OrderRow, orders, find: find, lock: lock, many: find_many);
by_id!(MilestoneRow, order_milestones, lock: lock_milestone);
by_id!(BoardItemRow, order_board_items, find: find_board_item);

pub async fn apply(conn: &mut AsyncPgConnection, id: Uuid, change: &Transition) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id))
        .set(change)
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn mark_cleared(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set(orders::cleared_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}

/// When a completed order completed: its settlement, or its last change for an order
/// completed unfunded (what the review window counts from; indexed for the reminders).
const COMPLETED_AT: &str = "COALESCE(orders.settled_at, orders.updated_at)";

/// Completed orders that completed before `before` and whose parties were not reminded to
/// review yet, oldest first, locked (skipping any another instance holds).
pub async fn lock_review_reminders_due(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    use diesel::{dsl::sql, sql_types::Timestamptz};
    orders::table
        .filter(orders::status.eq(OrderStatus::Completed))
        .filter(orders::review_reminded_at.is_null())
        .filter(sql::<Timestamptz>(COMPLETED_AT).lt(before))
        .order(sql::<Timestamptz>(COMPLETED_AT))
        .limit(limit)
        .select(OrderRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

/// Records that the parties of `ids` were reminded to review (or passed over).
pub async fn mark_review_reminded(conn: &mut AsyncPgConnection, ids: &[Uuid], at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(orders::table.filter(orders::id.eq_any(ids)))
        .set(orders::review_reminded_at.eq(at))
        .execute(conn)
        .await
        .map(drop)
}

/// Completed orders whose earnings settled before `before` and have not cleared, locked
/// (skipping any another instance holds).
pub async fn lock_uncleared(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::status.eq(OrderStatus::Completed))
        .filter(orders::cleared_at.is_null())
        .filter(orders::settled_at.lt(before))
        // A dispute still open freezes the money where it is.
        .filter(diesel::dsl::not(diesel::dsl::exists(
            disputes::table
                .filter(disputes::order_id.eq(orders::id))
                .filter(disputes::status.eq_any(DisputeStatus::UNSETTLED)),
        )))
        .order(orders::settled_at)
        .limit(limit)
        .select(OrderRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

type OrderFilter = Box<dyn BoxableExpression<orders::table, diesel::pg::Pg, SqlType = diesel::sql_types::Bool>>;

/// The orders of `user_id`: on one `side` (both when `None`), optionally in one `status`.
fn of_user(user_id: Uuid, side: Option<OrderSide>, status: Option<OrderStatus>) -> OrderFilter {
    let parties: OrderFilter = match side {
        Some(OrderSide::Client) => Box::new(orders::client_id.eq(user_id)),
        Some(OrderSide::Freelancer) => Box::new(orders::freelancer_id.eq(user_id)),
        None => Box::new(orders::client_id.eq(user_id).or(orders::freelancer_id.eq(user_id))),
    };
    match status {
        Some(status) => Box::new(parties.and(orders::status.eq(status))),
        None => parties,
    }
}

/// A page of a user's orders (see [`of_user`]), newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    side: Option<OrderSide>,
    status: Option<OrderStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<OrderRow>> {
    let mut query = orders::table
        .filter(of_user(user_id, side, status))
        .select(OrderRow::as_select())
        .order(orders::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(orders::id.lt(before));
    }
    query.load(conn).await
}

/// How many orders [`page`] pages through.
pub async fn count(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    side: Option<OrderSide>,
    status: Option<OrderStatus>,
) -> QueryResult<i64> {
    orders::table
        .filter(of_user(user_id, side, status))
        .count()
        .get_result(conn)
        .await
}

/// Whether `a` and `b` have hired one another: an order between them that was accepted and
/// not called off.
pub async fn share_an_order(conn: &mut AsyncPgConnection, a: Uuid, b: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        orders::table
            .filter(
                (orders::client_id.eq(a).and(orders::freelancer_id.eq(b)))
                    .or(orders::client_id.eq(b).and(orders::freelancer_id.eq(a))),
            )
            .filter(orders::status.ne_all([OrderStatus::Requested, OrderStatus::Declined, OrderStatus::Cancelled])),
    ))
    .get_result(conn)
    .await
}

pub async fn milestones_of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<MilestoneRow>> {
    order_milestones::table
        .filter(order_milestones::order_id.eq_any(order_ids))
        .order((order_milestones::order_id, order_milestones::position))
        .select(MilestoneRow::as_select())
        .load(conn)
        .await
}

pub async fn set_checklist(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    checklist: serde_json::Value,
) -> QueryResult<MilestoneRow> {
    diesel::update(order_milestones::table.find(id))
        .set(order_milestones::checklist.eq(checklist))
        .returning(MilestoneRow::as_returning())
        .get_result(conn)
        .await
}

/// Marks the order's submitted proof confirmed or rejected.
pub async fn review_proof(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    status: PaymentProofStatus,
    reviewer: Uuid,
    note: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        payment_proofs::table
            .filter(payment_proofs::order_id.eq(order_id))
            .filter(payment_proofs::status.eq(PaymentProofStatus::Submitted)),
    )
    .set((
        payment_proofs::status.eq(status),
        payment_proofs::reviewed_by.eq(reviewer),
        payment_proofs::reviewed_at.eq(Utc::now()),
        payment_proofs::review_note.eq(note),
    ))
    .execute(conn)
    .await
}

pub async fn set_board_item_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: BoardItemStatus,
) -> QueryResult<BoardItemRow> {
    diesel::update(order_board_items::table.find(id))
        .set((
            order_board_items::status.eq(status),
            order_board_items::updated_at.eq(Utc::now()),
        ))
        .returning(BoardItemRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete_board_item(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(order_board_items::table.find(id)).execute(conn).await
}

pub async fn board_count(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<i64> {
    order_board_items::table
        .filter(order_board_items::order_id.eq(order_id))
        .count()
        .get_result(conn)
        .await
}

/// Stores a fresh code for (order, purpose), replacing any earlier one.
pub async fn put_code(conn: &mut AsyncPgConnection, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(order_codes::table)
        .values(row)
        .on_conflict((order_codes::order_id, order_codes::purpose))
        .do_update()
        .set((
            order_codes::code_hash.eq(&row.code_hash),
            order_codes::expires_at.eq(row.expires_at),
            order_codes::attempts.eq(0),
            order_codes::used_at.eq(None::<DateTime<Utc>>),
            order_codes::created_at.eq(row.created_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn lock_code(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    purpose: OrderCodePurpose,
) -> QueryResult<Option<CodeRow>> {
    order_codes::table
        .find((order_id, purpose))
        .select(CodeRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Counts a wrong attempt at a code.
pub async fn count_attempt(conn: &mut AsyncPgConnection, order_id: Uuid, purpose: OrderCodePurpose) -> QueryResult<()> {
    diesel::update(order_codes::table.find((order_id, purpose)))
        .set(order_codes::attempts.eq(order_codes::attempts + 1))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes codes that expired before `before`.
pub async fn prune_codes(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(order_codes::table.filter(order_codes::expires_at.lt(before)))
        .execute(conn)
        .await
}

/// Spends a code checked moments ago; false when another request spent it first.
pub async fn spend_code(conn: &mut AsyncPgConnection, order_id: Uuid, purpose: OrderCodePurpose) -> QueryResult<bool> {
    let spent = diesel::update(
        order_codes::table
            .find((order_id, purpose))
            .filter(order_codes::used_at.is_null()),
    )
    .set(order_codes::used_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(spent == 1)
}

/// The two queries of each record an order accumulates: `$insert` writes one row, `$of` reads
/// the rows of some orders, by order and oldest first (ids are time-ordered).
macro_rules! order_records {
    ($row:ty, $table:ident, $insert:ident, $of:ident) => {
        pub async fn $insert(conn: &mut AsyncPgConnection, row: &$row) -> QueryResult<()> {
            diesel::insert_into($table::table)
                .values(row)
                .execute(conn)
                .await
                .map(drop)
        }

        pub async fn $of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<$row>> {
            $table::table
                .filter($table::order_id.eq_any(order_ids))
                .order(($table::order_id, $table::id))
                .select(<$row>::as_select())
                .load(conn)
                .await
        }
    };
}

order_records!(HistoryRow, order_history, insert_history, history_of);
order_records!(ProofRow, payment_proofs, insert_proof, proofs_of);
order_records!(DeliverableRow, order_deliverables, insert_deliverable, deliverables_of);
order_records!(BoardItemRow, order_board_items, insert_board_item, board_of);

/// Records the Stripe payment intent that paid the order.
pub async fn set_payment_intent(conn: &mut AsyncPgConnection, id: Uuid, payment_intent: &str) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set(orders::stripe_payment_intent_id.eq(payment_intent))
        .execute(conn)
        .await
        .map(drop)
}

/// Records the Checkout Session made for the order.
pub async fn set_checkout_session(conn: &mut AsyncPgConnection, id: Uuid, session: &str) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set(orders::stripe_checkout_session_id.eq(session))
        .execute(conn)
        .await
        .map(drop)
}

/// Moves the order's checkout attempt from `seen` to `seen + 1` (a fresh idempotency key for
/// the next Checkout Session), unless another request did it first.
pub async fn next_checkout_attempt(conn: &mut AsyncPgConnection, id: Uuid, seen: i32) -> QueryResult<()> {
    diesel::update(orders::table.find(id).filter(orders::checkout_attempts.eq(seen)))
        .set(orders::checkout_attempts.eq(seen + 1))
        .execute(conn)
        .await
        .map(drop)
}

/// The id of the order a Stripe payment intent paid (any stage), if any.
pub async fn paid_by(conn: &mut AsyncPgConnection, payment_intent: &str) -> QueryResult<Option<Uuid>> {
    order_payments::table
        .filter(order_payments::stripe_payment_intent_id.eq(payment_intent))
        .select(order_payments::order_id)
        .first(conn)
        .await
        .optional()
}

/// Records a payment that entered the order's escrow.
pub async fn insert_payment(conn: &mut AsyncPgConnection, row: &PaymentRow) -> QueryResult<()> {
    diesel::insert_into(order_payments::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

/// The payments of an order, latest stage last (FULL, or DEPOSIT then BALANCE).
pub async fn payments_of(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Vec<PaymentRow>> {
    order_payments::table
        .filter(order_payments::order_id.eq(order_id))
        .order(order_payments::paid_at)
        .select(PaymentRow::as_select())
        .load(conn)
        .await
}

/// Adds a billed week of `amount_cents` to an hourly order (locked by the caller).
pub async fn add_billed(conn: &mut AsyncPgConnection, id: Uuid, amount_cents: i64) -> QueryResult<OrderRow> {
    diesel::update(orders::table.find(id).filter(orders::billed_cents.is_not_null()))
        .set((
            orders::billed_cents.eq(orders::billed_cents + amount_cents),
            orders::updated_at.eq(Utc::now()),
        ))
        .returning(OrderRow::as_returning())
        .get_result(conn)
        .await
}

/// Marks the order's escrow settled at `at` (it left the platform outside a transition).
pub async fn mark_settled(conn: &mut AsyncPgConnection, id: Uuid, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set((orders::settled_at.eq(at), orders::updated_at.eq(at)))
        .execute(conn)
        .await
        .map(drop)
}
