//! Gig views, counted in memory and written in batches: showing a gig never waits on a write,
//! and a popular gig costs one UPDATE per flush instead of one per view.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use uuid::Uuid;

use super::model;
use crate::db::Db;

const FLUSH_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone, Default)]
pub struct ViewCounter {
    pending: Arc<Mutex<HashMap<Uuid, i64>>>,
}

impl ViewCounter {
    /// Counts one view of `gig`.
    pub fn record(&self, gig: Uuid) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry(gig).or_insert(0) += 1;
    }

    /// Writes the counted views; on failure they are put back for the next flush.
    pub async fn flush(&self, db: &Db) -> anyhow::Result<usize> {
        let batch: HashMap<Uuid, i64> = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let (ids, counts): (Vec<Uuid>, Vec<i64>) = batch.iter().map(|(id, n)| (*id, *n)).unzip();
        let written = async {
            let mut conn = db.conn().await?;
            Ok::<_, anyhow::Error>(model::add_views(&mut conn, &ids, &counts).await?)
        }
        .await;
        if written.is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, n) in batch {
                *pending.entry(id).or_insert(0) += n;
            }
        }
        written
    }

    /// Flushes every few seconds until the process ends.
    pub fn spawn_flusher(&self, db: Db) {
        let counter = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                if let Err(e) = counter.flush(&db).await {
                    tracing::warn!(error = format!("{e:#}"), "flushing gig views failed; will retry");
                }
            }
        });
    }
}
