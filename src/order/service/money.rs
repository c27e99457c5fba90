//! The money step of a transition: what the rule's [`Money`] does with the order's escrow,
//! written through the ledger inside the transition's transaction, with the order row's
//! money fields (`fee_bps`, `funded_at`, `settled_at`) kept in step.
//!
//! Today every movement is ledger rows only (manual payments). Payment-provider calls
//! belong here, one per movement, beside the ledger write they mirror: funding through a
//! Checkout Session, the transfer to the freelancer's connected account on release, the
//! refund to the card on cancel. Add them to [`fund`] and [`settle`], and extend
//! [`money`]'s dispatch when a rule names a new kind of movement.

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
    /// The user taking the action.
    pub actor: Uuid,
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
        Money::Release | Money::Refund if held => settle(conn, movement, mover, change).await,
        Money::None | Money::Release | Money::Refund => Ok(()),
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
    ledger::fund(conn, &money, &order.currency, Some(actor)).await?;
    change.fee_bps = Some(money.fee_bps);
    change.funded_at = Some(now);
    Ok(())
}

/// Held escrow leaves: on release to the freelancer's pending balance, less the fee fixed at
/// funding; on refund back to the client's available balance.
async fn settle(
    conn: &mut AsyncPgConnection,
    movement: Money,
    mover: &Mover<'_>,
    change: &mut Transition,
) -> AppResult<()> {
    let Mover { order, actor, now } = *mover;
    let money = money_of(order);
    if movement == Money::Release {
        ledger::release(conn, &money, &order.currency, Some(actor)).await?;
    } else {
        ledger::refund(conn, &money, &order.currency, Some(actor)).await?;
    }
    change.settled_at = Some(now);
    Ok(())
}
