//! Paying an order through Stripe Checkout, and what Stripe's webhooks report about that
//! payment.
//!
//! `createOrderCheckout` makes a Checkout Session for the payment due (no database
//! transaction is open and no pooled connection held while Stripe is called) and returns its
//! URL: the order's amount, or — a booking whose gig asks a deposit — the deposit first
//! (PENDING_PAYMENT) and the balance once the deposit is in (DEPOSIT_PAID). The stage is in
//! the session's metadata. The redirect back to `PUBLIC_URL` changes nothing: the order
//! moves on only when `checkout.session.completed` (paid) or `payment_intent.succeeded`
//! arrives, through the machine's PROVIDER_PAYMENT_SUCCEEDED, which funds that stage (the
//! fee rate is fixed with the first). Both events of one payment fund once: the order is
//! locked, and the second finds the payment intent recorded (and the ledger key is per
//! order and stage anyway).
//!
//! The session's idempotency key is `gigmarket:checkout:{order}:{attempt}` (a two-stage
//! order's stages: `…:{order}:deposit:{attempt}`, `…:{order}:balance:{attempt}`): asking again
//! answers the same session (a double click makes one), until that session is of no more use
//! — Stripe answered it expired or completed, or refused the request (Stripe keeps a refusal
//! under its key for 24 h) — when the attempt number moves on and the next request makes a
//! fresh session. A timeout keeps the key: if Stripe made the session, the retry gets it.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{find_visible, transition::provider_act, ProviderAct};
use crate::{
    error::{AppError, AppResult},
    ledger::service as ledger,
    notification::service::{self as notification, Kind},
    order::model::{self, OrderRow, OrderStatus, PaymentStage},
    payment::{
        calls::CallKind,
        model::Outcome,
        outbox,
        provider::{self, CheckoutRequest, CheckoutSession, ProviderError, Stripe},
    },
    profile::model::UserRow,
    state::AppState,
};

/// Where Stripe sends the client after paying, under `PUBLIC_URL` (`{order}` is the id). The
/// page shows the order; its status changes when the webhook arrives.
pub const CHECKOUT_SUCCESS_PATH: &str = "/orders/{order}/checkout/success";
/// Where Stripe sends the client who leaves the payment page.
pub const CHECKOUT_CANCEL_PATH: &str = "/orders/{order}/checkout/cancel";
/// A session closer than this to its expiry is not handed out again.
const EXPIRY_MARGIN_SECONDS: i64 = 300;

/// What `createOrderCheckout` answers.
pub struct OrderCheckout {
    pub order: OrderRow,
    /// Stripe's hosted payment page.
    pub url: String,
    pub session_id: String,
    pub expires_at: DateTime<Utc>,
    /// Which part of the amount the page takes.
    pub stage: PaymentStage,
    /// What the page takes, in minor units of the order's currency.
    pub amount_cents: i64,
}

/// The idempotency key of the order's `attempt`-th Checkout Session (of an order paid at
/// once).
pub fn checkout_key(order_id: Uuid, attempt: i32) -> String {
    stage_checkout_key(order_id, PaymentStage::Full, attempt)
}

/// The idempotency key of the `attempt`-th Checkout Session of the order's payment `stage`.
pub fn stage_checkout_key(order_id: Uuid, stage: PaymentStage, attempt: i32) -> String {
    let base = stage.key(format!("gigmarket:checkout:{order_id}"));
    format!("{base}:{attempt}")
}

