//! What the WebSocket workloads (`fan-out`, `nearby-fanout`) share: seeded users and their
//! tokens, `graphql-transport-ws` connections, reading frames, and counting who connected.

use std::{collections::HashMap, sync::Arc, time::Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use gigmarket::{
    auth::jwt::{Subject, TokenKeys},
    config::Config,
    progress::{Progress, Unit},
    state::AppState,
};
use serde_json::json;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

use crate::fanout::{connect, DELIVERY_WAIT};

/// The server's state for tools (seeding) on `database_url`: no background jobs.
pub async fn tools_app(database_url: &str) -> anyhow::Result<AppState> {
    let vars = HashMap::from([
        ("DATABASE_URL".to_owned(), database_url.to_owned()),
        ("DATABASE_POOL_SIZE".to_owned(), "2".to_owned()),
        // `prepare` makes sure the upload folders exist: keep them out of the working directory.
        (
            "UPLOAD_DIR".to_owned(),
            std::env::temp_dir()
                .join("gigmarket-loadgen-uploads")
                .display()
                .to_string(),
        ),
        (
            "PRIVATE_UPLOAD_DIR".to_owned(),
            std::env::temp_dir()
                .join("gigmarket-loadgen-private-uploads")
                .display()
                .to_string(),
        ),
    ]);
    let config = Config::from_vars(&vars).context("configuration for seeding")?;
    gigmarket::prepare_for_tools(config)
        .await
        .context("preparing the database")
}

/// The HTTP client of the one who writes (sends messages, posts tasks) while subscribers
/// listen: one keep-alive connection, no proxy.
pub fn writer_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .timeout(DELIVERY_WAIT)
        .build()?)
}

/// A seeded user.
pub struct SeededUser {
    pub id: uuid::Uuid,
    pub email: String,
}

impl SeededUser {
    /// An access token for this user, signed with the server's keys.
    pub fn token(&self, keys: &TokenKeys, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<String> {
        let subject = Subject {
            user_id: self.id,
            email: &self.email,
            is_admin: false,
            session: None,
        };
        Ok(keys.issue(&subject, now)?.0)
    }
}

/// Seeds `{prefix}0` … `{prefix}{count - 1}` with the server's `seed::load_users` (password
/// `password`) and returns them in index order.
pub async fn seed_users(database_url: &str, prefix: &str, count: usize) -> anyhow::Result<Vec<SeededUser>> {
    let app = tools_app(database_url).await?;
    let progress = Progress::new(&format!("seeding {prefix} users"), Unit::Items("users"));
    let created = gigmarket::seed::load_users_with_progress(&app, prefix, count, "password", &progress)
        .await
        .with_context(|| format!("seeding {prefix} users"))?;
    progress.finish(format_args!("seeded {created} new {prefix} users"));
    let db = connect(database_url).await?;
    let names: Vec<String> = (0..count).map(|i| format!("{prefix}{i}")).collect();
    let rows = db
        .query(
            "SELECT username, id::text, email FROM users WHERE username = ANY($1)",
            &[&names],
        )
        .await
        .with_context(|| format!("reading the {prefix} users"))?;
    let mut by_name = HashMap::new();
    for row in rows {
        let name: String = row.try_get(0)?;
        let id: String = row.try_get(1)?;
        let email: String = row.try_get(2)?;
        by_name.insert(name, SeededUser { id: id.parse()?, email });
    }
    names
        .iter()
        .map(|name| {
            by_name
                .remove(name)
                .with_context(|| format!("{name} is missing after seeding"))
        })
        .collect()
}

/// A server frame of `graphql-transport-ws`, as far as a subscriber cares.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<T> {
    /// A `next` frame, reduced to what identifies the delivery.
    Delivery(T),
    Ping,
    Ignore,
    /// Not what a live subscription sends: why.
    Failed(String),
}

