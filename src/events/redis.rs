//! Redis as the request paths may use it: every call bounded by a short timeout
//! (`REDIS_TIMEOUT_MS`), and, after one fails, none tried again for a moment, so that an outage
//! costs a request at most one timeout and most requests none.
//!
//! Left to itself the Redis client makes a command wait while it reconnects, retrying with
//! exponential backoff: with Redis stopped, every command (a presence check in `sendMessage`,
//! the relay's `PUBLISH`, a typing signal) waited out the whole backoff, about 6 to 10 s. Here
//! the client gives up after one attempt and the caller after the timeout; whatever Redis was
//! for then falls back (presence counts this instance only, the relay leaves the events in the
//! outbox and retries, a typing signal is lost).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::anyhow;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::{sync::OnceCell, time::Instant};

struct Inner {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    timeout: Duration,
    /// Set when a call failed: until then, calls fail at once without trying Redis.
    resting_until: Mutex<Option<Instant>>,
}

/// A bounded handle on one Redis; cheap to clone.
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RedisLink {
    /// A link to `url` whose calls give up after `timeout`. Connects on first use.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                client: redis::Client::open(url)?,
                manager: OnceCell::new(),
                timeout,
                resting_until: Mutex::new(None),
            }),
        })
    }

    /// The client, for what needs a connection of its own (the hub's pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.inner.client
    }

    /// How long a call may take.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How long calls are skipped after one failed: a few timeouts, so that a request during
    /// an outage rarely pays even one, and Redis is tried again soon after it is back.
    fn rest(&self) -> Duration {
        (self.inner.timeout * 5).max(Duration::from_millis(500))
    }

    /// Runs `call` on the shared connection, giving up after the timeout, and at once while
    /// resting after a failure.
    pub async fn run<T, F>(&self, call: F) -> anyhow::Result<T>
    where
        F: AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    {
        if lock(&self.inner.resting_until).is_some_and(|until| Instant::now() < until) {
            return Err(anyhow!("Redis failed a moment ago; not tried"));
        }
        let attempt = async {
            let manager = self
                .inner
                .manager
                .get_or_try_init(|| {
                    let config = ConnectionManagerConfig::new()
                        .set_number_of_retries(0)
                        .set_connection_timeout(Some(self.inner.timeout))
                        .set_response_timeout(Some(self.inner.timeout));
                    self.inner.client.get_connection_manager_with_config(config)
                })
                .await?;
            let mut conn = manager.clone();
            call(&mut conn).await
        };
        let outcome = match tokio::time::timeout(self.inner.timeout, attempt).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => anyhow::Error::from(e),
            Err(_) => anyhow!("Redis did not answer within {:?}", self.inner.timeout),
        };
        *lock(&self.inner.resting_until) = Some(Instant::now() + self.rest());
        Err(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing listens on a closed port: the first call fails within the timeout, the next
    /// ones at once (resting), with no server needed.
    #[tokio::test]
    async fn calls_to_an_unreachable_redis_fail_within_the_timeout() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let link = RedisLink::new(&format!("redis://127.0.0.1:{port}"), Duration::from_millis(200)).unwrap();
        let first = tokio::time::timeout(
            Duration::from_secs(5),
            link.run(async |conn: &mut ConnectionManager| redis::cmd("PING").query_async::<String>(conn).await),
        )
        .await;
        assert!(matches!(first, Ok(Err(_))), "fails, and does not hang");
        let second = link
            .run(async |conn: &mut ConnectionManager| redis::cmd("PING").query_async::<String>(conn).await)
            .await
            .unwrap_err();
        assert!(second.to_string().contains("not tried"), "{second}");
    }
}