/// A Checkout Session for the payment due on the order `order_id`, of which `viewer` must be
/// the client, while it waits for it (PENDING_PAYMENT, or DEPOSIT_PAID for the balance).
pub async fn create_order_checkout(app: &AppState, viewer: &UserRow, order_id: Uuid) -> AppResult<OrderCheckout> {
    let stripe = provider::stripe(app)?;
    let order = {
        let mut conn = app.db.conn().await?;
        find_visible(&mut conn, viewer, order_id).await?
    };
    if order.client_id != viewer.id {
        return Err(AppError::Forbidden("Only the client of an order pays it.".into()));
    }
    let due = order.payment_due();
    let Some((stage, amount_cents)) =
        due.filter(|_| matches!(order.status, OrderStatus::PendingPayment | OrderStatus::DepositPaid))
    else {
        return Err(AppError::Conflict(format!(
            "An order that is {} cannot be paid.",
            order.status
        )));
    };
    let order = Due {
        order,
        stage,
        amount_cents,
    };
    let mut attempt = order.checkout_attempts;
    let mut session = session(app, &stripe, &order, attempt).await?;
    if !usable(&session) {
        move_on(app, order.id, attempt).await?;
        attempt += 1;
        session = self::session(app, &stripe, &order, attempt).await?;
    }
    let url = session.url.clone().filter(|_| usable(&session)).ok_or_else(|| {
        AppError::from(ProviderError::Unreachable(
            "Stripe answered a closed Checkout Session".into(),
        ))
    })?;
    let expires_at = DateTime::from_timestamp(session.expires_at, 0).ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "Stripe session expiry {} out of range",
            session.expires_at
        ))
    })?;
    let mut conn = app.db.conn().await?;
    model::set_checkout_session(&mut conn, order.id, &session.id).await?;
    let Due {
        order,
        stage,
        amount_cents,
    } = order;
    let order = model::find(&mut conn, order.id)
        .await?
        .ok_or_else(|| AppError::not_found("Order"))?;
    Ok(OrderCheckout {
        order,
        url,
        session_id: session.id,
        expires_at,
        stage,
        amount_cents,
    })
}

/// An order and the payment it waits for.
struct Due {
    order: OrderRow,
    stage: PaymentStage,
    amount_cents: i64,
}

impl std::ops::Deref for Due {
    type Target = OrderRow;

    fn deref(&self) -> &OrderRow {
        &self.order
    }
}

/// The `attempt`-th session of the order's payment due. A refusal is final for its key
/// (Stripe replays it), so the next request moves on to a fresh key.
async fn session(app: &AppState, stripe: &Stripe<'_>, order: &Due, attempt: i32) -> AppResult<CheckoutSession> {
    let path = |p: &str| {
        format!(
            "{}{}",
            app.config.public_url,
            p.replace("{order}", &order.id.to_string())
        )
    };
    let title = match order.stage {
        PaymentStage::Full => order.title.clone(),
        PaymentStage::Deposit => format!("Deposit: {}", order.title),
        PaymentStage::Balance => format!("Balance: {}", order.title),
    };
    let request = CheckoutRequest {
        key: &stage_checkout_key(order.id, order.stage, attempt),
        order_id: order.id,
        stage: order.stage.as_str(),
        title: &title,
        amount_cents: order.amount_cents,
        currency: &order.currency,
        success_url: &path(CHECKOUT_SUCCESS_PATH),
        cancel_url: &path(CHECKOUT_CANCEL_PATH),
    };
    match stripe.create_checkout_session(&request).await {
        Ok(session) => Ok(session),
        Err(e @ ProviderError::Refused { .. }) => {
            tracing::warn!(order = %order.id, error = %e, "Stripe refused a Checkout Session");
            move_on(app, order.id, attempt).await?;
            Err(e.into())
        }
        Err(e) => {
            tracing::warn!(order = %order.id, error = %e, "no Checkout Session");
            Err(e.into())
        }
    }
}

/// Whether the session still takes a payment, for a while yet.
fn usable(session: &CheckoutSession) -> bool {
    session.open && session.url.is_some() && session.expires_at > Utc::now().timestamp() + EXPIRY_MARGIN_SECONDS
}

async fn move_on(app: &AppState, order_id: Uuid, attempt: i32) -> AppResult<()> {
    let mut conn = app.db.conn().await?;
    model::next_checkout_attempt(&mut conn, order_id, attempt).await?;
    Ok(())
}

/// What a payment report says was paid.
pub struct Payment<'a> {
    pub order_id: Uuid,
    pub payment_intent: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    /// The stage the metadata names (sessions made before stages were named have none).
    pub stage: Option<PaymentStage>,
}

