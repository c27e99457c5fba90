//! Notifications over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, Object, Subscription, ID,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use super::{model::NotificationRow, service};
use crate::{
    events::topic,
    graphql::{
        context::ContextExt,
        pagination::{decode_event_cursor, decode_id_cursor, id_cursor, page_size, wants_total, Total},
        subscription::topic_events,
        types::parse_id,
    },
};

/// What a notification is about; `Notification.data` holds the ids to open it with.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NotificationKind {
    /// Someone applied to your task. Data: `taskId`, `applicationId`.
    NewApplication,
    /// Your application changed status (including when the task went to someone else).
    /// Data: `taskId`, `applicationId`, `status`.
    ApplicationStatus,
    /// A message arrived in a conversation you were not watching (`messageAdded`).
    /// Data: `conversationId`, `messageId`.
    NewMessage,
    /// Someone else (the other party or an admin) created or moved one of your orders.
    /// Data: `orderId`, `status`, and `action` for a move or `taskId` (may be null) for a new
    /// order.
    OrderStatus,
    /// A payment step on one of your orders (proof submitted, confirmed or rejected).
    /// Data: `orderId`, `status`, `action`.
    Payment,
    /// A call was scheduled with you. Not sent yet: calls are not available.
    CallScheduled,
    /// Someone reviewed you. Not sent yet: reviews are not available.
    ReviewReceived,
    /// A task was posted near you while you were offline. Data: `taskId`,
    /// `distanceMeters`, `mode`.
    TaskNearby,
    /// A dispute was opened on one of your orders. Data: `orderId`, `status`, `action`.
    Dispute,
    /// A change to a gig you follow. Not sent yet.
    GigUpdate,
    /// Anything else: invitations, vouches, verification reviews, SOS alerts and their
    /// handling, expired tasks. `data` says what it concerns.
    System,
}

impl NotificationKind {
    fn from_db(kind: &str) -> Self {
        match kind {
            "NEW_APPLICATION" => Self::NewApplication,
            "APPLICATION_STATUS" => Self::ApplicationStatus,
            "NEW_MESSAGE" => Self::NewMessage,
            "ORDER_STATUS" => Self::OrderStatus,
            "PAYMENT" => Self::Payment,
            "CALL_SCHEDULED" => Self::CallScheduled,
            "REVIEW_RECEIVED" => Self::ReviewReceived,
            "TASK_NEARBY" => Self::TaskNearby,
            "DISPUTE" => Self::Dispute,
            "GIG_UPDATE" => Self::GigUpdate,
            _ => Self::System,
        }
    }
}

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
        NotificationKind::from_db(&self.row.kind)
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
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "True for unread ones only; false when omitted.")] unread_only: Option<bool>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Notification, Total, EmptyFields>> {
        let viewer = ctx.viewer()?;
        let app = ctx.app();
        let size = page_size(first, app.config.limits.max_page_size)?;
        let before = decode_id_cursor(after.as_deref(), "after")?;
        let unread_only = unread_only.unwrap_or(false);
        let (rows, more) = service::page(&app.db, viewer.id(), unread_only, before, size).await?;
        let total = if wants_total(ctx) {
            service::count(&app.db, viewer.id(), unread_only).await?
        } else {
            0
        };
        let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(id_cursor(row.id), Notification::from_row(row))),
        );
        Ok(connection)
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
        let stream = topic_events(ctx.app().clone(), topic::user(viewer), after).filter_map(move |event| async move {
            let event = match event {
                Ok(event) => event,
                Err(e) => return Some(Err(e.into())),
            };
            if event.kind != service::NOTIFICATION_ADDED {
                return None;
            }
            let row = event.decode::<NotificationRow>()?;
            // Authorised per event: only the recipient's own notifications pass.
            if row.user_id != viewer {
                return None;
            }
            Some(Ok(Notification {
                row,
                event_cursor: event.seq,
            }))
        });
        Ok(stream)
    }
}
