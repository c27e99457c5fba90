//! GraphQL over WebSocket at `/graphql/ws`: `graphql-transport-ws` (the graphql-ws library)
//! and the legacy `graphql-ws` (subscriptions-transport-ws) subprotocol.
//!
//! Written by hand rather than with async-graphql-axum's handler so that the close codes are
//! exactly the ones the graphql-ws client expects (it treats some as fatal):
//! 4400 malformed message, 4401 subscribe before `connection_ack`, 4403 credentials refused
//! or expired, 4408 no `connection_init` in time, 4409 duplicate subscription id, 4429 a
//! second `connection_init`; 1013 (try again later) when one user holds too many connections.
//!
//! Authentication is the `connection_init` payload (`{"authorization": "Bearer …"}` or
//! `{"token": "…"}`); cookies are ignored here, so a page on another origin cannot ride on a
//! user's cookie. The connection closes with 4403 when the token expires. Keep-alive pings go
//! out every `WS_KEEPALIVE_SECS` (a Ping frame, plus `ka` on the legacy protocol); a peer
//! silent for two intervals (no Pong either) is dropped. Every task a
//! connection starts ends with it.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_graphql::Request;
use axum::{
    extract::{
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        ConnectInfo, State,
    },
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::{sync::broadcast::error::RecvError, task::JoinHandle, time::Instant};
use uuid::Uuid;

use super::{
    context::RequestCtx,
    errors,
    handler::GraphqlState,
    loader::subscription_loader,
    outbox::Outbox,
    shared_frame::{self, Sharing},
};
use crate::{
    account::{
        moderation::{Suspended, ACCOUNT_SUSPENDED},
        service::{SessionRevoked, SESSION_REVOKED},
    },
    auth::{self, Auth},
    events::{
        hub::TopicReceiver,
        presence::{self, PresenceGuard},
        topic, Event,
    },
};

/// The two subprotocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`
    TransportWs,
    /// legacy `graphql-ws`
    Legacy,
}

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY: &str = "graphql-ws";

/// Close codes of the graphql-ws protocol.
mod close {
    pub const NORMAL: u16 = 1000;
    pub const BAD_REQUEST: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
    /// Going away (server shutting down or peer silent).
    pub const GOING_AWAY: u16 = 1001;
    /// Try again later (RFC 6455): too many connections for one user right now. Not 4429,
    /// which the graphql-ws client treats as a fatal protocol violation.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// Internal error (RFC 6455): the server cannot serve the connection.
    pub const INTERNAL_ERROR: u16 = 1011;
}

/// The read buffer each connection allocates (and tungstenite fills with zeros) up front.
/// tungstenite's default, 128 KiB, was most of the ~177 KiB a subscribed connection cost the
/// server (fan-out workload, BENCHMARKS.md); clients send small messages (`subscribe` with
/// its document, `ping`, `complete`), and a larger one still arrives: the buffer grows for
/// it, up to `WS_MAX_MESSAGE_BYTES`.
const READ_BUFFER_BYTES: usize = 1024;

/// `GET /graphql/ws`.
pub async fn upgrade(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let offered = headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_owned())
        .collect::<Vec<_>>();
    // graphql-transport-ws wins when a client offers both.
    let protocol = if offered.iter().any(|p| p == LEGACY) && !offered.iter().any(|p| p == TRANSPORT_WS) {
        Protocol::Legacy
    } else {
        Protocol::TransportWs
    };
    let limits = state.app.config.ws.clone();
    let open = state.ws_connections.fetch_add(1, Ordering::AcqRel);
    let slot = ConnectionSlot {
        open: state.ws_connections.clone(),
        _gauge: crate::http::metrics::Live::new("ws_connections"),
    };
    if open >= limits.max_connections {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many WebSocket connections; try again later.",
        )
            .into_response();
    }
    ws.protocols([TRANSPORT_WS, LEGACY])
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes)
        .on_upgrade(move |socket| async move {
            run(state, protocol, peer, socket).await;
            drop(slot);
        })
        .into_response()
}

/// Counts one open connection until dropped (and shows it in the `ws_connections` gauge).
struct ConnectionSlot {
    open: Arc<AtomicUsize>,
    _gauge: crate::http::metrics::Live,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A client message (both protocols).
#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<serde_json::Value>,
}

/// Why the connection ended, as a close frame.
struct Close(u16, String);

