//! Counts per id kept in memory and handed out in batches, so that counting an event (a gig
//! shown, say) never waits on a write and a busy id costs one write per batch instead of
//! one per event. What the counts mean and where they are written is the owner's business:
//! the state holds the tally (`AppState::gig_views`), the gig domain flushes it
//! (`gig::views`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

/// Pending counts per id; cheap to clone (clones share the counts).
#[derive(Clone, Default)]
pub struct Tally {
    pending: Arc<Mutex<HashMap<Uuid, i64>>>,
}

impl Tally {
    /// Counts one event of `id`.
    pub fn record(&self, id: Uuid) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry(id).or_insert(0) += 1;
    }

    /// Hands the pending counts to `write` (ids and their counts, in the same order) and
    /// answers what it answers; when it fails, the counts are put back for the next flush.
    /// Nothing pending: `write` is not called and the answer is 0.
    pub async fn flush(
        &self,
        write: impl AsyncFnOnce(&[Uuid], &[i64]) -> anyhow::Result<usize>,
    ) -> anyhow::Result<usize> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let (ids, counts): (Vec<Uuid>, Vec<i64>) = batch.iter().map(|(id, n)| (*id, *n)).unzip();
        let written = write(&ids, &counts).await;
        if written.is_err() {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            for (id, n) in batch {
                *pending.entry(id).or_insert(0) += n;
            }
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flush_hands_out_the_counts_once() {
        let tally = Tally::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        tally.record(a);
        tally.record(a);
        tally.record(b);
        let mut seen = HashMap::new();
        let written = tally
            .flush(async |ids, counts| {
                seen.extend(ids.iter().copied().zip(counts.iter().copied()));
                Ok(ids.len())
            })
            .await
            .unwrap();
        assert_eq!(written, 2);
        assert_eq!(seen, HashMap::from([(a, 2), (b, 1)]));
        let again = tally.flush(async |_, _| panic!("nothing is pending")).await.unwrap();
        assert_eq!(again, 0);
    }

    #[tokio::test]
    async fn a_failed_write_keeps_the_counts_for_the_next_flush() {
        let tally = Tally::default();
        let id = Uuid::new_v4();
        tally.record(id);
        let failed = tally.flush(async |_, _| anyhow::bail!("database down")).await;
        assert!(failed.is_err());
        tally.record(id);
        let mut seen = Vec::new();
        tally
            .flush(async |ids, counts| {
                seen.extend(ids.iter().copied().zip(counts.iter().copied()));
                Ok(ids.len())
            })
            .await
            .unwrap();
        assert_eq!(seen, vec![(id, 2)]);
    }
}
