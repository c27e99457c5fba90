//! Local fan-out of events to this instance's subscribers, fed by Redis pub/sub (or directly
//! by the relay when there is no Redis).
//!
//! One Redis pub/sub connection per instance carries every channel its live subscribers need;
//! a topic is subscribed when its first local subscriber arrives and unsubscribed when the
//! last one leaves. When the connection drops, the hub reconnects with backoff, subscribes
//! again, and replays from the database what each topic missed. Each topic remembers the
//! last `seq` it delivered, so replays and re-publishes never reach a subscriber twice.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures_util::StreamExt;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{model, redis::RedisLink, Event};
use crate::db::Db;

/// Events buffered per topic for a slow subscriber before it must catch up from the database.
const TOPIC_BUFFER: usize = 1024;
/// Prefix of every Redis channel.
const CHANNEL_PREFIX: &str = "gm:";

struct TopicState {
    tx: broadcast::Sender<Arc<Event>>,
    subscribers: usize,
    /// Highest seq delivered on this topic; older or equal ones are duplicates. `None` until
    /// the topic's first event: a new topic accepts whatever comes next. (Reading the topic's
    /// newest seq from the database here raced with the relay: an event numbered but not yet
    /// dispatched was dropped for every subscriber.)
    last_seq: Option<i64>,
}

enum Command {
    Subscribe(String, oneshot::Sender<()>),
    Unsubscribe(String),
}

struct Inner {
    topics: Mutex<HashMap<String, TopicState>>,
    db: Db,
    redis: Option<RedisSide>,
    /// The highest seq this hub has received on any topic. Events arrive in seq order, so
    /// after an outage a topic that had seen nothing yet catches up from here.
    watermark: AtomicI64,
}

struct RedisSide {
    /// Publishes, each call bounded by the link's timeout.
    link: RedisLink,
    commands: mpsc::UnboundedSender<Command>,
}

/// The instance's event hub; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// A live subscription to one topic; dropping it releases the topic.
pub struct TopicReceiver {
    pub rx: broadcast::Receiver<Arc<Event>>,
    _guard: TopicGuard,
}

struct TopicGuard {
    hub: Hub,
    topic: String,
}

