//! Paying an order through Stripe Checkout, and what Stripe's webhooks report about that
//! payment.
//!
//! `createOrderCheckout` makes a Checkout Session for the order's amount (no database
//! transaction is open and no pooled connection held while Stripe is called) and returns its
//! URL. The redirect back to `PUBLIC_URL` changes nothing: the order moves to
//! PAYMENT_CONFIRMED only when `checkout.session.completed` (paid) or
//! `payment_intent.succeeded` arrives, through the machine's PROVIDER_PAYMENT_SUCCEEDED,
//! which funds the escrow (the fee rate is fixed then). Both events of one payment fund once:
//! the order is locked, and the second finds it funded by the same payment intent (and the
//! ledger key is per order anyway).
//!
//! The session's idempotency key is `gigmarket:checkout:{order}:{attempt}`: asking again
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
    order::model::{self, OrderRow, OrderStatus},
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
}

/// The idempotency key of the order's `attempt`-th Checkout Session.
pub fn checkout_key(order_id: Uuid, attempt: i32) -> String {
    format!("gigmarket:checkout:{order_id}:{attempt}")
}

/// A Checkout Session for the order `order_id`, of which `viewer` must be the client, while
/// it waits for payment (PENDING_PAYMENT).
pub async fn create_order_checkout(app: &AppState, viewer: &UserRow, order_id: Uuid) -> AppResult<OrderCheckout> {
    let stripe = provider::stripe(app)?;
    let order = {
        let mut conn = app.db.conn().await?;
        find_visible(&mut conn, viewer, order_id).await?
    };
    if order.client_id != viewer.id {
        return Err(AppError::Forbidden("Only the client of an order pays it.".into()));
    }
    if order.status != OrderStatus::PendingPayment {
        return Err(AppError::Conflict(format!(
            "An order that is {} cannot be paid.",
            order.status
        )));
    }
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
    let order = model::find(&mut conn, order.id)
        .await?
        .ok_or_else(|| AppError::not_found("Order"))?;
    Ok(OrderCheckout {
        order,
        url,
        session_id: session.id,
        expires_at,
    })
}

/// The order's `attempt`-th session. A refusal is final for its key (Stripe replays it), so
/// the next request moves on to a fresh key.
async fn session(app: &AppState, stripe: &Stripe<'_>, order: &OrderRow, attempt: i32) -> AppResult<CheckoutSession> {
    let path = |p: &str| {
        format!(
            "{}{}",
            app.config.public_url,
            p.replace("{order}", &order.id.to_string())
        )
    };
    let request = CheckoutRequest {
        key: &checkout_key(order.id, attempt),
        order_id: order.id,
        title: &order.title,
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
}

/// Stripe reports the order paid (`checkout.session.completed` with `payment_status` paid, or
/// `payment_intent.succeeded`), in the webhook's transaction: the order's escrow is funded
/// through the machine, once per order whichever event comes first (the second is STALE). A
/// payment the order cannot take — it moved on before the money came (called off meanwhile),
/// was funded by another payment, or the amount differs — goes back to the card: the ledger
/// passes it through escrow and out, a refund is queued (key `gigmarket:refund:{payment}`)
/// and the client is told; once per payment.
pub async fn provider_paid(app: &AppState, conn: &mut AsyncPgConnection, payment: &Payment<'_>) -> AppResult<Outcome> {
    let Some(order) = model::lock(conn, payment.order_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    if order.stripe_payment_intent_id.as_deref() == Some(payment.payment_intent) {
        return Ok(Outcome::Stale);
    }
    let matches = payment.amount_cents == order.amount_cents && payment.currency.eq_ignore_ascii_case(&order.currency);
    if order.funded_at.is_none() && matches {
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

/// Stripe reports a failed attempt to pay the order (`payment_intent.payment_failed`): the
/// order stays PENDING_PAYMENT and the client is told (they may try again: the same
/// Checkout Session takes another card, and `createOrderCheckout` answers it). A failure
/// reported after the order was paid changes nothing (STALE), whatever the arrival order.
pub async fn provider_payment_failed(
    conn: &mut AsyncPgConnection,
    order_id: Uuid,
    message: Option<&str>,
) -> AppResult<Outcome> {
    let Some(order) = model::lock(conn, order_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    if order.funded_at.is_some() || order.status != OrderStatus::PendingPayment {
        return Ok(Outcome::Stale);
    }
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
