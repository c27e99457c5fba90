//! The money step of a transition: what the rule's [`Money`] does with the order's escrow,
//! written through the ledger inside the transition's transaction, with the order row's
//! money fields (`fee_bps`, `funded_at`, `settled_at`) kept in step.
//!
//! Escrow funded through Stripe (the order has a payment intent) is refunded to the card:
//! the ledger moves it out of the platform and a REFUND provider call is queued in the same
//! transaction (`payment::outbox`, made after commit). Escrow funded by a manual payment
//! goes back to the client's balance. A dispute split is both: the freelancer's share is
//! released (less the fee on it, `orders.released_cents` records it for clearing) and the rest
//! refunded either way. A refund Stripe made on its own (the dashboard) only
//! moves the ledger; a card dispute takes held escrow out of the platform (a chargeback).
//! Funding itself is a Checkout Session (`checkout`), reported by the webhook; the transfer
//! on release is queued when earnings clear (`earnings`).
//!
//! An hourly order's escrow is the retainer less the weeks already billed
//! ([`OrderRow::escrow_cents`]; the timesheet domain bills them). Ending an hourly contract
//! (approving the work, an admin's override) gives what is left back to the client: the
//! freelancer was paid week by week. An admin's ruling on a dispute divides what is left as
//! it would a fixed order's escrow.

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
        model::{OrderBilling, OrderRow, Transition},
    },
    payment::{calls::CallKind, outbox},
    profile::model as profiles,
    state::AppState,
};

/// An order's money, as the ledger needs it (what its escrow holds: the whole amount, less
/// an hourly order's billed weeks).
pub(super) fn money_of(order: &OrderRow) -> OrderMoney {
    OrderMoney {
        order_id: order.id,
        client_id: order.client_id,
        freelancer_id: order.freelancer_id,
        amount_cents: order.escrow_cents(),
        fee_bps: order.fee_bps.unwrap_or_default(),
    }
}

/// What the order released to the freelancer's side, as the ledger needs it for clearing:
/// the whole amount, or a dispute split's share; for an hourly order only what a ruling
/// released (its billed weeks never pass through pending).
pub(super) fn released_money(order: &OrderRow) -> OrderMoney {
    let unreleased = match order.billing() {
        OrderBilling::Fixed => order.amount_cents,
        OrderBilling::Hourly => 0,
    };
    OrderMoney {
        amount_cents: order.released_cents.unwrap_or(unreleased),
        ..money_of(order)
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
    /// A dispute split's share for the freelancer, in basis points.
    pub split_bps: Option<i32>,
    /// Whether an admin is ruling on a dispute (which decides where an hourly order's
    /// unbilled escrow goes; anything else that releases it ends the contract and returns it
    /// to the client).
    pub ruling: bool,
}

impl Mover<'_> {
    /// Whether the order's escrow is held (funded and not yet settled).
    fn held(&self) -> bool {
        self.order.funded_at.is_some() && self.order.settled_at.is_none()
    }
}

/// What `movement` gives each side out of the mover's escrow: (client, freelancer before the
/// fee). Nothing when no escrow is held; a split must leave each side at least a cent
/// (`VALIDATION_ERROR` on `splitBps` otherwise).
pub(super) fn shares(mover: &Mover<'_>, movement: Money) -> AppResult<(i64, i64)> {
    let amount = mover.order.escrow_cents();
    if !mover.held() {
        return Ok((0, 0));
    }
    let hourly = mover.order.billing() == OrderBilling::Hourly;
    Ok(match movement {
        Money::Release if hourly && !mover.ruling => (amount, 0),
        Money::Release => (0, amount),
        Money::Refund | Money::Refunded => (amount, 0),
        Money::Split => {
            let bps = mover
                .split_bps
                .ok_or_else(|| AppError::field("splitBps", "is required to split"))?;
            let freelancer = ledger::bps_of(amount, bps);
            if freelancer <= 0 || freelancer >= amount {
                return Err(AppError::field(
                    "splitBps",
                    format!(
                        "leaves one side nothing of {amount} cents: resolve for the client or the freelancer instead"
                    ),
                ));
            }
            (amount - freelancer, freelancer)
        }
        Money::None | Money::Fund | Money::Chargeback => (0, 0),
    })
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
    match movement {
        Money::Fund => fund(conn, app, mover, change).await,
        Money::Release | Money::Refund | Money::Refunded | Money::Chargeback | Money::Split if mover.held() => {
            settle(conn, movement, mover, change).await
        }
        Money::None | Money::Release | Money::Refund | Money::Refunded | Money::Chargeback | Money::Split => Ok(()),
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
    let Mover { order, actor, now, .. } = *mover;
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
/// manual payment, to the client's available balance; on a split, the freelancer's share as
/// a release and the rest as a refund; on a refund Stripe already made, or a chargeback, out
/// of the platform.
async fn settle(
    conn: &mut AsyncPgConnection,
    movement: Money,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let Mover { order, actor, now, .. } = *mover;
    let currency = order.currency.as_str();
    let (to_client, to_freelancer) = shares(mover, movement)?;
    match movement {
        Money::Release | Money::Split | Money::Refund => {
            if to_freelancer > 0 {
                let share = OrderMoney {
                    amount_cents: to_freelancer,
                    ..money_of(order)
                };
                ledger::release(conn, &share, currency, actor).await?;
                change.released_cents = Some(to_freelancer);
            }
            if to_client > 0 {
                refund(conn, order, to_client, actor).await?;
            }
        }
        Money::Refunded => {
            ledger::refund_to_card(conn, &money_of(order), currency, actor).await?;
        }
        Money::Chargeback => {
            ledger::chargeback(conn, &money_of(order), currency).await?;
        }
        Money::None | Money::Fund => return Ok(()),
    }
    change.settled_at = Some(now);
    Ok(())
}

/// `amount_cents` of the order's escrow goes back to the client: to the card that paid it
/// (the ledger moves it out of the platform and a refund call is queued), or for a manual
/// payment to their available balance.
async fn refund(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    amount_cents: i64,
    actor: Option<Uuid>,
) -> AppResult<()> {
    let currency = order.currency.as_str();
    let money = OrderMoney {
        amount_cents,
        ..money_of(order)
    };
    let Some(payment_intent) = &order.stripe_payment_intent_id else {
        ledger::refund(conn, &money, currency, actor).await?;
        return Ok(());
    };
    if ledger::refund_to_card(conn, &money, currency, actor).await? {
        let call = outbox::NewCall {
            kind: CallKind::Refund,
            key: refund_key(order.id),
            order_id: Some(order.id),
            user_id: order.client_id,
            amount_cents,
            currency,
            target: payment_intent.clone(),
        };
        outbox::enqueue(conn, call).await?;
    }
    Ok(())
}
