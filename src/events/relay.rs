//! The outbox relay: numbers committed events, publishes them, marks them published.
//!
//! Only one relay works at a time across all instances (a session-level advisory lock held
//! for the whole round), so events are published in `seq` order. An instance whose relay
//! finds the lock taken retries briefly: the holder may have looked before this instance's
//! events committed.

use std::{sync::Arc, time::Duration};

use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::Notify;

use super::{model, Event, Hub};
use crate::db::Db;

/// Events numbered and published per round.
const BATCH: i64 = 500;
/// How often the relay looks without being woken (events of other instances, retries).
const POLL_EVERY: Duration = Duration::from_millis(250);
/// How long to keep trying for the lock after a wake-up before leaving it to the holder.
const LOCK_ATTEMPTS: u32 = 40;
const RELAY_LOCK: i64 = 7_264_010;

/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

pub struct Relay {
    db: Db,
    hub: Hub,
    wake: Arc<Notify>,
    retention: Duration,
}

enum Round {
    /// Another instance's relay holds the lock.
    Busy,
    /// Published this many events.
    Published(usize),
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

impl Relay {
    pub fn new(db: Db, hub: Hub, wake: Arc<Notify>, retention: Duration) -> Self {
        Self {
            db,
            hub,
            wake,
            retention,
        }
    }

    /// Deletes published events older than the retention; resuming from an older cursor
    /// then starts at the oldest event kept.
    pub async fn prune(&self) -> anyhow::Result<usize> {
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(self.retention)?;
        let mut conn = self.db.conn().await?;
        Ok(model::prune(&mut conn, cutoff).await?)
    }

    /// Runs until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut failures = 0u32;
            let mut next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
            loop {
                if tokio::time::Instant::now() >= next_prune {
                    next_prune += PRUNE_EVERY;
                    match self.prune().await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::info!(pruned, "old events pruned"),
                        Err(e) => tracing::warn!(error = format!("{e:#}"), "pruning events failed"),
                    }
                }
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL_EVERY) => {}
                }
                match self.drain().await {
                    Ok(()) => failures = 0,
                    Err(e) => {
                        failures += 1;
                        // Redis or PostgreSQL is away: back off, the events wait in the outbox.
                        if failures == 1 || failures % 20 == 0 {
                            tracing::warn!(error = format!("{e:#}"), failures, "event relay round failed; retrying");
                        }
                        tokio::time::sleep(Duration::from_millis(100 * u64::from(failures.min(20)))).await;
                    }
                }
            }
        })
    }

    /// Publishes everything pending, retrying briefly while another relay holds the lock.
    pub async fn drain(&self) -> anyhow::Result<()> {
        let mut attempts = 0;
        loop {
            match self.round().await? {
                Round::Published(n) if n as i64 >= BATCH => continue,
                Round::Published(_) => return Ok(()),
                Round::Busy if attempts < LOCK_ATTEMPTS => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Round::Busy => return Ok(()),
            }
        }
    }

    async fn round(&self) -> anyhow::Result<Round> {
        let mut conn = self.db.conn().await?;
        let locked = diesel::sql_query(format!("SELECT pg_try_advisory_lock({RELAY_LOCK}) AS locked"))
            .get_result::<Locked>(&mut conn)
            .await?
            .locked;
        if !locked {
            return Ok(Round::Busy);
        }
        let result = async {
            let rows = model::number_pending(&mut conn, BATCH).await?;
            let mut published: Option<i64> = None;
            let mut outcome = Ok(());
            for row in &rows {
                let event = Event::new(row.seq, row.topic.clone(), row.kind.clone(), row.payload.clone());
                // Stop at the first failure so publication stays in seq order.
                if let Err(e) = self.hub.publish(event).await {
                    outcome = Err(e);
                    break;
                }
                published = row.seq;
            }
            if let Some(max) = published {
                model::mark_published(&mut conn, max).await?;
            }
            outcome.map(|()| Round::Published(rows.len()))
        }
        .await;
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({RELAY_LOCK})"))
            .await?;
        result
    }
}
