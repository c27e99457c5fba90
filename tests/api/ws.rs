//! A small graphql-ws client for tests (both subprotocols).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY: &str = "graphql-ws";

/// What the server sent.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Closed(u16, String),
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    pub protocol: String,
}

impl WsClient {
    pub async fn connect(url: &str, protocol: &str) -> Self {
        let mut request = url.into_client_request().expect("ws request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).expect("protocol"),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await.expect("ws connect");
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Self {
            socket,
            protocol: chosen,
        }
    }

    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("ws send");
    }

    /// The next protocol message (pings and keep-alives skipped), or the close.
    pub async fn recv(&mut self) -> Frame {
        loop {
            let next = tokio::time::timeout(Duration::from_secs(15), self.socket.next())
                .await
                .expect("ws frame within 15 s");
            match next {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("json frame");
                    if matches!(value["type"].as_str(), Some("ka") | Some("ping")) {
                        if value["type"] == "ping" {
                            self.send(json!({ "type": "pong" })).await;
                        }
                        continue;
                    }
                    return Frame::Json(value);
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(frame) => Frame::Closed(frame.code.into(), frame.reason.to_string()),
                        None => Frame::Closed(1005, String::new()),
                    }
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Frame::Closed(1006, e.to_string()),
                None => return Frame::Closed(1006, "ended".into()),
            }
        }
    }

    pub async fn expect_json(&mut self) -> Value {
        match self.recv().await {
            Frame::Json(value) => value,
            Frame::Closed(code, reason) => panic!("closed {code} {reason} while expecting a message"),
        }
    }

    pub async fn expect_close(&mut self) -> (u16, String) {
        match self.recv().await {
            Frame::Closed(code, reason) => (code, reason),
            Frame::Json(value) => panic!("expected close, got {value}"),
        }
    }

    /// Sends `connection_init` with a bearer token and waits for the ack.
    pub async fn init(&mut self, token: Option<&str>) {
        let payload = token
            .map(|t| json!({ "authorization": format!("Bearer {t}") }))
            .unwrap_or(json!({}));
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let ack = self.expect_json().await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.protocol == LEGACY { "start" } else { "subscribe" };
        self.send(json!({ "type": kind, "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next `next`/`data` payload's `data`, asserting it belongs to `id` and has no errors.
    pub async fn next_data(&mut self, id: &str) -> Value {
        let message = self.expect_json().await;
        assert!(
            matches!(message["type"].as_str(), Some("next") | Some("data")),
            "{message}"
        );
        assert_eq!(message["id"], id, "{message}");
        assert!(
            message["payload"].get("errors").is_none_or(|e| e.is_null()),
            "{message}"
        );
        message["payload"]["data"].clone()
    }
}
