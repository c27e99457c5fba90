//! Conversations and messages over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, InputObject, Object, SimpleObject, Subscription, Upload, ID,
};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use uuid::Uuid;

use super::{
    loaders::{LatestMessage, MessageById, ParticipantsOf, UnreadFor},
    model::{ConversationRow, InboxCursor, MessageRow},
    service::{self, MessageEvent, TypingEvent},
};
use crate::{
    error::AppError,
    events::{presence, topic},
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{
            decode_cursor, decode_event_cursor, decode_id_cursor, encode_cursor, id_cursor, page_size, wants_total,
            Total,
        },
        subscription::topic_events,
        types::parse_id,
    },
    profile::{graphql::User, loaders::UserById, model::UserRow},
};

/// A conversation between two or more users.
pub struct Conversation(pub Arc<ConversationRow>);

#[Object]
impl Conversation {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The task this conversation is about, if any.
    async fn task(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<crate::task::graphql::Task>> {
        let Some(id) = self.0.task_id else { return Ok(None) };
        let row = ctx
            .loader()
            .load_one(crate::task::loaders::TaskById(id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(crate::task::graphql::Task))
    }
    /// When the newest message was sent.
    async fn last_message_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_message_at
    }
    /// Everyone in the conversation, with their read receipts.
    async fn participants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Participant>> {
        let rows = ctx
            .loader()
            .load_one(ParticipantsOf(self.0.id))
            .await
            .map_err(shared_error)?;
        Ok(rows
            .iter()
            .flat_map(|rows| rows.iter())
            .map(|p| Participant {
                user_id: p.user_id,
                last_read_at: p.last_read_at,
                joined_at: p.joined_at,
            })
            .collect())
    }
    /// The newest message, as a preview.
    async fn last_message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let row = ctx
            .loader()
            .load_one(LatestMessage(self.0.id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(Message::new))
    }
    /// Messages from others that arrived after your read receipt.
    async fn unread_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let viewer = ctx.viewer()?.id();
        let key = UnreadFor {
            user_id: viewer,
            conversation_id: self.0.id,
        };
        Ok(ctx.loader().load_one(key).await.map_err(shared_error)?.unwrap_or(0))
    }
}

/// A participant and how far they have read.
pub struct Participant {
    user_id: Uuid,
    last_read_at: Option<DateTime<Utc>>,
    joined_at: DateTime<Utc>,
}

