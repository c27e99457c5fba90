//! `orderUpdated`: every transition of an order (and its code activity), resumable from an
//! event cursor.

use std::sync::Arc;

use async_graphql::{Context, Object, Subscription, ID};
use futures_util::{Stream, StreamExt};

use super::{Order, OrderStatus};
use crate::{
    events::topic,
    graphql::{context::ContextExt, pagination::decode_event_cursor, subscription::topic_events, types::parse_id},
    order::{
        model::OrderRow,
        service::{self, OrderEvent},
    },
};

pub struct OrderUpdate {
    order: Arc<OrderRow>,
    action: String,
    from: Option<OrderStatus>,
    event_cursor: Option<i64>,
}

/// One transition of an order, as `orderUpdated` delivers it.
#[Object]
impl OrderUpdate {
    /// The order as the transition left it.
    async fn order(&self) -> Order {
        Order(self.order.clone())
    }
    /// e.g. `CONFIRM_PAYMENT`; `CREATE` when the order was made; for activity that moves no
    /// status (`fromStatus` = `toStatus`): `LINK_CODE`/`UNLINK_CODE` (code links),
    /// `PULL_REQUEST` and `CI_CHECK` (GitHub reported a pull request or a check), and for a
    /// week of an hourly order `SUBMIT_TIMESHEET`, `APPROVE_TIMESHEET`,
    /// `AUTO_APPROVE_TIMESHEET` or `DISPUTE_TIMESHEET`.
    async fn action(&self) -> &str {
        &self.action
    }
    /// The status before; null when the order was just made.
    async fn from_status(&self) -> Option<OrderStatus> {
        self.from
    }
    /// The status after.
    async fn to_status(&self) -> OrderStatus {
        self.order.status
    }
    /// Pass it as `after` to `orderUpdated` to resume after this event.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|c| c.to_string())
    }
}

#[derive(Default)]
pub struct OrderSubscription;

#[Subscription]
impl OrderSubscription {
    /// Every transition of an order you are a party of (admins: any order), and changes to its
    /// code links, pull requests and CI checks, in order. Pass the last `eventCursor` you saw
    /// as `after` to first receive what you missed.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An order you are a party of (admins: any order); NOT_FOUND otherwise.")] order_id: ID,
        #[graphql(desc = "The last `eventCursor` you received; later events are sent first.")] after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<OrderUpdate>>> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&order_id, "orderId")?;
        let after = decode_event_cursor(after.as_deref())?;
        let app = ctx.app().clone();
        service::visible(&app, &viewer.user, id).await?;
        let viewer_id = viewer.id();
        let is_admin = viewer.user.is_admin;
        Ok(
            topic_events(app, topic::order(id), after).filter_map(move |event| async move {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => return Some(Err(e.into())),
                };
                if event.kind != service::ORDER_UPDATED {
                    return None;
                }
                let payload = event.decode::<OrderEvent>()?;
                // Authorised per event: the parties of the order as it now stands, or admins.
                if !is_admin && !payload.order.is_party(viewer_id) {
                    return None;
                }
                Some(Ok(OrderUpdate {
                    order: payload.order.clone(),
                    action: payload.action.clone(),
                    from: payload.from,
                    event_cursor: event.seq,
                }))
            }),
        )
    }
}
