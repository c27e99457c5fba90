//! One resolution per event for all the WebSocket subscribers who asked the same thing.
//!
//! Ten thousand members of one conversation who subscribed with the same document and
//! variables would each resolve every message into the same JSON. Instead, for each event,
//! the first of them to reach it resolves it (it holds the claim) and the others wait for
//! its serialised payload, which they send under their own subscription id. What may differ
//! between subscribers stays theirs:
//! - whether an event reaches a subscriber at all (the per-event authorisation in each
//!   subscription's stream) is decided before anyone claims or waits;
//! - a resolution that read the request (the viewer, through `ContextExt::request`) is not
//!   shared: its waiters resolve for themselves and stop waiting on that document;
//! - neither is a resolution with errors.
//!
//! A claimer that goes away mid-resolution drops its claim, and its waiters resolve for
//! themselves; nobody waits for ever. Each subscriber still sends its own frames in event
//! order, so a delivery stays exactly-once and in order. The payloads live on the event
//! instance ([`Event::memo`]) and go with it.

use std::{
    hash::{Hash, Hasher},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use axum::extract::ws::{Message, Utf8Bytes};
use tokio::sync::watch;

use super::outbox::Outbox;
use crate::events::Event;

/// One subscription's part in the sharing: the key of what it asked, how its frames start,
/// and where they go.
pub struct Sharing {
    key: u64,
    /// The frame up to its payload, e.g. `{"type":"next","id":"7","payload":`.
    prefix: String,
    outbox: Outbox,
    /// The claim of the event being resolved for this subscriber, until its response.
    pending: Mutex<Option<Claim>>,
    /// Whether a resolver read the request since the last claim.
    read_request: AtomicBool,
    /// Set once this subscription's document turned out not to be shareable.
    private: AtomicBool,
    /// Whether a shared frame has been sent.
    delivered: AtomicBool,
}

/// The sharing key of a subscribe request: its document, operation and variables.
pub fn key(query: &str, operation_name: Option<&str>, variables: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (query, operation_name, variables).hash(&mut hasher);
    hasher.finish()
}

impl Sharing {
    pub fn new(key: u64, prefix: String, outbox: Outbox) -> Self {
        Self {
            key,
            prefix,
            outbox,
            pending: Mutex::new(None),
            read_request: AtomicBool::new(false),
            private: AtomicBool::new(false),
            delivered: AtomicBool::new(false),
        }
    }

    /// An event that reaches this subscriber as `item`: `Some(item)` when this subscriber is
    /// to resolve it, `None` when its shared frame was sent instead.
    pub async fn pass<T>(&self, event: &Event, item: T) -> Option<T> {
        if self.private.load(Ordering::Acquire) {
            return Some(item);
        }
        let slot = event.memo::<Slot>(self.key);
        if !slot.claimed.swap(true, Ordering::AcqRel) {
            self.read_request.store(false, Ordering::Release);
            *self.pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(Claim(slot));
            return Some(item);
        }
        let mut fill = slot.fill.subscribe();
        let payload = match fill.wait_for(|fill| !matches!(fill, Fill::Pending)).await {
            Ok(fill) => match &*fill {
                Fill::Payload(payload) => Some(payload.clone()),
                _ => None,
            },
            Err(_) => None,
        };
        let Some(payload) = payload else {
            self.private.store(true, Ordering::Release);
            return Some(item);
        };
        self.delivered.store(true, Ordering::Release);
        // A closed connection is about to end this stream; nothing more to do.
        let _ = self.outbox.send(self.message(&payload)).await;
        None
    }

    /// The frame of a response this subscriber resolved, written in one pass (the response
    /// is serialised straight into the frame's text); shares its payload when it was claimed
    /// and is shareable.
    pub fn frame(&self, response: &async_graphql::Response) -> Option<Message> {
        let claim = self.pending.lock().unwrap_or_else(PoisonError::into_inner).take();
        let mut frame = Vec::with_capacity(self.prefix.len() + 256);
        frame.extend_from_slice(self.prefix.as_bytes());
        let text = serde_json::to_writer(&mut frame, response)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                frame.push(b'}');
                String::from_utf8(frame).map_err(|e| e.to_string())
            });
        let text = match text {
            Ok(text) => text,
            Err(e) => {
                // The claim, dropped unfilled, releases any waiters.
                tracing::error!(error = %e, "a subscription response does not serialise");
                return None;
            }
        };
        if let Some(claim) = claim {
            if response.errors.is_empty() && !self.read_request.load(Ordering::Acquire) {
                let payload = &text[self.prefix.len()..text.len() - 1];
                claim.fill(Fill::Payload(Arc::from(payload)));
            } else {
                self.private.store(true, Ordering::Release);
                claim.fill(Fill::Private);
            }
        }
        Some(Message::Text(Utf8Bytes::from(text)))
    }

    /// A resolver read the request: what it resolves may be this viewer's alone.
    pub fn note_request_read(&self) {
        self.read_request.store(true, Ordering::Release);
    }

    /// Whether this subscriber has been sent a shared frame.
    pub fn delivered(&self) -> bool {
        self.delivered.load(Ordering::Acquire)
    }

    fn message(&self, payload: &str) -> Message {
        let mut frame = String::with_capacity(self.prefix.len() + payload.len() + 1);
        frame.push_str(&self.prefix);
        frame.push_str(payload);
        frame.push('}');
        Message::Text(Utf8Bytes::from(frame))
    }
}