#[Object]
impl Participant {
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let row = ctx
            .loader()
            .load_one(UserById(self.user_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// Read receipt: messages up to this time have been seen.
    async fn last_read_at(&self) -> Option<DateTime<Utc>> {
        self.last_read_at
    }
    async fn joined_at(&self) -> DateTime<Utc> {
        self.joined_at
    }
}

/// A file attached to a message.
#[derive(SimpleObject)]
pub struct MessageAttachment {
    pub url: String,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

/// A message in a conversation.
pub struct Message {
    row: Arc<MessageRow>,
    event_cursor: Option<i64>,
    /// The sender when already known (subscription deliveries carry it).
    sender: Option<Arc<UserRow>>,
}

impl Message {
    fn new(row: Arc<MessageRow>) -> Self {
        Self {
            row,
            event_cursor: None,
            sender: None,
        }
    }
}

#[Object]
impl Message {
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    async fn conversation_id(&self) -> ID {
        ID(self.row.conversation_id.to_string())
    }
    async fn sender(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        if let Some(sender) = &self.sender {
            return Ok(Some(User::new(sender.clone())));
        }
        let row = ctx
            .loader()
            .load_one(UserById(self.row.sender_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
    }
    /// The text; contact details are masked while the parties share no order.
    async fn content(&self) -> &str {
        &self.row.body
    }
    /// Whether the safety filter masked something in this message.
    async fn masked(&self) -> bool {
        self.row.flagged
    }
    async fn attachments(&self) -> Vec<MessageAttachment> {
        self.row
            .attachment_list()
            .into_iter()
            .map(|a| MessageAttachment {
                url: a.url,
                file_name: a.file_name,
                content_type: a.content_type,
                size_bytes: a.size_bytes,
            })
            .collect()
    }
    /// The message this one answers.
    async fn reply_to(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let Some(id) = self.row.reply_to_id else {
            return Ok(None);
        };
        let row = ctx.loader().load_one(MessageById(id)).await.map_err(shared_error)?;
        Ok(row.map(Message::new))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.row.edited_at
    }
    /// Set on subscription deliveries: pass it as `after` to resume from here.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|seq| seq.to_string())
    }
}

/// Someone is typing.
pub struct Typing(Arc<TypingEvent>);

#[Object]
impl Typing {
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    async fn user(&self) -> User {
        User::new(self.0.user.clone())
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

fn inbox_cursor(row: &ConversationRow) -> String {
    let at = row.last_message_at.map(|t| t.to_rfc3339()).unwrap_or_default();
    encode_cursor(&format!("{at}|{}", row.id))
}

fn decode_inbox_cursor(cursor: Option<&str>) -> Result<Option<InboxCursor>, AppError> {
    let Some(cursor) = cursor else { return Ok(None) };
    let bad = || AppError::field("after", "is not a cursor from this list");
    let key = decode_cursor(cursor, "after")?;
    let (at, id) = key.split_once('|').ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    let at = if at.is_empty() {
        None
    } else {
        Some(DateTime::parse_from_rfc3339(at).map_err(|_| bad())?.with_timezone(&Utc))
    };
    Ok(Some((at, id)))
}

#[derive(Default)]
pub struct MessageQuery;

#[Object]
impl MessageQuery {
    /// Your conversations, most recently active first, each with its last message and your
    /// unread count.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, Conversation, Total, EmptyFields>> {
        let viewer = ctx.viewer()?.id();
        let app = ctx.app();
        let size = page_size(first, app.config.limits.max_page_size)?;
        let cursor = decode_inbox_cursor(after.as_deref())?;
        let (rows, more) = service::inbox(app, viewer, cursor, size).await?;
        let total = if wants_total(ctx) {
            service::inbox_count(app, viewer).await?
        } else {
            0
        };
        let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(inbox_cursor(&row), Conversation(Arc::new(row)))),
        );
        Ok(connection)
    }

    /// A conversation you take part in.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Conversation> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&id, "id")?;
        Ok(Conversation(Arc::new(
            service::conversation(ctx.app(), viewer, id).await?,
        )))
    }

    /// A conversation's messages, newest first; page back with `before` (an end cursor).
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        first: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, Message, Total, EmptyFields>> {
        let viewer = ctx.viewer()?.id();
        let app = ctx.app();
        let conversation_id = parse_id(&conversation_id, "conversationId")?;
        let size = page_size(first, app.config.limits.max_page_size)?;
        let before_id = decode_id_cursor(before.as_deref(), "before")?;
        let (rows, more) = service::messages(app, viewer, conversation_id, before_id, size).await?;
        let total = if wants_total(ctx) {
            service::message_count(app, conversation_id).await?
        } else {
            0
        };
        let mut connection = Connection::with_additional_fields(before.is_some(), more, Total { total_count: total });
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(id_cursor(row.id), Message::new(Arc::new(row)))),
        );
        Ok(connection)
    }
}

#[derive(InputObject)]
pub struct SendMessageInput {
    pub conversation_id: ID,
    /// Up to 5,000 characters; may be empty when files are attached.
    #[graphql(default)]
    pub content: String,
    /// Up to 5 files (images, PDF, ZIP, plain text) as GraphQL multipart uploads.
    #[graphql(default)]
    pub attachments: Vec<Upload>,
    pub reply_to_id: Option<ID>,
}

#[derive(InputObject)]
pub struct EditMessageInput {
    pub message_id: ID,
    pub content: String,
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// Gets or creates your conversation with `participantId` (about `taskId`, a task one of
    /// you posted, when given).
    async fn start_conversation(
        &self,
        ctx: &Context<'_>,
        participant_id: ID,
        task_id: Option<ID>,
    ) -> async_graphql::Result<Conversation> {
        let viewer = ctx.viewer()?;
        let participant = parse_id(&participant_id, "participantId")?;
        let task_id = task_id.as_ref().map(|id| parse_id(id, "taskId")).transpose()?;
        Ok(Conversation(Arc::new(
            service::start_conversation(ctx.app(), &viewer.user, participant, task_id).await?,
        )))
    }

