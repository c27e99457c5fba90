//! Clearing: released earnings wait in the freelancer's pending balance for the dispute
//! window (`ESCROW_DISPUTE_WINDOW_HOURS`, 24 h by default), then a scheduled job makes them
//! available and, when the freelancer has a Stripe payout account, transfers them there
//! (through the provider-call outbox). An order with a dispute open is not cleared.

use chrono::{Duration, Utc};

use super::money::released_money;
use crate::{
    db::{self, Batch},
    error::{AppError, AppResult},
    ledger::service as ledger,
    order::model,
    payment::outbox,
    state::AppState,
};

/// Orders claimed per transaction by [`clear_earnings`].
const CLEAR_BATCH: i64 = 100;

/// What a run of [`clear_earnings`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleared {
    /// Orders whose earnings became available.
    pub orders: usize,
    /// Of those, how many queued a transfer to the freelancer's connected account.
    pub transfers: usize,
}

/// Clears the earnings of orders completed more than `window` ago, with no dispute open:
/// pending becomes available, and goes on to the freelancer's connected account when they
/// have one (a transfer of amount minus the fee, keyed by the order). Safe with several
/// instances (rows are claimed with `SKIP LOCKED`, money moves under unique keys); works in
/// batches until none are due.
pub async fn clear_earnings(app: &AppState, window: Duration) -> AppResult<Cleared> {
    db::drain(CLEAR_BATCH, || clear_batch(app, Utc::now() - window)).await
}

impl std::ops::AddAssign for Cleared {
    fn add_assign(&mut self, run: Self) {
        self.orders += run.orders;
        self.transfers += run.transfers;
    }
}

/// One transaction of [`clear_earnings`]: the orders settled before `before`.
async fn clear_batch(app: &AppState, before: chrono::DateTime<Utc>) -> AppResult<Batch<Cleared>> {
    let mut conn = app.jobs_db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let due = model::lock_uncleared(conn, before, CLEAR_BATCH).await?;
            let mut cleared = Cleared::default();
            for order in &due {
                let money = released_money(order);
                model::mark_cleared(conn, order.id).await?;
                cleared.orders += 1;
                if money.amount_cents == 0 {
                    // An hourly contract that ended with nothing released: its weeks were
                    // billed straight to the freelancer's available balance.
                    continue;
                }
                ledger::clear(conn, &money, &order.currency).await?;
                let earned = money.amount_cents - ledger::fee_cents(money.amount_cents, money.fee_bps);
                let transferred = outbox::pay_out(
                    conn,
                    order.freelancer_id,
                    earned,
                    &order.currency,
                    Some(order.id),
                    release_key(order.id),
                )
                .await?;
                cleared.transfers += usize::from(transferred);
            }
            Ok(Batch {
                claimed: due.len(),
                counted: cleared,
            })
        })
        .await
}

/// The idempotency key of the one transfer an order's release makes.
pub fn release_key(order_id: uuid::Uuid) -> String {
    format!("gigmarket:release:{order_id}")
}
