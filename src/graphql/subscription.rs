//! Turning a bus topic into a subscription stream with resume.
//!
//! The live receiver is registered before the database is read, so nothing falls between
//! the replay and the live stream; the replay's last `seq` then filters live duplicates. A
//! subscriber too slow for the topic buffer catches up from the database the same way.

use std::sync::Arc;

use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;

use async_graphql::Context;

use super::{context::ContextExt, shared_frame::Sharing};
use crate::{
    error::AppError,
    events::{self, Event},
    state::AppState,
};

/// Events of `topic`: those after `after` from the database, then live ones.
pub fn topic_events(
    app: AppState,
    topic: String,
    after: Option<i64>,
) -> impl Stream<Item = Result<Arc<Event>, AppError>> {
    async_stream::stream! {
        let mut receiver = match app.bus.hub.subscribe(&topic).await {
            Ok(receiver) => receiver,
            Err(e) => {
                yield Err(AppError::internal(e));
                return;
            }
        };
        let mut last = after.unwrap_or(0);
        // Whether the database must be read before (or again between) live events: on resume,
        // and whenever this subscriber fell behind the topic buffer.
        let mut catch_up = after.is_some();
        loop {
            if std::mem::take(&mut catch_up) {
                // Boxed: the database read is rare next to waiting, and unboxed it would size
                // every idle subscription's stream for its largest step.
                match Box::pin(events::replay(&app.db, &topic, last)).await.map_err(AppError::internal) {
                    Ok(events) => {
                        for event in events {
                            last = event.seq.unwrap_or(last);
                            yield Ok(event);
                        }
                    }
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                }
            }
            match receiver.rx.recv().await {
                Ok(event) => {
                    if let Some(seq) = event.seq {
                        if seq <= last {
                            continue;
                        }
                        last = seq;
                    }
                    yield Ok(event);
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, topic = %topic, "slow subscriber; catching up from the database");
                    catch_up = true;
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// The `kind` events of `topic` (see [`topic_events`]), each made a delivery by `deliver`,
/// which returns `None` to pass one over (not for this subscriber, or not decodable); errors
/// of the stream are delivered as they come. On a WebSocket, subscribers who sent the same
/// document share one resolution of each delivery (see [`super::shared_frame`]).
pub fn deliveries<T>(
    ctx: &Context<'_>,
    topic: String,
    after: Option<i64>,
    kind: &'static str,
    mut deliver: impl FnMut(Arc<Event>) -> Option<T>,
) -> impl Stream<Item = async_graphql::Result<T>>
where
    T: Send,
{
    let sharing = ctx.data_opt::<Arc<Sharing>>().cloned();
    topic_events(ctx.app().clone(), topic, after).filter_map(move |event| {
        let delivery = match event {
            Ok(event) if event.kind == kind => deliver(event.clone()).map(|item| Ok((event, item))),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        };
        let sharing = sharing.clone();
        async move {
            match (delivery?, sharing) {
                (Ok((event, item)), Some(sharing)) => sharing.pass(&event, item).await.map(Ok),
                (Ok((_, item)), None) => Some(Ok(item)),
                (Err(e), _) => Some(Err(e.into())),
            }
        }
    })
}