struct Connection {
    state: GraphqlState,
    protocol: Protocol,
    peer: SocketAddr,
    auth: Option<Auth>,
    token_expires: Option<Instant>,
    /// The signed-in user's id, the session (refresh-token family) of the token, and the
    /// session events every live connection watches (a suspension of the user, or a
    /// revocation of the session, closes the connection at once).
    user: Option<Uuid>,
    session: Option<Uuid>,
    sessions: Option<TopicReceiver>,
    _presence: Option<PresenceGuard>,
    /// Live subscription tasks by id; a finished one is pruned at the next `subscribe`.
    subscriptions: HashMap<String, JoinHandle<()>>,
    outbox: Outbox,
}

fn text(value: serde_json::Value) -> Message {
    Message::Text(Utf8Bytes::from(value.to_string()))
}

/// Serves one upgraded connection until it closes.
async fn run(state: GraphqlState, protocol: Protocol, peer: SocketAddr, socket: WebSocket) {
    let (sink, mut stream) = socket.split();
    let mut connection = Connection {
        state,
        protocol,
        peer,
        auth: None,
        token_expires: None,
        user: None,
        session: None,
        sessions: None,
        _presence: None,
        subscriptions: HashMap::new(),
        outbox: Outbox::new(sink),
    };
    let close = connection.serve(&mut stream).await;
    for (_, task) in connection.subscriptions.drain() {
        task.abort();
    }
    let outbox = connection.outbox;
    let goodbye = async {
        if let Some(Close(code, reason)) = close {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            outbox.send(Message::Close(Some(frame))).await?;
        }
        outbox.close().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), goodbye).await;
}

