//! Notifications over GraphQL.

use std::sync::Arc;

use async_graphql::{Context, Object, Subscription, ID};
use chrono::{DateTime, Utc};
use futures_util::Stream;

use super::{
    model::{NotificationKind, NotificationRow},
    service,
};
use crate::{
    events::topic,
    graphql::{
        context::ContextExt,
        pagination::{connection, decode_event_cursor, list_cost, page_request, ListConnection},
        subscription::deliveries,
        types::parse_id,
    },
};

/// Something that happened that the member should know about. Only the recipient sees it.
#[derive(async_graphql::Description)]
pub struct Notification {
    row: Arc<NotificationRow>,
    event_cursor: Option<i64>,
}

#[Object(use_type_description)]
impl Notification {
    /// Opaque id; pass it to `markNotificationRead`.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// What it is about; tells which keys `data` has.
    async fn kind(&self) -> NotificationKind {
        self.row.kind
    }
    /// One line for a list or a push message, e.g. "Ada applied to your task".
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// More detail, e.g. the task's title or a message preview (up to 80 characters); may be
    /// empty.
    async fn body(&self) -> &str {
        &self.row.body
    }
    /// Ids of what it is about, e.g. `{"conversationId": "…", "messageId": "…"}`.
    async fn data(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.row.data.clone())
    }
    /// When you marked it read (UTC); null while unread.
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.row.read_at
    }
    /// When it was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// Set on `notificationAdded` deliveries (null elsewhere): pass it as `after` to resume
    /// from here.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|seq| seq.to_string())
    }
}

impl Notification {
    fn from_row(row: NotificationRow) -> Self {
        Self {
            row: Arc::new(row),
            event_cursor: None,
        }
    }
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The signed-in user's notifications, newest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "True for unread ones only; false when omitted.")] unread_only: Option<bool>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Notification>> {
        let viewer = ctx.viewer()?;
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::page(&ctx.app().db, viewer.id(), unread_only.unwrap_or(false), &request).await?;
        Ok(connection(page, |row| row.id, Notification::from_row))
    }

    /// How many of the signed-in user's notifications are unread.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let viewer = ctx.viewer()?;
        Ok(service::count(&ctx.app().db, viewer.id(), true).await?)
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks one of your notifications read (a read one keeps its first `readAt`).
    /// `NOT_FOUND` when it is not yours.
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The notification's `id`.")] id: ID,
    ) -> async_graphql::Result<Notification> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Notification::from_row(
            service::mark_read(&ctx.app().db, viewer.id(), id).await?,
        ))
    }

    /// Marks all your notifications read; returns how many were unread.
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let viewer = ctx.viewer()?;
        Ok(service::mark_all_read(&ctx.app().db, viewer.id()).await? as i32)
    }
}

#[derive(Default)]
pub struct NotificationSubscription;

#[Subscription]
impl NotificationSubscription {
    /// Your new notifications as they are created. Pass the last `eventCursor` you saw as
    /// `after` to first receive what you missed.
    async fn notification_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `eventCursor` of the last notification you received; omit to get only new ones.")]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Notification>>> {
        let viewer = ctx.viewer()?.id();
        let after = decode_event_cursor(after.as_deref())?;
        Ok(deliveries(
            ctx,
            topic::user(viewer),
            after,
            service::NOTIFICATION_ADDED,
            move |event| {
                let row = event.decode::<NotificationRow>()?;
                // Authorised per event: only the recipient's own notifications pass.
                (row.user_id == viewer).then(|| Notification {
                    row,
                    event_cursor: event.seq,
                })
            },
        ))
    }
}