/// Reads a server frame; `delivery` reduces a `next` frame's `data` to its identity.
pub fn read_frame<T>(text: &str, delivery: impl FnOnce(&serde_json::Value) -> Option<T>) -> Frame<T> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Frame::Failed(format!("not JSON: {text}"));
    };
    match value["type"].as_str() {
        Some("next") => {
            if value["payload"].get("errors").is_some() {
                return Frame::Failed(format!("errors in next: {text}"));
            }
            match delivery(&value["payload"]["data"]) {
                Some(found) => Frame::Delivery(found),
                None => Frame::Failed(format!("unexpected next: {text}")),
            }
        }
        Some("ping") => Frame::Ping,
        Some("pong") => Frame::Ignore,
        _ => Frame::Failed(format!("unexpected frame: {text}")),
    }
}

/// A client WebSocket connection.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a `graphql-transport-ws` connection to `url` signed in with `token` (connection_init,
/// waits for connection_ack) and sends `payload` as subscription "1".
pub async fn open_subscription(url: &str, token: &str, payload: serde_json::Value) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    // A server out of file descriptors leaves the connection in its listen backlog, never
    // accepted: without a deadline the handshake would wait for ever.
    let (mut socket, _) = tokio::time::timeout(DELIVERY_WAIT, tokio_tungstenite::connect_async(request))
        .await
        .context("no handshake in time")?
        .context("handshake")?;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
    socket.send(Message::text(init.to_string())).await?;
    loop {
        let frame = tokio::time::timeout(DELIVERY_WAIT, socket.next())
            .await
            .context("no connection_ack in time")?;
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: serde_json::Value = serde_json::from_str(&text)?;
                match value["type"].as_str() {
                    Some("connection_ack") => break,
                    Some("ping") => socket.send(Message::text(r#"{"type":"pong"}"#)).await?,
                    _ => bail!("before connection_ack: {text}"),
                }
            }
            Some(Ok(Message::Close(close))) => bail!("closed before connection_ack: {close:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended before connection_ack"),
        }
    }
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": payload });
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}

/// One subscriber: where it connects, as whom, what it subscribes to.
pub struct Listener {
    pub url: String,
    pub token: String,
    /// The `subscribe` payload (query and variables).
    pub payload: serde_json::Value,
    /// Limits the handshakes in flight.
    pub gate: Arc<Semaphore>,
    /// Becomes true when the run is over.
    pub stop: watch::Receiver<bool>,
}

/// Deliveries in arrival order, with their arrival times.
pub type Arrivals<T> = Vec<(T, Instant)>;

impl Listener {
    /// Connects and subscribes (reporting on `ready`), then records each delivery `classify`
    /// finds, calling `on_delivery` for it, until stopped. Returns `None` for arrivals when it
    /// never connected, and the first error seen.
    pub async fn listen<T>(
        mut self,
        ready: oneshot::Sender<Result<(), String>>,
        classify: fn(&str) -> Frame<T>,
        mut on_delivery: impl FnMut(&T),
    ) -> (Option<Arrivals<T>>, Option<String>) {
        let permit = self.gate.clone().acquire_owned().await;
        let socket = match open_subscription(&self.url, &self.token, self.payload.clone()).await {
            Ok(socket) => socket,
            Err(e) => {
                let _ = ready.send(Err(format!("{e:#}")));
                return (None, None);
            }
        };
        drop(permit);
        let _ = ready.send(Ok(()));
        let (mut sink, mut stream) = socket.split();
        let mut arrivals = Vec::new();
        let mut error = None;
        loop {
            tokio::select! {
                _ = self.stop.changed() => break,
                frame = stream.next() => {
                    let at = Instant::now();
                    let text = match frame {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(close))) => {
                            error = Some(format!("closed by the server: {close:?}"));
                            break;
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            error = Some(format!("read: {e}"));
                            break;
                        }
                        None => {
                            error = Some("the server closed the connection".to_owned());
                            break;
                        }
                    };
                    match classify(&text) {
                        Frame::Delivery(found) => {
                            on_delivery(&found);
                            arrivals.push((found, at));
                        }
                        Frame::Ping => {
                            let _ = sink.send(Message::text(r#"{"type":"pong"}"#)).await;
                        }
                        Frame::Ignore => {}
                        Frame::Failed(why) => {
                            error.get_or_insert(why);
                        }
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
        (Some(arrivals), error)
    }
}

/// WebSocket handshakes in flight at once while connecting.
const CONNECT_CONCURRENCY: usize = 64;

/// A subscriber's task: its arrivals (`None` when it never connected) and its first error.
pub type ListenerTask<T> = tokio::task::JoinHandle<(Option<Arrivals<T>>, Option<String>)>;

/// Connects one subscriber per `(token, payload)` to `url` (`CONNECT_CONCURRENCY` handshakes
/// at a time), each listening until `stop` with its own `on_delivery` from `make_on_delivery`;
/// returns their tasks once every one has connected or failed, counting them on `progress`.
pub async fn connect_all<T, F>(
    url: &str,
    subscriptions: Vec<(String, serde_json::Value)>,
    stop: &watch::Receiver<bool>,
    classify: fn(&str) -> Frame<T>,
    make_on_delivery: impl Fn() -> F,
    progress: &Progress,
) -> (Vec<ListenerTask<T>>, Connects)
where
    T: Send + 'static,
    F: FnMut(&T) + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut tasks = Vec::with_capacity(subscriptions.len());
    let mut reports = Vec::with_capacity(subscriptions.len());
    for (token, payload) in subscriptions {
        let (ready, report) = oneshot::channel();
        reports.push(report);
        let listener = Listener {
            url: url.to_owned(),
            token,
            payload,
            gate: gate.clone(),
            stop: stop.clone(),
        };
        tasks.push(tokio::spawn(listener.listen(ready, classify, make_on_delivery())));
    }
    progress.set_length(reports.len() as u64);
    (tasks, Connects::gather(reports, progress).await)
}

/// How many subscribers connected, how many failed, and the first failure.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Connects {
    pub connected: usize,
    pub errors: usize,
    pub first_error: Option<String>,
}

impl std::fmt::Display for Connects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} subscribed ({} failed)",
            self.connected,
            self.connected + self.errors,
            self.errors
        )
    }
}

