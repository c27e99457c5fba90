//! The event bus: every change someone should see live is an event.
//!
//! - Domain code calls [`emit`] inside the transaction that makes the change, writing a row
//!   to the `events` outbox. Writers run that transaction through [`Bus::transaction`],
//!   which kicks the relay once it has committed, so no writer can forget to.
//! - The [`relay`] (one at a time across all instances, under an advisory lock) numbers
//!   committed events with a global `seq`, publishes them (Redis pub/sub, or the in-process
//!   hub without Redis), then marks them published. A crash between publish and mark
//!   re-publishes: delivery is at least once, and `seq` makes duplicates recognisable.
//! - The [`hub`] of each instance subscribes to the Redis channels its live subscribers need
//!   and fans events out in-process, dropping any `seq` it has already delivered on a topic.
//!   After a Redis outage it re-subscribes and catches up from the database, so nothing
//!   published meanwhile is lost.
//! - Ephemeral signals (typing) skip the outbox: they are published directly and carry no
//!   `seq`; losing one is harmless.
//! - Subscribers may resume from a cursor (a `seq`): the database supplies what they missed,
//!   then the live stream continues with no duplicates.

pub mod hub;
pub mod model;
pub mod presence;
pub mod redis;
pub mod relay;

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock, PoisonError},
};

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

pub use hub::Hub;

/// Topic names: one Redis channel each.
pub mod topic {
    use uuid::Uuid;

    pub fn conversation(id: Uuid) -> String {
        format!("conversation:{id}")
    }

    pub fn user(id: Uuid) -> String {
        format!("user:{id}")
    }

    pub fn order(id: Uuid) -> String {
        format!("order:{id}")
    }

    pub fn task(id: Uuid) -> String {
        format!("task:{id}")
    }

    /// New and reopened tasks whose public point lies in geohash `cell` (one channel per
    /// cell and precision; see `geocell`).
    pub fn nearby(cell: &str) -> String {
        format!("nearby:{cell}")
    }

    /// Session changes every live connection watches (a member suspended): one topic for
    /// all, since they are rare and each connection checks the user id.
    pub fn sessions() -> String {
        "sessions".to_owned()
    }

    /// SOS alerts, for admins only (authorised when subscribing).
    pub fn admin_sos() -> String {
        "admin:sos".to_owned()
    }
}

/// An event as delivered to subscribers.
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    /// Global order and resume cursor; `None` for ephemeral signals.
    pub seq: Option<i64>,
    pub topic: String,
    pub kind: String,
    pub payload: serde_json::Value,
    /// The payload decoded once per instance, however many subscribers read it.
    #[serde(skip)]
    decoded: OnceLock<Option<Arc<dyn Any + Send + Sync>>>,
    /// Values derived from this instance, by type and key (see [`Event::memo`]).
    #[serde(skip)]
    memos: Mutex<HashMap<(TypeId, u64), Arc<dyn Any + Send + Sync>>>,
}

impl Event {
    pub fn new(seq: Option<i64>, topic: String, kind: String, payload: serde_json::Value) -> Self {
        Self {
            seq,
            topic,
            kind,
            payload,
            decoded: OnceLock::new(),
            memos: Mutex::default(),
        }
    }

    /// The `T` kept on this instance under `key`, made with `T::default()` by the first to
    /// ask. Every subscriber of a topic holds the same instance, so this is where they share
    /// what they derive from it (the GraphQL frames of `graphql::shared_frame`); it goes
    /// when the last of them lets go of the event.
    pub fn memo<T>(&self, key: u64) -> Arc<T>
    where
        T: Default + Send + Sync + 'static,
    {
        let mut memos = self.memos.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = memos
            .entry((TypeId::of::<T>(), key))
            .or_insert_with(|| Arc::new(T::default()) as Arc<dyn Any + Send + Sync>);
        match entry.clone().downcast::<T>() {
            Ok(value) => value,
            // Unreachable: the key holds the type; a fresh value keeps the caller correct.
            Err(_) => Arc::new(T::default()),
        }
    }

    /// The payload as `T`, decoded on first use and shared afterwards. `None` when the
    /// payload is not a `T` (or a different `T` was asked for first).
    pub fn decode<T>(&self) -> Option<Arc<T>>
    where
        T: serde::de::DeserializeOwned + Send + Sync + 'static,
    {
        let any = self
            .decoded
            .get_or_init(|| match serde_json::from_value::<T>(self.payload.clone()) {
                Ok(value) => Some(Arc::new(value) as Arc<dyn Any + Send + Sync>),
                Err(e) => {
                    tracing::error!(error = %e, kind = %self.kind, "event payload does not decode");
                    None
                }
            })
            .clone()?;
        any.downcast::<T>().ok()
    }
}

