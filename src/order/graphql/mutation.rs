//! Changing orders: creating them, every state-machine action, start and end codes, the
//! board and milestone checklists.

use async_graphql::{Context, Object, SimpleObject, Upload, ID};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{
    board::{BoardItem, ChecklistEntry, OrderMilestone},
    dispute::{self, DisputeEvidence, EvidenceInputObject},
    inputs::{OrderGigInput, PaymentProofInput, RequestBookingInput, SubmitWorkInput},
    BoardItemStatus, Order, OrderCodePurpose, PaymentStage,
};
use crate::{
    error::AppError,
    gig::graphql::PackageTier,
    graphql::{context::ContextExt, types::parse_id},
    order::{
        model::ChecklistItem,
        service::{self, Act, DeliveryInput, GigOrderInput, ProofInput},
    },
    profile::model::UserRow,
};

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

/// A Stripe-hosted page where the client pays an order (Stripe Checkout).
#[derive(async_graphql::Description)]
pub struct OrderCheckout(service::OrderCheckout);

#[Object(use_type_description)]
impl OrderCheckout {
    /// Send the client's browser here.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// Stripe's id of the Checkout Session (`cs_…`).
    async fn session_id(&self) -> &str {
        &self.0.session_id
    }
    /// When the page stops taking payments (UTC); ask again for a new one after.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// The order being paid (PENDING_PAYMENT, or DEPOSIT_PAID for a booking's balance, until
    /// the webhook reports the payment).
    async fn order(&self) -> Order {
        Order::new(self.0.order.clone())
    }
    /// Which part of the order's amount the page takes: FULL, or a booking's DEPOSIT, then
    /// its BALANCE.
    async fn stage(&self) -> PaymentStage {
        self.0.stage
    }
    /// What the page takes, in minor units of the order's currency.
    async fn amount_cents(&self) -> i64 {
        self.0.amount_cents
    }
}

#[derive(Default)]
pub struct OrderMutation;

/// The signed-in user and the id of what a mutation changes (`field` names it in errors).
fn viewer_and<'c>(ctx: &'c Context<'_>, id: &ID, field: &str) -> async_graphql::Result<(&'c UserRow, Uuid)> {
    Ok((&ctx.viewer()?.user, parse_id(id, field)?))
}

async fn act(ctx: &Context<'_>, order_id: &ID, act: Act) -> async_graphql::Result<Order> {
    let (viewer, id) = viewer_and(ctx, order_id, "orderId")?;
    Ok(Order::new(service::act(ctx.app(), viewer, id, act).await?))
}