/// Stripe reports a payment of the order (`checkout.session.completed` with `payment_status`
/// paid, or `payment_intent.succeeded`), in the webhook's transaction: the payment due (the
/// whole amount, a deposit, a balance) enters escrow through the machine, once per payment
/// whichever event comes first (the second is STALE). A payment the order cannot take — it
/// moved on before the money came (called off meanwhile), that stage was paid by another
/// payment, or the amount or stage differs from what is due — goes back to the card: the
/// ledger passes it through escrow and out, a refund is queued (key
/// `gigmarket:refund:{payment}`) and the client is told; once per payment.
pub async fn provider_paid(app: &AppState, conn: &mut AsyncPgConnection, payment: &Payment<'_>) -> AppResult<Outcome> {
    let Some(order) = model::lock(conn, payment.order_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    if model::paid_by(conn, payment.payment_intent).await?.is_some() {
        return Ok(Outcome::Stale);
    }
    let matches = order
        .payment_due()
        .is_some_and(|(stage, cents)| payment.amount_cents == cents && payment.stage.is_none_or(|s| s == stage))
        && payment.currency.eq_ignore_ascii_case(&order.currency);
    if matches {
        let paid = ProviderAct::Paid {
            payment_intent: payment.payment_intent.to_owned(),
        };
        if provider_act(app, conn, order.id, paid).await?.is_some() {
            return Ok(Outcome::Applied);
        }
    }
    return_payment(conn, &order, payment).await
}

/// The key of the refund of a payment an order could not take.
pub fn returned_payment_key(payment_intent: &str) -> String {
    format!("gigmarket:refund:{payment_intent}")
}

/// Sends a payment the order cannot take back to the card (see [`provider_paid`]); STALE
/// when it was sent back already.
async fn return_payment(conn: &mut AsyncPgConnection, order: &OrderRow, payment: &Payment<'_>) -> AppResult<Outcome> {
    tracing::warn!(order = %order.id, status = %order.status, payment_intent = payment.payment_intent, amount = payment.amount_cents, "a payment the order cannot take: refunding it");
    let currency = payment.currency.to_ascii_uppercase();
    if payment.amount_cents <= 0
        || !ledger::return_payment(conn, order.id, payment.payment_intent, payment.amount_cents, &currency).await?
    {
        return Ok(Outcome::Stale);
    }
    let call = outbox::NewCall {
        kind: CallKind::Refund,
        key: returned_payment_key(payment.payment_intent),
        order_id: Some(order.id),
        user_id: order.client_id,
        amount_cents: payment.amount_cents,
        currency: &currency,
        target: payment.payment_intent.to_owned(),
    };
    outbox::enqueue(conn, call).await?;
    notification::notify(
        conn,
        order.client_id,
        Kind::Payment,
        &format!("Payment for \"{}\" returned", order.title),
        "The order could not take this payment (it is paid already or was called off): it goes back to your card.",
        serde_json::json!({ "orderId": order.id, "status": order.status }),
    )
    .await?;
    Ok(Outcome::Applied)
}

/// A failed attempt to pay an order that Stripe reports (`payment_intent.payment_failed`).
pub struct FailedPayment<'a> {
    pub order_id: Uuid,
    pub payment_intent: &'a str,
    /// The stage the metadata names, if any.
    pub stage: Option<PaymentStage>,
    /// Stripe's reason, for the client.
    pub message: Option<&'a str>,
}

/// Stripe reports a failed attempt to pay the order (`payment_intent.payment_failed`): the
/// order stays where it is (PENDING_PAYMENT, or DEPOSIT_PAID for a balance) and the client is
/// told (they may try again: the same Checkout Session takes another card, and
/// `createOrderCheckout` answers it). A failure reported after that payment was made, or
/// about a stage no longer due, changes nothing (STALE), whatever the arrival order.
pub async fn provider_payment_failed(conn: &mut AsyncPgConnection, failed: &FailedPayment<'_>) -> AppResult<Outcome> {
    let Some(order) = model::lock(conn, failed.order_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    let due = order.payment_due().map(|(stage, _)| stage);
    let waiting = matches!(order.status, OrderStatus::PendingPayment | OrderStatus::DepositPaid);
    if due.is_none()
        || !waiting
        || failed.stage.is_some_and(|s| Some(s) != due)
        || model::paid_by(conn, failed.payment_intent).await?.is_some()
    {
        return Ok(Outcome::Stale);
    }
    let message = failed.message;
    let reason = message.unwrap_or("The card was not charged.");
    notification::notify(
        conn,
        order.client_id,
        Kind::Payment,
        &format!("Payment for \"{}\" failed", order.title),
        &format!("{reason} You can pay again from the order."),
        serde_json::json!({ "orderId": order.id, "status": order.status }),
    )
    .await?;
    Ok(Outcome::Applied)
}