/// Writes an event in the caller's transaction.
pub async fn emit(conn: &mut AsyncPgConnection, topic: &str, kind: &str, payload: &impl Serialize) -> QueryResult<()> {
    let payload = serde_json::to_value(payload).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    model::insert(conn, topic, kind, payload).await
}

/// Writes one payload as several events, each a (topic, kind), in the caller's transaction
/// and in one statement.
pub async fn emit_all(
    conn: &mut AsyncPgConnection,
    events: Vec<(String, &str)>,
    payload: &impl Serialize,
) -> QueryResult<()> {
    let payload = serde_json::to_value(payload).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    let rows = events
        .into_iter()
        .map(|(topic, kind)| (topic, kind, payload.clone()))
        .collect();
    model::insert_many(conn, rows).await
}

/// The bus as the rest of the app sees it.
#[derive(Clone)]
pub struct Bus {
    pub hub: Hub,
    relay_wake: Arc<Notify>,
}

impl Bus {
    pub fn new(hub: Hub, relay_wake: Arc<Notify>) -> Self {
        Self { hub, relay_wake }
    }

    /// Wakes the relay. [`Bus::transaction`] calls it after each commit; call it directly
    /// only for events written outside such a transaction.
    pub fn kick(&self) {
        self.relay_wake.notify_one();
    }

    /// Runs `write` in one transaction on `conn` and, once it has committed, wakes the relay
    /// so that the events it emitted go out at once. A failed `write` rolls back and kicks
    /// nothing. Every domain write that may emit events goes through here.
    pub async fn transaction<'a, R, E, F>(&self, conn: &'a mut AsyncPgConnection, write: F) -> Result<R, E>
    where
        for<'r> F: AsyncFnOnce(&'r mut AsyncPgConnection) -> Result<R, E>
            + TransactionBody<&'r mut AsyncPgConnection, Result<R, E>, Future: Send>
            + Send
            + 'a,
        E: From<diesel::result::Error> + Send + 'a,
        R: Send + 'a,
    {
        use diesel_async::AsyncConnection;
        let out = conn.transaction(write).await?;
        self.kick();
        Ok(out)
    }

    /// Publishes an ephemeral signal (no outbox, no cursor).
    pub async fn signal(&self, topic: &str, kind: &str, payload: &impl Serialize) -> anyhow::Result<()> {
        let payload = serde_json::to_value(payload)?;
        self.hub
            .publish(Event::new(None, topic.to_owned(), kind.to_owned(), payload))
            .await
    }
}

/// Events of `topic` numbered after `after`, oldest first, read from the outbox table in
/// pages of [`REPLAY_PAGE`] (a resuming or lagging subscriber catches up this way).
pub async fn replay(db: &crate::db::Db, topic: &str, mut after: i64) -> anyhow::Result<Vec<Arc<Event>>> {
    let mut conn = db.conn().await?;
    let mut events = Vec::new();
    loop {
        let rows = model::since(&mut conn, topic, after, REPLAY_PAGE).await?;
        let full = rows.len() as i64 == REPLAY_PAGE;
        for row in rows {
            after = row.seq.unwrap_or(after);
            events.push(Arc::new(Event::new(row.seq, row.topic, row.kind, row.payload)));
        }
        if !full {
            return Ok(events);
        }
    }
}

/// How many events [`replay`] reads per statement.
pub const REPLAY_PAGE: i64 = 200;

/// The closure a transaction runs, with its future nameable so that [`Bus::transaction`] can
/// require it to be `Send` (a bound stable Rust cannot write on `AsyncFnOnce` itself, so
/// diesel-async states it the same way on `AsyncConnection::transaction`).
pub trait TransactionBody<T, R>: AsyncFnOnce(T) -> R + FnOnce(T) -> <Self as TransactionBody<T, R>>::Future {
    /// What the closure returns.
    type Future: std::future::Future<Output = R>;
}

impl<F, T, Fut, R> TransactionBody<T, R> for F
where
    F: AsyncFnOnce(T) -> R + FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = R>,
{
    type Future = Fut;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Probe {
        n: i32,
    }

    #[test]
    fn payloads_decode_once_and_are_shared() {
        let event = Event::new(Some(1), "t".into(), "K".into(), serde_json::json!({ "n": 7 }));
        let a = event.decode::<Probe>().unwrap();
        let b = event.decode::<Probe>().unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, Probe { n: 7 });
        let wire = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&wire).unwrap();
        assert_eq!((back.seq, back.kind.as_str()), (Some(1), "K"));
    }
}