impl Connection {
    /// Reads and answers client messages until the connection is to close: `Some` with the
    /// close frame to send, `None` when the client went away.
    async fn serve(&mut self, stream: &mut futures_util::stream::SplitStream<WebSocket>) -> Option<Close> {
        let ws = self.state.app.config.ws.clone();
        let init_deadline = Instant::now() + ws.init_timeout;
        let keepalive = ws.keepalive;
        let mut ticker = tokio::time::interval_at(Instant::now() + keepalive, keepalive);
        let mut last_heard = Instant::now();

        loop {
            let expiry = self.token_expires;
            tokio::select! {
                frame = stream.next() => {
                    let Some(Ok(frame)) = frame else { break None };
                    last_heard = Instant::now();
                    match frame {
                        // Boxed: handling a message (signing in reads the database) is
                        // rare next to waiting, and would otherwise size every idle
                        // connection's task for its largest step.
                        Message::Text(body) => {
                            if let Err(close) = Box::pin(self.on_text(body.as_str())).await {
                                break Some(close);
                            }
                        }
                        Message::Binary(_) => break Some(Close(close::BAD_REQUEST, "Binary messages are not supported".into())),
                        Message::Close(_) => break None,
                        Message::Ping(_) | Message::Pong(_) => {}
                    }
                }
                _ = tokio::time::sleep_until(init_deadline), if self.auth.is_none() => {
                    break Some(Close(close::INIT_TIMEOUT, "Connection initialisation timeout".into()));
                }
                _ = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                    break Some(Close(close::FORBIDDEN, "Forbidden: the access token expired".into()));
                }
                event = session_event(&mut self.sessions), if self.sessions.is_some() => {
                    if let Some(close) = Box::pin(self.on_session_event(event)).await {
                        break Some(close);
                    }
                }
                _ = ticker.tick() => {
                    if last_heard.elapsed() > keepalive * 2 {
                        break Some(Close(close::GOING_AWAY, "No response to keep-alive".into()));
                    }
                    // The legacy protocol's `ka` is one-way (its clients never speak unprompted),
                    // so both protocols also get a Ping frame, which every WebSocket peer
                    // answers with a Pong: that answer is what keeps a listening client alive.
                    // Skipped while a frame is being written (that is traffic too); a peer that
                    // stopped reading is dropped at a later tick, for it sends no Pong.
                    let ping = async {
                        if self.protocol == Protocol::Legacy {
                            self.outbox.send_if_idle(text(serde_json::json!({ "type": "ka" }))).await?;
                        }
                        self.outbox.send_if_idle(Message::Ping(Default::default())).await
                    };
                    if let Ok(Err(_)) = tokio::time::timeout(keepalive, ping).await {
                        break None;
                    }
                }
            }
        }
    }

    async fn send(&self, value: serde_json::Value) {
        let _ = self.outbox.send(text(value)).await;
    }

    /// Handles one text message; `Err` closes the connection.
    async fn on_text(&mut self, body: &str) -> Result<(), Close> {
        let message: ClientMessage =
            serde_json::from_str(body).map_err(|_| Close(close::BAD_REQUEST, "Invalid message received".into()))?;
        match (self.protocol, message.kind.as_str()) {
            (_, "connection_init") => self.on_init(message.payload).await,
            (Protocol::TransportWs, "ping") => {
                self.send(serde_json::json!({ "type": "pong" })).await;
                Ok(())
            }
            (Protocol::TransportWs, "pong") => Ok(()),
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                if self.auth.is_none() {
                    return Err(Close(close::UNAUTHORIZED, "Unauthorized".into()));
                }
                self.on_subscribe(message.id, message.payload).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(task) = message.id.and_then(|id| self.subscriptions.remove(&id)) {
                    task.abort();
                }
                Ok(())
            }
            (Protocol::Legacy, "connection_terminate") => Err(Close(close::NORMAL, "Bye".into())),
            (_, other) => Err(Close(close::BAD_REQUEST, format!("Unexpected message type {other:?}"))),
        }
    }

    async fn on_init(&mut self, payload: Option<serde_json::Value>) -> Result<(), Close> {
        if self.auth.is_some() {
            return Err(Close(close::TOO_MANY_INITS, "Too many initialisation requests".into()));
        }
        let token = payload.as_ref().and_then(|p| {
            p.get("authorization")
                .or_else(|| p.get("Authorization"))
                .and_then(|v| v.as_str())
                .map(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                        .unwrap_or(v)
                        .trim()
                        .to_owned()
                })
                .or_else(|| p.get("token").and_then(|v| v.as_str()).map(str::to_owned))
        });
        let app = &self.state.app;
        let auth = match auth::authenticate(app, token.as_deref()).await {
            Ok(Auth::Invalid(_)) | Err(_) => return Err(Close(close::FORBIDDEN, "Forbidden".into())),
            Ok(auth) => auth,
        };
        if let Auth::User(viewer) = &auth {
            let user = viewer.id();
            let key = presence::connection(user);
            if app.presence.local_count(&key) >= app.config.ws.max_connections_per_user {
                return Err(Close(
                    close::TRY_AGAIN_LATER,
                    "Too many connections for this user".into(),
                ));
            }
            self.sessions = match app.bus.hub.subscribe(&topic::sessions()).await {
                Ok(receiver) => Some(receiver),
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "watching session events failed");
                    return Err(Close(close::INTERNAL_ERROR, "Internal error".into()));
                }
            };
            self.user = Some(user);
            self._presence = Some(app.presence.join(key));
            if let Some(token) = token.as_deref() {
                if let Ok(claims) = app.tokens.verify(token) {
                    self.session = claims.sid;
                    let left = claims.exp - chrono::Utc::now().timestamp();
                    self.token_expires = Some(Instant::now() + Duration::from_secs(left.max(0) as u64));
                }
            }
        }
        self.auth = Some(auth);
        self.send(serde_json::json!({ "type": "connection_ack" })).await;
        Ok(())
    }

    /// A session event: the connection closes when its user is suspended or its session
    /// revoked (or, when events were missed, when either turns out to be so now).
    async fn on_session_event(&mut self, event: Result<Arc<Event>, RecvError>) -> Option<Close> {
        let user = self.user?;
        let app = &self.state.app;
        let (suspended, revoked) = match event {
            Ok(event) => match event.kind.as_str() {
                ACCOUNT_SUSPENDED => (event.decode::<Suspended>().is_some_and(|s| s.user_id == user), false),
                SESSION_REVOKED => (
                    false,
                    event
                        .decode::<SessionRevoked>()
                        .is_some_and(|r| Some(r.family_id) == self.session),
                ),
                _ => (false, false),
            },
            Err(RecvError::Lagged(_)) => {
                let suspended = auth::is_suspended(app, user).await.unwrap_or(false);
                let revoked = match self.session {
                    Some(session) => auth::is_revoked(app, session).await.unwrap_or(false),
                    None => false,
                };
                (suspended, revoked)
            }
            Err(RecvError::Closed) => {
                self.sessions = None;
                (false, false)
            }
        };
        if suspended {
            Some(Close(close::FORBIDDEN, "Forbidden: the account was suspended".into()))
        } else {
            revoked.then(|| Close(close::FORBIDDEN, "Forbidden: the session was signed out".into()))
        }
    }

    async fn on_subscribe(&mut self, id: Option<String>, payload: Option<serde_json::Value>) -> Result<(), Close> {
        let Some(id) = id.filter(|id| !id.is_empty() && id.len() <= 128) else {
            return Err(Close(
                close::BAD_REQUEST,
                "Invalid message received: subscription id".into(),
            ));
        };
        self.subscriptions.retain(|_, task| !task.is_finished());
        if self.subscriptions.contains_key(&id) {
            return Err(Close(
                close::DUPLICATE_ID,
                format!("Subscriber for {id} already exists"),
            ));
        }
        let Some(mut request) = payload.and_then(|p| serde_json::from_value::<Request>(p).ok()) else {
            return Err(Close(
                close::BAD_REQUEST,
                "Invalid message received: subscribe payload".into(),
            ));
        };
        let limit = self.state.app.config.ws.max_subscriptions_per_connection;
        if self.subscriptions.len() >= limit {
            let error = errors::error_body(
                crate::error::Code::LimitExceeded,
                &format!("At most {limit} subscriptions per connection."),
            );
            self.send(serde_json::json!({ "type": "error", "id": id, "payload": error["errors"] }))
                .await;
            return Ok(());
        }
        if let Err(refused) = super::nul::refuse_nul(&mut request) {
            let error = super::transport::app_error_body(&refused);
            self.send(serde_json::json!({ "type": "error", "id": id, "payload": error["errors"] }))
                .await;
            return Ok(());
        }
        let Some(auth) = self.auth.clone() else {
            return Err(Close(close::UNAUTHORIZED, "Unauthorized".into()));
        };
        let app = self.state.app.clone();
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        let sharing = Arc::new(Sharing::new(
            shared_frame::key(&request.query, request.operation_name.as_deref(), &variables),
            frame_prefix(self.protocol, &id),
            self.outbox.clone(),
        ));
        let request = request
            .data(RequestCtx {
                auth,
                client_addr: Some(self.peer.ip()),
                refresh_cookie: None,
            })
            .data(subscription_loader(app.db.clone()))
            .data(sharing.clone());
        let schema = self.state.schema.strict.clone();
        let outbox = self.outbox.clone();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            let _live = crate::http::metrics::Live::new("ws_subscriptions");
            let mut stream = schema.execute_stream(request);
            let mut first = true;
            while let Some(mut response) = stream.next().await {
                errors::finalize(&mut response.errors);
                if first && !sharing.delivered() && response.data == async_graphql::Value::Null && response.is_err() {
                    // Refused before it started (validation, authorisation): an `error` message.
                    let payload = serde_json::to_value(&response.errors).unwrap_or_default();
                    let _ = outbox
                        .send(text(
                            serde_json::json!({ "type": "error", "id": task_id, "payload": payload }),
                        ))
                        .await;
                    return;
                }
                first = false;
                let Some(message) = sharing.frame(&response) else {
                    continue;
                };
                if outbox.send(message).await.is_err() {
                    return;
                }
            }
            let _ = outbox
                .send(text(serde_json::json!({ "type": "complete", "id": task_id })))
                .await;
        });
        self.subscriptions.insert(id, task);
        Ok(())
    }
}