impl Drop for TopicGuard {
    fn drop(&mut self) {
        self.hub.release(&self.topic);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the map inconsistent: recover it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    /// A hub without Redis: the relay hands events straight to it (one instance only).
    pub fn in_process(db: Db) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                db,
                redis: None,
                watermark: AtomicI64::new(0),
            }),
        }
    }

    /// A hub fed by Redis pub/sub through `link`. Starts its connection task; Redis need not
    /// be up.
    pub fn with_redis(db: Db, link: RedisLink) -> Self {
        let client = link.client().clone();
        let (commands, receiver) = mpsc::unbounded_channel();
        let hub = Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                db,
                redis: Some(RedisSide { link, commands }),
                watermark: AtomicI64::new(0),
            }),
        };
        tokio::spawn(run_subscriber(client, Arc::downgrade(&hub.inner), receiver));
        hub
    }

    /// Publishes an event to every instance (through Redis) or to this one. Through Redis it
    /// fails after the link's timeout (or at once, just after a failure) rather than wait for
    /// Redis to come back.
    pub async fn publish(&self, event: Event) -> anyhow::Result<()> {
        match &self.inner.redis {
            None => {
                self.dispatch(Arc::new(event));
                Ok(())
            }
            Some(redis) => {
                let payload = serde_json::to_string(&event)?;
                let channel = format!("{CHANNEL_PREFIX}{}", event.topic);
                redis
                    .link
                    .run(async |conn| {
                        redis::cmd("PUBLISH")
                            .arg(&channel)
                            .arg(&payload)
                            .query_async::<i64>(conn)
                            .await
                    })
                    .await?;
                Ok(())
            }
        }
    }

    /// Subscribes to `topic`. The receiver sees events published after this returns.
    pub async fn subscribe(&self, topic: &str) -> anyhow::Result<TopicReceiver> {
        let (rx, first) = {
            let mut topics = lock(&self.inner.topics);
            let state = topics.entry(topic.to_owned()).or_insert_with(|| TopicState {
                tx: broadcast::channel(TOPIC_BUFFER).0,
                subscribers: 0,
                last_seq: None,
            });
            state.subscribers += 1;
            (state.tx.subscribe(), state.subscribers == 1)
        };
        let receiver = TopicReceiver {
            rx,
            _guard: TopicGuard {
                hub: self.clone(),
                topic: topic.to_owned(),
            },
        };
        if first {
            if let Some(redis) = &self.inner.redis {
                let (ack, acked) = oneshot::channel();
                if redis.commands.send(Command::Subscribe(topic.to_owned(), ack)).is_ok() {
                    // While Redis is down the task acknowledges at once and subscribes on
                    // reconnect; while it is stuck on a dying connection, the subscriber waits
                    // no longer than the timeout (the topic is subscribed when the task
                    // reconnects, and what it missed is replayed).
                    let _ = tokio::time::timeout(redis.link.timeout(), acked).await;
                }
            }
        }
        Ok(receiver)
    }

    /// Hands an event to local subscribers unless its seq was already delivered.
    fn dispatch(&self, event: Arc<Event>) {
        if let Some(seq) = event.seq {
            self.inner.watermark.fetch_max(seq, Ordering::Relaxed);
        }
        let mut topics = lock(&self.inner.topics);
        let Some(state) = topics.get_mut(&event.topic) else {
            return;
        };
        if let Some(seq) = event.seq {
            if state.last_seq.is_some_and(|last| seq <= last) {
                return;
            }
            state.last_seq = Some(seq);
        }
        let _ = state.tx.send(event);
    }

    fn release(&self, topic: &str) {
        let mut topics = lock(&self.inner.topics);
        let Some(state) = topics.get_mut(topic) else { return };
        state.subscribers -= 1;
        if state.subscribers == 0 {
            topics.remove(topic);
            if let Some(redis) = &self.inner.redis {
                let _ = redis.commands.send(Command::Unsubscribe(topic.to_owned()));
            }
        }
    }

    /// Topics with local subscribers, and the last seq each has seen (if known yet).
    fn topic_marks(&self) -> Vec<(String, Option<i64>)> {
        lock(&self.inner.topics)
            .iter()
            .map(|(t, s)| (t.clone(), s.last_seq))
            .collect()
    }

    /// Replays from the database what local topics missed (after a Redis outage).
    async fn catch_up(&self) -> anyhow::Result<()> {
        let mut conn = self.inner.db.conn().await?;
        let watermark = self.inner.watermark.load(Ordering::Relaxed);
        for (topic, after) in self.topic_marks() {
            let mut after = after.unwrap_or(watermark);
            loop {
                let rows = model::since(&mut conn, &topic, after, 500).await?;
                let Some(last) = rows.last() else { break };
                after = last.seq.unwrap_or(after);
                let full = rows.len() == 500;
                for row in rows {
                    self.dispatch(Arc::new(Event::new(row.seq, row.topic, row.kind, row.payload)));
                }
                if !full {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Number of topics with live local subscribers (for metrics and tests).
    pub fn topic_count(&self) -> usize {
        lock(&self.inner.topics).len()
    }
}

/// Keeps one pub/sub connection alive and in step with the hub's topics.
async fn run_subscriber(
    client: redis::Client,
    hub: std::sync::Weak<Inner>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut connected_before = false;
    loop {
        let pubsub = tokio::select! {
            result = client.get_async_pubsub() => result,
            command = commands.recv() => {
                match command {
                    // Not connected: acknowledge now; the topic is subscribed on connect.
                    Some(Command::Subscribe(_, ack)) => { let _ = ack.send(()); continue; }
                    Some(Command::Unsubscribe(_)) => continue,
                    None => return,
                }
            }
        };
        let Some(inner) = hub.upgrade() else { return };
        let hub_handle = Hub { inner };
        let pubsub = match pubsub {
            Ok(pubsub) => pubsub,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "Redis pub/sub unavailable");
                drop(hub_handle);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let mut healthy = true;
        for (topic, _) in hub_handle.topic_marks() {
            if sink.subscribe(format!("{CHANNEL_PREFIX}{topic}")).await.is_err() {
                healthy = false;
                break;
            }
        }
        if !healthy {
            continue;
        }
        if connected_before {
            tracing::info!("Redis pub/sub reconnected; replaying missed events");
            if let Err(e) = hub_handle.catch_up().await {
                tracing::warn!(error = format!("{e:#}"), "catch-up after reconnect failed");
            }
        }
        connected_before = true;
        backoff = Duration::from_millis(100);
        drop(hub_handle);

        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else {
                        tracing::warn!("Redis pub/sub connection lost; reconnecting");
                        break;
                    };
                    let Some(inner) = hub.upgrade() else { return };
                    match serde_json::from_slice::<Event>(message.get_payload_bytes()) {
                        Ok(event) => Hub { inner }.dispatch(Arc::new(event)),
                        Err(e) => tracing::warn!(error = %e, "undecodable event on Redis"),
                    }
                }
                command = commands.recv() => {
                    let ok = match command {
                        Some(Command::Subscribe(topic, ack)) => {
                            let ok = sink.subscribe(format!("{CHANNEL_PREFIX}{topic}")).await.is_ok();
                            let _ = ack.send(());
                            ok
                        }
                        Some(Command::Unsubscribe(topic)) => {
                            sink.unsubscribe(format!("{CHANNEL_PREFIX}{topic}")).await.is_ok()
                        }
                        None => return,
                    };
                    if !ok {
                        break;
                    }
                }
            }
        }
    }
}
