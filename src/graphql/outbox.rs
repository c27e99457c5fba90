//! The sending half of one WebSocket connection, shared by everything that writes to it.
//!
//! Each subscription task writes its own frames, and the connection's loop its
//! acknowledgements, pongs and pings, straight to the socket: no queue and no writer task in
//! between. Every delivery used to be a hop through a channel to a writer task that did the
//! same write; the hop cost a wake-up per delivery, and every connection a task and a
//! queue's buffer. A sender holds the lock for one whole message (frame and flush), so
//! frames never interleave, and one sender's messages stay in the order it sent them. A
//! client that stops reading blocks its senders once the socket's buffer is full, as the
//! bounded queue did.

use std::{pin::Pin, sync::Arc};

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt};
use tokio::sync::Mutex;

type BoxSink = Pin<Box<dyn Sink<Message, Error = axum::Error> + Send>>;

/// A cheap-to-clone handle on a connection's sending half.
#[derive(Clone)]
pub struct Outbox(Arc<Mutex<BoxSink>>);

impl Outbox {
    pub fn new(sink: impl Sink<Message, Error = axum::Error> + Send + 'static) -> Self {
        Self(Arc::new(Mutex::new(Box::pin(sink))))
    }

    /// Writes one message and flushes it; `Err` when the connection is gone.
    pub async fn send(&self, message: Message) -> Result<(), axum::Error> {
        self.0.lock().await.send(message).await
    }

    /// Writes one message unless another is being written right now (`Ok(false)`): for
    /// what may be skipped, such as a keep-alive ping while frames are flowing.
    pub async fn send_if_idle(&self, message: Message) -> Result<bool, axum::Error> {
        match self.0.try_lock() {
            Ok(mut sink) => sink.send(message).await.map(|()| true),
            Err(_) => Ok(false),
        }
    }

    /// Flushes and closes the sending half.
    pub async fn close(&self) -> Result<(), axum::Error> {
        self.0.lock().await.close().await
    }
}

#[cfg(test)]
pub mod testing {
    use super::*;

    /// An outbox whose messages arrive on a channel.
    pub fn channel(capacity: usize) -> (Outbox, tokio::sync::mpsc::Receiver<Message>) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity);
        let sink = futures_util::sink::unfold(tx, |tx, message: Message| async move {
            tx.send(message).await.map_err(axum::Error::new)?;
            Ok::<_, axum::Error>(tx)
        });
        (Outbox::new(sink), rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_arrive_whole_and_in_order_from_many_senders() {
        let (outbox, mut rx) = testing::channel(64);
        let senders = (0..4).map(|s| {
            let outbox = outbox.clone();
            tokio::spawn(async move {
                for i in 0..10 {
                    outbox.send(Message::Text(format!("{s}:{i}").into())).await.unwrap();
                }
            })
        });
        for sender in senders.collect::<Vec<_>>() {
            sender.await.unwrap();
        }
        drop(outbox);
        let mut next = [0; 4];
        while let Some(Message::Text(text)) = rx.recv().await {
            let (s, i) = text.as_str().split_once(':').unwrap();
            let s: usize = s.parse().unwrap();
            assert_eq!(i.parse::<i32>().unwrap(), next[s], "sender {s} in order");
            next[s] += 1;
        }
        assert_eq!(next, [10; 4]);
    }

    #[tokio::test]
    async fn a_skippable_message_waits_for_no_one() {
        let (outbox, mut rx) = testing::channel(1);
        let busy = outbox.0.lock().await;
        assert!(!outbox.send_if_idle(Message::Ping(Default::default())).await.unwrap());
        drop(busy);
        assert!(outbox.send_if_idle(Message::Ping(Default::default())).await.unwrap());
        assert!(matches!(rx.recv().await, Some(Message::Ping(_))));
    }

    #[tokio::test]
    async fn a_gone_receiver_is_an_error() {
        let (outbox, rx) = testing::channel(1);
        drop(rx);
        assert!(outbox.send(Message::Text("x".into())).await.is_err());
    }
}
