//! Who is online: users with at least one live WebSocket connection on any instance.
//!
//! Each instance counts its own connections per user. With Redis, each instance also keeps a
//! sorted set per online user (`gm:presence:<user>`: member = instance id, score = expiry
//! time) refreshed by a heartbeat, so any instance can ask whether a user is online anywhere;
//! an instance that dies simply stops refreshing and its entries expire.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::OnceCell;
use uuid::Uuid;

const HEARTBEAT: Duration = Duration::from_secs(20);
const ENTRY_TTL_SECS: i64 = 60;

struct Inner {
    local: Mutex<HashMap<Uuid, usize>>,
    instance: Uuid,
    redis: Option<(redis::Client, OnceCell<redis::aio::ConnectionManager>)>,
}

#[derive(Clone)]
pub struct Presence {
    inner: Arc<Inner>,
}

/// Held while a connection is open; dropping it marks the connection gone.
pub struct PresenceGuard {
    presence: Presence,
    user: Uuid,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        self.presence.leave(self.user);
    }
}

fn key(user: Uuid) -> String {
    format!("gm:presence:{user}")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Presence {
    pub fn new(redis_url: Option<&str>) -> anyhow::Result<Self> {
        let redis = match redis_url {
            Some(url) => Some((redis::Client::open(url)?, OnceCell::new())),
            None => None,
        };
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
                    let users: Vec<Uuid> = lock(&inner.local).keys().copied().collect();
                    let presence = Presence { inner };
                    for user in users {
                        presence.announce(user).await;
                    }
                }
            });
        }
        Ok(presence)
    }

    /// Live connections of `user` on this instance.
    pub fn local_connections(&self, user: Uuid) -> usize {
        lock(&self.inner.local).get(&user).copied().unwrap_or(0)
    }

    /// Registers a connection of `user`.
    pub fn join(&self, user: Uuid) -> PresenceGuard {
        let first = {
            let mut local = lock(&self.inner.local);
            let count = local.entry(user).or_insert(0);
            *count += 1;
            *count == 1
        };
        if first && self.inner.redis.is_some() {
            let presence = self.clone();
            tokio::spawn(async move { presence.announce(user).await });
        }
        PresenceGuard {
            presence: self.clone(),
            user,
        }
    }

    fn leave(&self, user: Uuid) {
        let last = {
            let mut local = lock(&self.inner.local);
            match local.get_mut(&user) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    local.remove(&user);
                    true
                }
                None => false,
            }
        };
        if last && self.inner.redis.is_some() {
            let presence = self.clone();
            tokio::spawn(async move { presence.withdraw(user).await });
        }
    }

    async fn connection(&self) -> Option<redis::aio::ConnectionManager> {
        let (client, cell) = self.inner.redis.as_ref()?;
        match cell.get_or_try_init(|| client.get_connection_manager()).await {
            Ok(conn) => Some(conn.clone()),
            Err(e) => {
                tracing::debug!(error = %e, "presence: Redis unavailable");
                None
            }
        }
    }

    async fn announce(&self, user: Uuid) {
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let expires = chrono::Utc::now().timestamp() + ENTRY_TTL_SECS;
        let result = redis::pipe()
            .cmd("ZADD")
            .arg(key(user))
            .arg(expires)
            .arg(self.inner.instance.to_string())
            .ignore()
            .cmd("EXPIRE")
            .arg(key(user))
            .arg(ENTRY_TTL_SECS * 2)
            .ignore()
            .query_async::<()>(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "presence: announce failed");
        }
    }

    async fn withdraw(&self, user: Uuid) {
        let Some(mut conn) = self.connection().await else {
            return;
        };
        let _ = redis::cmd("ZREM")
            .arg(key(user))
            .arg(self.inner.instance.to_string())
            .query_async::<i64>(&mut conn)
            .await;
    }

    /// Whether `user` has a live connection on this or (with Redis) any instance.
    pub async fn is_online(&self, user: Uuid) -> bool {
        if self.local_connections(user) > 0 {
            return true;
        }
        let Some(mut conn) = self.connection().await else {
            return false;
        };
        let now = chrono::Utc::now().timestamp();
        redis::cmd("ZCOUNT")
            .arg(key(user))
            .arg(now)
            .arg("+inf")
            .query_async::<i64>(&mut conn)
            .await
            .is_ok_and(|n| n > 0)
    }
}