impl Connects {
    /// Waits for every subscriber's report, counting each on `progress`.
    pub async fn gather(reports: Vec<oneshot::Receiver<Result<(), String>>>, progress: &Progress) -> Self {
        let mut connects = Connects::default();
        for ready in reports {
            let report = ready.await;
            progress.inc(1);
            let failure = match report {
                Ok(Ok(())) => {
                    connects.connected += 1;
                    continue;
                }
                Ok(Err(e)) => e,
                Err(_) => "the subscriber task ended".to_owned(),
            };
            connects.errors += 1;
            connects.first_error.get_or_insert(failure);
        }
        connects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read() {
        let id = |data: &serde_json::Value| data["x"]["id"].as_str().map(str::to_owned);
        let next = r#"{"id":"1","type":"next","payload":{"data":{"x":{"id":"abc"}}}}"#;
        assert_eq!(read_frame(next, id), Frame::Delivery("abc".to_owned()));
        assert_eq!(read_frame(r#"{"type":"ping"}"#, id), Frame::Ping);
        assert_eq!(read_frame(r#"{"type":"pong"}"#, id), Frame::Ignore);
        let errors = r#"{"id":"1","type":"next","payload":{"errors":[{"message":"x"}]}}"#;
        assert!(matches!(read_frame(errors, id), Frame::Failed(e) if e.starts_with("errors in next")));
        let other = r#"{"id":"1","type":"next","payload":{"data":{"y":1}}}"#;
        assert!(matches!(read_frame(other, id), Frame::Failed(e) if e.starts_with("unexpected next")));
        assert!(matches!(read_frame("{", id), Frame::Failed(_)));
        assert!(matches!(read_frame(r#"{"type":"complete"}"#, id), Frame::Failed(_)));
    }

    #[tokio::test]
    async fn connects_are_counted() {
        let mut reports = Vec::new();
        for outcome in [Some(Ok(())), Some(Err("refused".to_owned())), None, Some(Ok(()))] {
            let (tx, rx) = oneshot::channel();
            if let Some(outcome) = outcome {
                let _ = tx.send(outcome);
            }
            reports.push(rx);
        }
        let connects = Connects::gather(reports, &Progress::hidden()).await;
        assert_eq!(
            connects,
            Connects {
                connected: 2,
                errors: 2,
                first_error: Some("refused".to_owned()),
            }
        );
        assert_eq!(connects.to_string(), "2 of 4 subscribed (2 failed)");
    }
}