    /// Sends a message to a conversation you take part in.
    async fn send_message(&self, ctx: &Context<'_>, input: SendMessageInput) -> async_graphql::Result<Message> {
        let viewer = ctx.viewer()?;
        let conversation_id = parse_id(&input.conversation_id, "conversationId")?;
        let reply_to_id = input
            .reply_to_id
            .as_ref()
            .map(|id| parse_id(id, "replyToId"))
            .transpose()?;
        let mut attachments = Vec::with_capacity(input.attachments.len());
        for upload in &input.attachments {
            let value = upload
                .value(ctx)
                .map_err(|_| AppError::field("attachments", "a file is missing from the request"))?;
            attachments.push(service::NewAttachment {
                file_name: value.filename,
                bytes: value.content,
            });
        }
        let row = service::send_message(
            ctx.app(),
            &viewer.user,
            service::NewMessage {
                conversation_id,
                content: input.content,
                attachments,
                reply_to_id,
            },
        )
        .await?;
        Ok(Message::new(Arc::new(row)))
    }

    /// Edits one of your messages.
    async fn edit_message(&self, ctx: &Context<'_>, input: EditMessageInput) -> async_graphql::Result<Message> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&input.message_id, "messageId")?;
        Ok(Message::new(Arc::new(
            service::edit_message(ctx.app(), &viewer.user, id, input.content).await?,
        )))
    }

    /// Moves your read receipt to now.
    async fn mark_conversation_read(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
    ) -> async_graphql::Result<Conversation> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&conversation_id, "conversationId")?;
        Ok(Conversation(Arc::new(service::mark_read(ctx.app(), viewer, id).await?)))
    }

    /// Tells the other participants you are typing (not stored).
    async fn send_typing(&self, ctx: &Context<'_>, conversation_id: ID) -> async_graphql::Result<bool> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&conversation_id, "conversationId")?;
        service::send_typing(ctx.app(), &viewer.user, id).await?;
        Ok(true)
    }
}

#[derive(Default)]
pub struct MessageSubscription;

#[Subscription]
impl MessageSubscription {
    /// New messages in a conversation you take part in. Pass the last `eventCursor` you saw
    /// as `after` to first receive what you missed.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Message>>> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&conversation_id, "conversationId")?;
        let after = decode_event_cursor(after.as_deref())?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await.map_err(AppError::from)?;
        service::require_participant(&mut conn, id, viewer).await?;
        drop(conn);
        // While this stream lives the viewer is "watching": no NEW_MESSAGE notifications.
        let watching = Arc::new(app.presence.join(presence::watching(id, viewer)));
        Ok(
            topic_events(app, topic::conversation(id), after).filter_map(move |event| {
                let _watching = watching.clone();
                async move {
                    let event = match event {
                        Ok(event) => event,
                        Err(e) => return Some(Err(e.into())),
                    };
                    if event.kind != service::MESSAGE_ADDED {
                        return None;
                    }
                    let payload = event.decode::<MessageEvent>()?;
                    // Authorised per event: the subscriber must be among the message's participants.
                    if !payload.participant_ids.contains(&viewer) {
                        return None;
                    }
                    Some(Ok(Message {
                        row: payload.message.clone(),
                        event_cursor: event.seq,
                        sender: Some(payload.sender.clone()),
                    }))
                }
            }),
        )
    }

    /// Who is typing in a conversation you take part in.
    async fn typing(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Typing>>> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&conversation_id, "conversationId")?;
        let app = ctx.app().clone();
        let mut conn = app.db.conn().await.map_err(AppError::from)?;
        service::require_participant(&mut conn, id, viewer).await?;
        drop(conn);
        Ok(
            topic_events(app, topic::conversation(id), None).filter_map(move |event| async move {
                let event = match event {
                    Ok(event) => event,
                    Err(e) => return Some(Err(e.into())),
                };
                if event.kind != service::TYPING {
                    return None;
                }
                let typing = event.decode::<TypingEvent>()?;
                // Your own typing is not news to you.
                (typing.user_id != viewer).then(|| Ok(Typing(typing)))
            }),
        )
    }
}
