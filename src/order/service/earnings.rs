//! Clearing: released earnings wait in the freelancer's pending balance for the dispute
//! window (`ESCROW_DISPUTE_WINDOW_HOURS`, 24 h by default), then a scheduled job makes them
//! available and, when the freelancer has a Stripe payout account, transfers them there
//! (through the provider-call outbox). An order with a dispute open is not cleared.

use chrono::{Duration, Utc};

use super::money::money_of;
use crate::{
    error::{AppError, AppResult},
    ledger::service as ledger,
    order::model,
    payment::outbox,
    state::AppState,
};

/// Clears the earnings of orders completed more than `window` ago, with no dispute open:
/// pending becomes available, and goes on to the freelancer's connected account when they
/// have one (a transfer of amount minus the fee, keyed by the order). Safe with several
/// instances (rows are claimed with `SKIP LOCKED`, money moves under unique keys); returns
/// how many orders were cleared.
pub async fn clear_earnings(app: &AppState, window: Duration) -> AppResult<usize> {
    let mut conn = app.jobs_db.conn().await?;
    let cleared = app
        .bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let due = model::lock_uncleared(conn, Utc::now() - window, 100).await?;
            for order in &due {
                let money = money_of(order);
                ledger::clear(conn, &money, &order.currency).await?;
                model::mark_cleared(conn, order.id).await?;
                let earned = money.amount_cents - ledger::fee_cents(money.amount_cents, money.fee_bps);
                outbox::pay_out(
                    conn,
                    order.freelancer_id,
                    earned,
                    &order.currency,
                    Some(order.id),
                    release_key(order.id),
                )
                .await?;
            }
            Ok(due.len())
        })
        .await?;
    Ok(cleared)
}

/// The idempotency key of the one transfer an order's release makes.
pub fn release_key(order_id: uuid::Uuid) -> String {
    format!("gigmarket:release:{order_id}")
}