/// The next session event, for a connection that watches them.
async fn session_event(sessions: &mut Option<TopicReceiver>) -> Result<Arc<Event>, RecvError> {
    match sessions {
        Some(receiver) => receiver.rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The start of a `next` (`data` for the legacy protocol) message, up to its payload; the
/// payload (the response's JSON) and a closing brace complete it (see [`Sharing`]).
fn frame_prefix(protocol: Protocol, id: &str) -> String {
    let kind = match protocol {
        Protocol::TransportWs => "next",
        Protocol::Legacy => "data",
    };
    // A string always serialises to JSON.
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".to_owned());
    format!(r#"{{"type":"{kind}","id":{id},"payload":"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_messages_are_the_json_of_the_response() {
        let mut response = async_graphql::Response::new(
            async_graphql::Value::from_json(
                serde_json::json!({ "messageAdded": { "content": "a \"quoted\" line\n" } }),
            )
            .unwrap(),
        );
        response.errors = vec![];
        for (protocol, kind) in [(Protocol::TransportWs, "next"), (Protocol::Legacy, "data")] {
            let (outbox, _) = crate::graphql::outbox::testing::channel(1);
            let sharing = Sharing::new(0, frame_prefix(protocol, "sub-\"1\""), outbox);
            let Some(Message::Text(text)) = sharing.frame(&response) else {
                panic!("a text frame")
            };
            let parsed: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            assert_eq!(
                parsed,
                serde_json::json!({ "type": kind, "id": "sub-\"1\"",
                    "payload": { "data": { "messageAdded": { "content": "a \"quoted\" line\n" } } } })
            );
        }
    }
}
