//! Gig views, counted in memory (in the state's [`Tally`]) and written in batches: showing a
//! gig never waits on a write, and a popular gig costs one UPDATE per flush instead of one
//! per view.

use std::time::Duration;

use super::model;
use crate::{db::Db, tally::Tally};

const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// Writes the counted views; on failure they are kept for the next flush.
pub async fn flush(views: &Tally, db: &Db) -> anyhow::Result<usize> {
    views
        .flush(async |ids, counts| {
            let mut conn = db.conn().await?;
            Ok(model::add_views(&mut conn, ids, counts).await?)
        })
        .await
}

/// Flushes every few seconds until the process ends.
pub fn spawn_flusher(views: Tally, db: Db) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            if let Err(e) = flush(&views, &db).await {
                tracing::warn!(error = format!("{e:#}"), "flushing gig views failed; will retry");
            }
        }
    });
}
