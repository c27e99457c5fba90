//! Clearing: released earnings wait in the freelancer's pending balance for the hold period
//! (disputes and chargebacks), then a scheduled job makes them available.

use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;

use super::money::money_of;
use crate::{
    error::{AppError, AppResult},
    ledger::service as ledger,
    order::model,
    state::AppState,
};

/// Moves the earnings of orders completed more than `hold` ago from pending to available.
/// Safe with several instances (rows are claimed with `SKIP LOCKED`); returns how many.
pub async fn clear_earnings(app: &AppState, hold: Duration) -> AppResult<usize> {
    let mut conn = app.jobs_db.conn().await?;
    let cleared = conn
        .transaction::<_, AppError, _>(async |conn| {
            let due = model::lock_uncleared(conn, Utc::now() - hold, 100).await?;
            for order in &due {
                ledger::clear(conn, &money_of(order), &order.currency).await?;
                model::mark_cleared(conn, order.id).await?;
            }
            Ok(due.len())
        })
        .await?;
    Ok(cleared)
}