/// `orderGig` and `requestBooking` (`booking`): a package of a gig, for the viewer.
async fn order_package(
    ctx: &Context<'_>,
    gig_id: &ID,
    tier: PackageTier,
    requirements: String,
    scheduled_for: Option<NaiveDate>,
    event_location: Option<String>,
    booking: bool,
) -> async_graphql::Result<Order> {
    let viewer = ctx.viewer()?;
    let input = GigOrderInput {
        gig_id: parse_id(gig_id, "gigId")?,
        tier: tier.as_str().into(),
        requirements,
        scheduled_for,
        event_location,
    };
    Ok(Order::new(
        service::order_gig(ctx.app(), &viewer.user, input, booking).await?,
    ))
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
        let scheduled_for = input.scheduled_for.map(|d| d.0);
        let (tier, requirements, location) = (input.tier, input.requirements, input.event_location);
        order_package(ctx, &input.gig_id, tier, requirements, scheduled_for, location, false).await
    }

    /// Asks a freelancer to book a date for a package of their gig: the order is REQUESTED
    /// until they `acceptOrder` (PENDING_PAYMENT, date blocked) or `declineOrder`. NOT_FOUND
    /// when the gig is not active; CONFLICT for your own gig or a date that is not free.
    async fn request_booking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig, the package, the day and what you need.")] input: RequestBookingInput,
    ) -> async_graphql::Result<Order> {
        let scheduled_for = Some(input.date.0);
        let (tier, requirements, location) = (input.tier, input.requirements, input.event_location);
        order_package(ctx, &input.gig_id, tier, requirements, scheduled_for, location, true).await
    }

    /// Hires the author of an application to your open task: creates the order
    /// (PENDING_PAYMENT, with the application's milestones, or one milestone at its proposed
    /// rate), assigns the task and turns the other open applications down. NOT_FOUND for
    /// applications to tasks that are not yours; CONFLICT when the task is not OPEN or the
    /// application was already decided or withdrawn. An HOURLY task becomes an hourly
    /// contract at the application's proposed rate (`billing: HOURLY`): its amount is a
    /// retainer of `contractWeeks` at the weekly cap, and time is billed week by week from it
    /// (see `logTime`).
    async fn accept_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application to accept.")] id: ID,
        #[graphql(
            desc = "HOURLY tasks only, and required for them: the most hours the freelancer may log in one week (1 to 80)."
        )]
        weekly_hour_cap: Option<i32>,
    ) -> async_graphql::Result<Order> {
        let (viewer, id) = viewer_and(ctx, &id, "id")?;
        Ok(Order::new(
            service::accept_application(ctx.app(), viewer, id, weekly_hour_cap).await?,
        ))
    }

    /// Takes an OPEN first-accept (IMMEDIATE) task: of everyone accepting at once exactly one
    /// gets the order (PENDING_PAYMENT, with the task's planned milestones, or one milestone
    /// at its maximum budget); the others get
    /// `CONFLICT` (as does a task whose deadline has passed or that is not IMMEDIATE).
    /// FORBIDDEN on your own task; NOT_FOUND when you cannot see it. Watchers of the task
    /// (`taskUpdated`) learn it is taken. An HOURLY task becomes an hourly contract at its
    /// maximum budget per hour with a weekly cap of 40 hours.
    async fn accept_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The OPEN IMMEDIATE task to take.")] id: ID,
    ) -> async_graphql::Result<Order> {
        let (viewer, id) = viewer_and(ctx, &id, "id")?;
        Ok(Order::new(service::accept_task(ctx.app(), viewer, id).await?))
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

    /// Client of a PENDING_PAYMENT order: a Stripe Checkout page to pay the order amount by
    /// card — or, for a booking whose gig asks a deposit, the deposit first and, once the
    /// order is DEPOSIT_PAID, the balance (each page takes `paymentDueCents`). The platform
    /// holds the money as escrow. The order becomes DEPOSIT_PAID or PAYMENT_CONFIRMED when
    /// Stripe's webhook reports the payment, not when the browser comes back. Asking again
    /// answers the same page while it is open; a new one once it expired.
    /// PROVIDER_NOT_CONFIGURED without Stripe keys, PROVIDER_ERROR when Stripe fails (the
    /// order is unchanged: try again).
    async fn create_order_checkout(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the client of.")] order_id: ID,
    ) -> async_graphql::Result<OrderCheckout> {
        let (viewer, id) = viewer_and(ctx, &order_id, "orderId")?;
        Ok(OrderCheckout(
            service::create_order_checkout(ctx.app(), viewer, id).await?,
        ))
    }

    /// Client: reports a manual payment of the payment due, `paymentDueCents` (PENDING_PAYMENT
    /// or DEPOSIT_PAID → PAYMENT_SUBMITTED): the order amount, or a booking's deposit and then
    /// its balance; the freelancer checks it. VALIDATION_ERROR on `amountCents` for another
    /// amount.
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
    /// PAYMENT_CONFIRMED, or DEPOSIT_PAID when it was a booking's deposit); the amount paid
    /// enters escrow and the first payment fixes the fee rate.
    async fn confirm_payment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the freelancer of (admins: any order).")] order_id: ID,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::ConfirmPayment).await
    }

    /// Freelancer (or an admin): the payment did not arrive (PAYMENT_SUBMITTED →
    /// PENDING_PAYMENT, or back to DEPOSIT_PAID for a booking's balance); the client may
    /// submit again.
    async fn reject_payment_proof(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are the freelancer of (admins: any order).")] order_id: ID,
        #[graphql(desc = "Why, for the client (up to 1,000 characters).")] reason: Option<String>,
    ) -> async_graphql::Result<Order> {
        act(ctx, &order_id, Act::RejectPaymentProof { reason }).await
    }

    /// Freelancer: starts work (PAYMENT_CONFIRMED → IN_PROGRESS); CONFLICT while a booking has
    /// only its deposit paid (DEPOSIT_PAID: the balance is due first). On-site orders need the
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
            files.push(crate::storage::Upload {
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

    /// Either party, before work starts (REQUESTED, PENDING_PAYMENT, PAYMENT_SUBMITTED,
    /// DEPOSIT_PAID or PAYMENT_CONFIRMED): calls the order off (CANCELLED, final). What the
    /// client paid is refunded in full, payment by payment — a card payment to its card
    /// (a booking cancelled after its deposit gets exactly the deposit back), a manual one
    /// to their balance — and a booked date is freed; a task it was made for reopens.
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

    /// Either party of a disputed order: adds evidence to its OPEN or IN_MEDIATION dispute
    /// (MESSAGE, FILE, LINK or NOTE; see `DisputeEvidenceInput`). The other party and the
    /// mediator are notified (DISPUTE). CONFLICT once the dispute is settled, LIMIT_EXCEEDED
    /// past 50 pieces, FORBIDDEN for admins who are not a party.
    async fn add_dispute_evidence(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The dispute's `id`.")] dispute_id: ID,
        #[graphql(desc = "What the evidence is.")] input: EvidenceInputObject,
        #[graphql(desc = "FILE: the file (multipart upload; the upload size limit applies).")] file: Option<Upload>,
    ) -> async_graphql::Result<DisputeEvidence> {
        dispute::add_evidence(ctx, &dispute_id, input, file).await
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
        let (viewer, id) = viewer_and(ctx, &order_id, "orderId")?;
        let (code, expires_at) = service::issue_code(ctx.app(), viewer, id, purpose).await?;
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
        let (viewer, id) = viewer_and(ctx, &order_id, "orderId")?;
        Ok(BoardItem(service::add_board_item(ctx.app(), viewer, id, &title).await?))
    }

    /// Moves a card between TODO, DOING and DONE (parties of an order that is not final;
    /// CONFLICT otherwise).
    async fn move_board_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The card.")] id: ID,
        #[graphql(desc = "The column to move it to.")] status: BoardItemStatus,
    ) -> async_graphql::Result<BoardItem> {
        let (viewer, id) = viewer_and(ctx, &id, "id")?;
        Ok(BoardItem(
            service::move_board_item(ctx.app(), viewer, id, status).await?,
        ))
    }

    /// Removes a card; returns its id (parties of an order that is not final; CONFLICT
    /// otherwise).
    async fn delete_board_item(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The card.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let (viewer, id) = viewer_and(ctx, &id, "id")?;
        let gone: Uuid = service::delete_board_item(ctx.app(), viewer, id).await?;
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
        let (viewer, id) = viewer_and(ctx, &milestone_id, "milestoneId")?;
        let items = items
            .into_iter()
            .map(|i| ChecklistItem {
                text: i.text,
                done: i.done,
            })
            .collect();
        Ok(OrderMilestone(
            service::set_checklist(ctx.app(), viewer, id, items).await?,
        ))
    }
}
