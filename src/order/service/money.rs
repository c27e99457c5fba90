//! The money step of a transition: what the rule's [`Money`] does with the order's escrow,
//! written through the ledger inside the transition's transaction, with the order row's
//! money fields (`fee_bps`, `funded_at`, `settled_at`) kept in step.
//!
//! Escrow funded through Stripe (the order has a payment intent) is refunded to the card:
//! the ledger moves it out of the platform and a REFUND provider call is queued in the same
//! transaction (`payment::outbox`, made after commit). Escrow funded by a manual payment
//! goes back to the client's balance. A refund Stripe made on its own (the dashboard) only
//! moves the ledger; a card dispute takes held escrow out of the platform (a chargeback).
//! Funding itself is a Checkout Session (`checkout`), reported by the webhook; the transfer
//! on release is queued when earnings clear (`earnings`).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    ledger::{
        policy,
        service::{self as ledger, OrderMoney},
    },
    order::{
        machine::Money,
        model::{OrderRow, Transition},
    },
    payment::{calls::CallKind, outbox},
    profile::model as profiles,
    state::AppState,
};

/// An order's money, as the ledger needs it.
pub(super) fn money_of(order: &OrderRow) -> OrderMoney {
    OrderMoney {
        order_id: order.id,
        client_id: order.client_id,
        freelancer_id: order.freelancer_id,
        amount_cents: order.amount_cents,
        fee_bps: order.fee_bps.unwrap_or_default(),
    }
}

/// Whose money moves, on whose action, and when.
pub(super) struct Mover<'a> {
    /// The order as it was before the transition.
    pub order: &'a OrderRow,
    /// The user taking the action (`None`: the payment provider).
    pub actor: Option<Uuid>,
    /// The transition's time.
    pub now: DateTime<Utc>,
}

/// Money: moves what the transition's rule names (`movement`) for the mover's order.
/// Release and refund only move escrow that is held (funded and not yet settled); an order
/// settled unfunded moves nothing.
pub(super) async fn money(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    movement: Money,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let order = mover.order;
    let held = order.funded_at.is_some() && order.settled_at.is_none();
    match movement {
        Money::Fund => fund(conn, app, mover, change).await,
        Money::Release | Money::Refund | Money::Refunded | Money::Chargeback if held => {
            settle(conn, movement, mover, change).await
        }
        Money::None | Money::Release | Money::Refund | Money::Refunded | Money::Chargeback => Ok(()),
    }
}

/// The order amount enters escrow, and the fee rate the policy gives the freelancer now is
/// fixed on the order.
async fn fund(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let Mover { order, actor, now } = *mover;
    let freelancer = profiles::find(conn, order.freelancer_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("order without freelancer")))?;
    let mut money = money_of(order);
    money.fee_bps = policy::commission_bps(
        app.config.verification_commission,
        freelancer.verification_status,
        freelancer.commission_bps,
    );
    ledger::fund(conn, &money, &order.currency, actor).await?;
    change.fee_bps = Some(money.fee_bps);
    change.funded_at = Some(now);
    Ok(())
}

/// The idempotency key of the one card refund an order's cancellation asks for.
pub fn refund_key(order_id: Uuid) -> String {
    format!("gigmarket:refund:{order_id}")
}

/// Held escrow leaves: on release to the freelancer's pending balance, less the fee fixed at
/// funding; on refund back to the card that paid it (a refund call is queued) or, for a
/// manual payment, to the client's available balance; on a refund Stripe already made, or a
/// chargeback, out of the platform.
async fn settle(
    conn: &mut AsyncPgConnection,
    movement: Money,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let Mover { order, actor, now } = *mover;
    let money = money_of(order);
    let currency = order.currency.as_str();
    match (movement, &order.stripe_payment_intent_id) {
        (Money::Release, _) => {
            ledger::release(conn, &money, currency, actor).await?;
        }
        (Money::Refund, Some(payment_intent)) => {
            if ledger::refund_to_card(conn, &money, currency, actor).await? {
                let call = outbox::NewCall {
                    kind: CallKind::Refund,
                    key: refund_key(order.id),
                    order_id: Some(order.id),
                    user_id: order.client_id,
                    amount_cents: order.amount_cents,
                    currency,
                    target: payment_intent.clone(),
                };
                outbox::enqueue(conn, call).await?;
            }
        }
        (Money::Refund, None) => {
            ledger::refund(conn, &money, currency, actor).await?;
        }
        (Money::Refunded, _) => {
            ledger::refund_to_card(conn, &money, currency, actor).await?;
        }
        (Money::Chargeback, _) => {
            ledger::chargeback(conn, &money, currency).await?;
        }
        (Money::None | Money::Fund, _) => return Ok(()),
    }
    change.settled_at = Some(now);
    Ok(())
}
