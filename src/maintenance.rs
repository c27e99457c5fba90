//! Periodic clean-up of rows that have served their purpose, and the clearing of released
//! earnings. Every step is idempotent and safe with several instances running (DELETEs, and
//! clearing claims its orders with `SKIP LOCKED` and moves money under unique ledger keys).

use std::time::Duration;

use chrono::Utc;

use crate::{account, graphql::extensions::idempotency, mail, order, payment, state::AppState, task};

const EVERY: Duration = Duration::from_secs(600);
/// How often first-accept tasks past their deadline are expired.
const EXPIRY_EVERY: Duration = Duration::from_secs(5);
/// Sent mail is kept this long for support questions.
const SENT_MAIL_DAYS: i64 = 30;
/// How often due payment-provider calls (transfers, refunds) are made.
const PROVIDER_CALLS_EVERY: Duration = Duration::from_secs(10);

/// Runs one round; returns how many rows were deleted.
pub async fn run_once(app: &AppState) -> anyhow::Result<usize> {
    let mut conn = app.jobs_db.conn().await?;
    let failures_before = Utc::now() - chrono::Duration::from_std(app.config.throttle.window)?;
    let accounts = account::model::prune(&mut conn, failures_before).await?;
    let mails = mail::prune(&mut conn, Utc::now() - chrono::Duration::days(SENT_MAIL_DAYS)).await?;
    let codes = order::model::prune_codes(&mut conn, Utc::now() - chrono::Duration::hours(1)).await?;
    let keys = idempotency::prune(&mut conn).await?;
    drop(conn);
    let window = chrono::Duration::from_std(app.config.payments.escrow_dispute_window)?;
    let cleared = order::service::clear_earnings(app, window)
        .await
        .map_err(|e| anyhow::anyhow!("clearing earnings: {e:?}"))?;
    if cleared > 0 {
        tracing::info!(cleared, "earnings cleared");
    }
    expire_tasks(app).await?;
    Ok(accounts + mails + codes + keys)
}

/// Expires first-accept tasks past their deadline (see `task::service::expire_overdue`).
pub async fn expire_tasks(app: &AppState) -> anyhow::Result<usize> {
    let expired = task::service::expire_overdue(app)
        .await
        .map_err(|e| anyhow::anyhow!("expiring tasks: {e:?}"))?;
    if expired > 0 {
        tracing::info!(expired, "overdue tasks expired");
    }
    Ok(expired)
}

/// Runs a round every ten minutes, and task expiry every few seconds, until the process
/// ends. Tasks written before public locations existed get theirs first.
pub fn spawn(app: AppState) {
    let expiry = app.clone();
    tokio::spawn(async move {
        match task::service::backfill_public_points(&expiry).await {
            Ok(0) => {}
            Ok(placed) => tracing::info!(placed, "public task locations filled in"),
            Err(e) => tracing::warn!(error = ?e, "filling in public task locations failed"),
        }
        loop {
            if let Err(e) = expire_tasks(&expiry).await {
                tracing::warn!(error = format!("{e:#}"), "task expiry failed");
            }
            tokio::time::sleep(EXPIRY_EVERY).await;
        }
    });
    let calls = app.clone();
    tokio::spawn(async move {
        loop {
            match payment::outbox::run_due(&calls).await {
                Ok(report) if report == payment::outbox::Report::default() => {}
                Ok(report) => tracing::info!(?report, "payment-provider calls made"),
                Err(e) => tracing::warn!(error = ?e, "payment-provider calls failed"),
            }
            tokio::time::sleep(PROVIDER_CALLS_EVERY).await;
        }
    });
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            match run_once(&app).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "maintenance pruned old rows"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "maintenance round failed"),
            }
        }
    });
}
