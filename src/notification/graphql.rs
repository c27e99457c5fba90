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

/// What a notification is about.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum NotificationKind {
    NewApplication,
    ApplicationStatus,
    NewMessage,
    OrderStatus,
    Payment,
    CallScheduled,
    ReviewReceived,
    TaskNearby,
    Dispute,
    GigUpdate,
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

/// Something that happened that the user should know about.
pub struct Notification {
    row: Arc<NotificationRow>,
    event_cursor: Option<i64>,
}

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn kind(&self) -> NotificationKind {
        NotificationKind::from_db(&self.row.kind)
    }
    async fn title(&self) -> &str {
        &self.row.title
    }
    async fn body(&self) -> &str {
        &self.row.body
    }
    /// Ids of what it is about, e.g. `{"conversationId": "…", "messageId": "…"}`.
    async fn data(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.row.data.clone())
    }
    async fn read_at(&self) -> Option<DateTime<Utc>> {
        self.row.read_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// Set on subscription deliveries: pass it as `after` to resume from here.
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
        unread_only: Option<bool>,
        first: Option<i32>,
        after: Option<String>,
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
    /// Marks one of your notifications read.
    async fn mark_notification_read(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Notification> {
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
