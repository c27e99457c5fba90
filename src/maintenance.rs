//! Periodic clean-up of rows that have served their purpose. Every step is an idempotent
//! DELETE, safe with several instances running.

use std::time::Duration;

use chrono::Utc;

use crate::{account, mail, state::AppState};

const EVERY: Duration = Duration::from_secs(600);
/// Sent mail is kept this long for support questions.
const SENT_MAIL_DAYS: i64 = 30;

/// Runs one round; returns how many rows were deleted.
pub async fn run_once(app: &AppState) -> anyhow::Result<usize> {
    let mut conn = app.jobs_db.conn().await?;
    let failures_before = Utc::now() - chrono::Duration::from_std(app.config.throttle.window)?;
    let accounts = account::model::prune(&mut conn, failures_before).await?;
    let mails = mail::prune(&mut conn, Utc::now() - chrono::Duration::days(SENT_MAIL_DAYS)).await?;
    Ok(accounts + mails)
}

/// Runs a round every ten minutes until the process ends.
pub fn spawn(app: AppState) {
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
