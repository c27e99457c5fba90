//! What Stripe reports about a card payment after it funded an order: refunds and card
//! disputes. Both run in the webhook's recording transaction, find the order by the payment
//! intent that paid it, and move the ledger and the order once whatever the redeliveries.
//!
//! `charge.refunded` (fully refunded):
//! - a refund we asked for (cancelling a paid order queues it) finds the escrow settled
//!   already: recorded, STALE;
//! - a refund made in the Stripe dashboard on an order still holding escrow cancels the
//!   order (PROVIDER_REFUNDED) and moves that payment out of the platform once; nothing is
//!   asked of Stripe for it (the other payment of a two-stage order, if held, is refunded
//!   as a cancellation refunds). A partial refund changes nothing here (an admin settles
//!   it): IGNORED.
//!
//! `charge.dispute.created` (once per Stripe dispute id):
//! - paid and not final (a booking's deposit counts): the order becomes DISPUTED
//!   (PROVIDER_DISPUTE) with a dispute opened by the client with Stripe's reason, and the
//!   disputed payment leaves the platform (CHARGEBACK); anything else the order held (the
//!   other stage of a booking with a deposit) goes back to the client; an admin's later
//!   settlement moves no money;
//! - already DISPUTED by a party: the card dispute is tied to that dispute and held escrow
//!   is charged back;
//! - COMPLETED (escrow released) or CANCELLED: a dispute is recorded as OPEN for admins; on a
//!   completed order it freezes clearing (no transfer to the freelancer while it is open),
//!   and no ledger movement is made (the money already left escrow);
//! - anything else (never paid): UNMATCHED.

use diesel_async::AsyncPgConnection;

use super::{
    money::{withdraw, Withdrawal},
    transition::provider_act,
    ProviderAct,
};
use crate::{
    error::AppResult,
    notification::service::{self as notification, Kind},
    order::model::{self, DisputeRow, OrderRow, OrderStatus},
    payment::model::Outcome,
    state::AppState,
};

/// `charge.refunded` for the charge of `payment_intent` (`fully`: nothing left to refund).
pub async fn provider_refunded(
    app: &AppState,
    conn: &mut AsyncPgConnection,
    payment_intent: &str,
    fully: bool,
) -> AppResult<Outcome> {
    let Some(order_id) = model::paid_by(conn, payment_intent).await? else {
        return Ok(Outcome::Unmatched);
    };
    if !fully {
        tracing::warn!(order = %order_id, payment_intent, "a partial refund in Stripe: settle the order by hand");
        return Ok(Outcome::Ignored);
    }
    let Some(order) = model::lock(conn, order_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    if order.settled_at.is_some() {
        // Ours (a cancellation queued it), or the escrow left otherwise already.
        return Ok(Outcome::Stale);
    }
    let refunded = ProviderAct::Refunded {
        payment_intent: payment_intent.to_owned(),
    };
    Ok(match provider_act(app, conn, order.id, refunded).await? {
        Some(_) => Outcome::Applied,
        None => Outcome::Stale,
    })
}

/// A card dispute Stripe reports.
pub struct CardDispute<'a> {
    pub stripe_dispute_id: &'a str,
    pub payment_intent: &'a str,
    /// Stripe's reason (`fraudulent`, `product_not_received`, …).
    pub reason: &'a str,
}

/// `charge.dispute.created`: see the module documentation for each case.
pub async fn provider_dispute(
    app: &AppState,
    conn: &mut AsyncPgConnection,
    dispute: &CardDispute<'_>,
) -> AppResult<Outcome> {
    if model::card_dispute_known(conn, dispute.stripe_dispute_id).await? {
        return Ok(Outcome::Stale);
    }
    let Some(order_id) = model::paid_by(conn, dispute.payment_intent).await? else {
        return Ok(Outcome::Unmatched);
    };
    let Some(order) = model::lock(conn, order_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    let reason = format!("Card dispute ({})", dispute.reason.replace('_', " "));
    let act = ProviderAct::Dispute {
        payment_intent: dispute.payment_intent.to_owned(),
        stripe_dispute_id: dispute.stripe_dispute_id.to_owned(),
        reason: reason.clone(),
    };
    if provider_act(app, conn, order.id, act).await?.is_some() {
        return Ok(Outcome::Applied);
    }
    match order.status {
        OrderStatus::Disputed => {
            if !model::attach_card_dispute(conn, order.id, dispute.stripe_dispute_id).await? {
                record_dispute(conn, &order, dispute.stripe_dispute_id, &reason).await?;
            }
            if order.paid_cents() > 0 && order.settled_at.is_none() {
                let how = Withdrawal::Chargeback;
                withdraw(conn, &order, Some(dispute.payment_intent), how, None).await?;
                model::mark_settled(conn, order.id, chrono::Utc::now()).await?;
            }
        }
        OrderStatus::Completed | OrderStatus::Cancelled => {
            record_dispute(conn, &order, dispute.stripe_dispute_id, &reason).await?;
        }
        _ => return Ok(Outcome::Unmatched),
    }
    for party in [order.client_id, order.freelancer_id] {
        notification::notify(
            conn,
            party,
            Kind::Dispute,
            &format!("Card dispute on \"{}\"", order.title),
            "The card issuer disputes the payment for this order; an admin will settle it.",
            serde_json::json!({ "orderId": order.id, "status": order.status }),
        )
        .await?;
    }
    Ok(Outcome::Applied)
}

/// Records an OPEN dispute, opened by the client, for the card dispute (an order that has
/// an unsettled dispute gets the card dispute tied to it instead).
async fn record_dispute(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    stripe_dispute_id: &str,
    reason: &str,
) -> AppResult<()> {
    if model::attach_card_dispute(conn, order.id, stripe_dispute_id).await? {
        return Ok(());
    }
    let dispute = DisputeRow {
        stripe_dispute_id: Some(stripe_dispute_id.to_owned()),
        ..DisputeRow::open(
            order.id,
            order.client_id,
            reason.to_owned(),
            order.status,
            chrono::Utc::now(),
        )
    };
    model::insert_dispute(conn, &dispute).await?;
    Ok(())
}
