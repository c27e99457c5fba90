//! Who is here: counts of live holders of a key, on this instance and (with Redis) on all.
//!
//! Keys say what is present, e.g. [`connection`] (a user's WebSocket connections) or
//! [`watching`] (a user subscribed to a conversation's messages). Each instance counts its own
//! holders per key. With Redis, each instance also keeps a sorted set per present key
//! (`gm:presence:<key>`: member = instance id, score = expiry time) refreshed by a heartbeat,
//! so any instance can ask whether a key is held anywhere; an instance that dies simply stops
//! refreshing and its entries expire.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use uuid::Uuid;

use super::redis::RedisLink;

const HEARTBEAT: Duration = Duration::from_secs(20);
const ENTRY_TTL_SECS: i64 = 60;

struct Inner {
    local: Mutex<HashMap<String, usize>>,
    instance: Uuid,
    redis: Option<RedisLink>,
}

#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

/// Held while present; dropping it withdraws.
pub struct PresenceGuard {
    presence: Presence,
    key: String,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.presence.leave(&self.key);
    }
}

/// The key of a user's WebSocket connections.
pub fn connection(user: Uuid) -> String {
    format!("connection:{user}")
}

/// The key of a user watching a conversation's messages live.
pub fn watching(conversation: Uuid, user: Uuid) -> String {
    format!("watching:{conversation}:{user}")
}

fn redis_key(key: &str) -> String {
    format!("gm:presence:{key}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Presence {
    /// Presence on this instance, and with `redis` on all (each Redis call bounded by the
    /// link's timeout).
    pub fn new(redis: Option<RedisLink>) -> Self {
        let presence = Self {
            inner: Arc::new(Inner {
                local: Mutex::default(),
                instance: Uuid::new_v4(),
                redis,
            }),
        };
        if presence.inner.redis.is_some() {
            let weak = Arc::downgrade(&presence.inner);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let Some(inner) = weak.upgrade() else { return };
                    let keys: Vec<String> = lock(&inner.local).keys().cloned().collect();
                    let presence = Presence { inner };
                    for key in keys {
                        presence.announce(&key).await;
                    }
                }
            });
        }
        presence
    }

    /// Holders of `key` on this instance.
    pub fn local_count(&self, key: &str) -> usize {
        lock(&self.inner.local).get(key).copied().unwrap_or(0)
    }

    /// Holds `key` until the guard drops.
    pub fn join(&self, key: String) -> PresenceGuard {
        let first = {
            let mut local = lock(&self.inner.local);
            let count = local.entry(key.clone()).or_insert(0);
            *count += 1;
            *count == 1
        };
        if first && self.inner.redis.is_some() {
            let presence = self.clone();
            let announced = key.clone();
            tokio::spawn(async move { presence.announce(&announced).await });
        }
        PresenceGuard {
            presence: self.clone(),
            key,
        }
    }

    fn leave(&self, key: &str) {
        let last = {
            let mut local = lock(&self.inner.local);
            match local.get_mut(key) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    local.remove(key);
                    true
                }
                None => false,
            }
        };
        if last && self.inner.redis.is_some() {
            let presence = self.clone();
            let key = key.to_owned();
            tokio::spawn(async move { presence.withdraw(&key).await });
        }
    }

    async fn announce(&self, key: &str) {
        let Some(redis) = &self.inner.redis else { return };
        let expires = chrono::Utc::now().timestamp() + ENTRY_TTL_SECS;
        let instance = self.inner.instance.to_string();
        let result = redis
            .run(async |conn| {
                redis::pipe()
                    .cmd("ZADD")
                    .arg(redis_key(key))
                    .arg(expires)
                    .arg(&instance)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(redis_key(key))
                    .arg(ENTRY_TTL_SECS * 2)
                    .ignore()
                    .query_async::<()>(conn)
                    .await
            })
            .await;
        if let Err(e) = result {
            tracing::debug!(error = format!("{e:#}"), "presence: announce failed");
        }
    }

    async fn withdraw(&self, key: &str) {
        let Some(redis) = &self.inner.redis else { return };
        let instance = self.inner.instance.to_string();
        let _ = redis
            .run(async |conn| {
                redis::cmd("ZREM")
                    .arg(redis_key(key))
                    .arg(&instance)
                    .query_async::<i64>(conn)
                    .await
            })
            .await;
    }

    /// Which of `keys` are held on this or (with Redis) any instance, in one round trip.
    /// When Redis cannot be asked, only this instance's holders count.
    pub async fn present_among(&self, keys: &[String]) -> Vec<bool> {
        let mut present: Vec<bool> = keys.iter().map(|k| self.local_count(k) > 0).collect();
        let remote: Vec<usize> = (0..keys.len()).filter(|&i| !present[i]).collect();
        if remote.is_empty() {
            return present;
        }
        let Some(redis) = &self.inner.redis else {
            return present;
        };
        let now = chrono::Utc::now().timestamp();
        let mut pipe = redis::pipe();
        for &i in &remote {
            pipe.cmd("ZCOUNT").arg(redis_key(&keys[i])).arg(now).arg("+inf");
        }
        match redis.run(async |conn| pipe.query_async::<Vec<i64>>(conn).await).await {
            Ok(counts) => {
                for (&i, count) in remote.iter().zip(counts) {
                    present[i] = count > 0;
                }
            }
            Err(e) => tracing::debug!(error = format!("{e:#}"), "presence: batch check failed"),
        }
        present
    }

    /// Whether `key` is held on this or (with Redis) any instance.
    pub async fn is_present(&self, key: &str) -> bool {
        if self.local_count(key) > 0 {
            return true;
        }
        let Some(redis) = &self.inner.redis else {
            return false;
        };
        let now = chrono::Utc::now().timestamp();
        redis
            .run(async |conn| {
                redis::cmd("ZCOUNT")
                    .arg(redis_key(key))
                    .arg(now)
                    .arg("+inf")
                    .query_async::<i64>(conn)
                    .await
            })
            .await
            .is_ok_and(|n| n > 0)
    }
}