/// What the claimer of an event left for the others.
enum Fill {
    Pending,
    Payload(Arc<str>),
    /// Not shareable: resolve it yourself.
    Private,
}

/// One event's resolution for one key.
struct Slot {
    claimed: AtomicBool,
    fill: watch::Sender<Fill>,
}

impl Default for Slot {
    fn default() -> Self {
        Self {
            claimed: AtomicBool::new(false),
            fill: watch::Sender::new(Fill::Pending),
        }
    }
}

/// The duty to fill a slot; dropped unfilled, it releases the waiters to resolve for
/// themselves.
struct Claim(Arc<Slot>);

impl Claim {
    fn fill(self, fill: Fill) {
        self.0.fill.send_replace(fill);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.fill.send_if_modified(|fill| {
            let pending = matches!(fill, Fill::Pending);
            if pending {
                *fill = Fill::Private;
            }
            pending
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Event {
        Event::new(Some(1), "t".into(), "k".into(), serde_json::Value::Null)
    }

    fn response(content: &str) -> async_graphql::Response {
        async_graphql::Response::new(
            async_graphql::Value::from_json(serde_json::json!({ "messageAdded": { "content": content } })).unwrap(),
        )
    }

    fn text(message: Message) -> String {
        match message {
            Message::Text(text) => text.as_str().to_owned(),
            other => panic!("a text frame, not {other:?}"),
        }
    }

    fn sharing(id: &str) -> (Arc<Sharing>, tokio::sync::mpsc::Receiver<Message>) {
        let (outbox, rx) = crate::graphql::outbox::testing::channel(8);
        let prefix = format!(r#"{{"type":"next","id":"{id}","payload":"#);
        (Arc::new(Sharing::new(7, prefix, outbox)), rx)
    }

    #[tokio::test]
    async fn the_first_resolves_and_the_others_send_its_payload_under_their_own_id() {
        let event = event();
        let (first, _) = sharing("a");
        let (second, mut second_rx) = sharing("b");
        assert_eq!(first.pass(&event, 1).await, Some(1));
        let waiting = {
            let (second, event) = (second.clone(), &event);
            async move { second.pass(event, 2).await }
        };
        let own = async {
            tokio::task::yield_now().await;
            first.frame(&response("hi")).map(text)
        };
        let (waited, own) = tokio::join!(waiting, own);
        assert_eq!(waited, None, "the second resolves nothing");
        assert_eq!(
            own.as_deref(),
            Some(r#"{"type":"next","id":"a","payload":{"data":{"messageAdded":{"content":"hi"}}}}"#)
        );
        let sent = text(second_rx.recv().await.unwrap());
        assert_eq!(
            sent,
            r#"{"type":"next","id":"b","payload":{"data":{"messageAdded":{"content":"hi"}}}}"#
        );
        assert!(second.delivered() && !first.delivered());
    }

    #[tokio::test]
    async fn a_resolution_that_read_the_request_is_not_shared() {
        let event = event();
        let (first, _) = sharing("a");
        let (second, mut second_rx) = sharing("b");
        assert_eq!(first.pass(&event, 1).await, Some(1));
        first.note_request_read();
        first.frame(&response("mine"));
        assert_eq!(second.pass(&event, 2).await, Some(2), "the second resolves for itself");
        assert!(second_rx.try_recv().is_err());
        // And no longer waits on this document at the next event.
        let next = Event::new(Some(2), "t".into(), "k".into(), serde_json::Value::Null);
        let (third, _) = sharing("c");
        assert_eq!(third.pass(&next, 3).await, Some(3));
        assert_eq!(second.pass(&next, 2).await, Some(2));
    }

    #[tokio::test]
    async fn a_response_with_errors_is_not_shared() {
        let event = event();
        let (first, _) = sharing("a");
        let (second, _) = sharing("b");
        first.pass(&event, 1).await;
        let mut failed = response("x");
        failed.errors.push(async_graphql::ServerError::new("boom", None));
        first.frame(&failed);
        assert_eq!(second.pass(&event, 2).await, Some(2));
    }

    #[tokio::test]
    async fn waiters_resolve_themselves_when_the_claimer_goes_away() {
        let event = event();
        let (first, _) = sharing("a");
        let (second, _) = sharing("b");
        first.pass(&event, 1).await;
        let waiting = second.pass(&event, 2);
        let leave = async move {
            tokio::task::yield_now().await;
            drop(first);
        };
        let (waited, ()) = tokio::join!(waiting, leave);
        assert_eq!(waited, Some(2));
    }

    #[tokio::test]
    async fn different_documents_do_not_share() {
        let event = event();
        let (first, _) = sharing("a");
        let (outbox, _rx) = crate::graphql::outbox::testing::channel(8);
        let other = Sharing::new(8, String::new(), outbox);
        assert_eq!(first.pass(&event, 1).await, Some(1));
        assert_eq!(other.pass(&event, 2).await, Some(2));
        assert_ne!(key("a", None, "{}"), key("a", None, r#"{"c":1}"#));
        assert_ne!(key("a", Some("A"), "{}"), key("a", Some("B"), "{}"));
    }
}
