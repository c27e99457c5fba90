//! Conversations and messages over GraphQL.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject, Subscription, Upload, ID};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use uuid::Uuid;

use super::{
    loaders::{LatestMessage, MessageById, ParticipantsOf, UnreadFor},
    model::{ConversationRow, MessageRow},
    service::{self, MessageEvent, TypingEvent},
};
use crate::{
    error::AppError,
    events::{presence, topic},
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{connection, decode_event_cursor, list_cost, page_request, page_request_named, ListConnection},
        subscription::deliveries,
        types::parse_id,
    },
    profile::{graphql::User, model::UserRow},
};

/// A conversation between two or more members, optionally about a task. Only its
/// participants can read it, write to it or subscribe to it.
#[derive(async_graphql::Description)]
pub struct Conversation(pub Arc<ConversationRow>);

#[Object(use_type_description)]
impl Conversation {
    /// Opaque id; pass it to `conversation`, `messages`, `sendMessage` and `messageAdded`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// When the conversation was started (UTC).
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
    /// When the newest message was sent (UTC); null before the first message.
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
    /// The newest message, as a preview; null before the first message.
    async fn last_message(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let row = ctx
            .loader()
            .load_one(LatestMessage(self.0.id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(Message::new))
    }
    /// Messages from others that arrived after your read receipt (`markConversationRead`).
    async fn unread_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let viewer = ctx.viewer()?.id();
        let key = UnreadFor {
            user_id: viewer,
            conversation_id: self.0.id,
        };
        Ok(ctx.loader().load_one(key).await.map_err(shared_error)?.unwrap_or(0))
    }
}

/// A member of a conversation and how far they have read.
#[derive(async_graphql::Description)]
pub struct Participant {
    user_id: Uuid,
    last_read_at: Option<DateTime<Utc>>,
    joined_at: DateTime<Utc>,
}

#[Object(use_type_description)]
impl Participant {
    /// The member; null only if the account no longer exists.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.user_id).await
    }
    /// Read receipt: messages up to this time (UTC) have been seen; null before they first
    /// marked the conversation read.
    async fn last_read_at(&self) -> Option<DateTime<Utc>> {
        self.last_read_at
    }
    /// When they joined the conversation (UTC).
    async fn joined_at(&self) -> DateTime<Utc> {
        self.joined_at
    }
}

/// A file attached to a message.
#[derive(SimpleObject)]
pub struct MessageAttachment {
    /// URL of the stored file (a random name, not the uploader's).
    pub url: String,
    /// The uploader's file name without any path, up to 120 characters; for display only.
    pub file_name: String,
    /// The type judged from the content: image/png, image/jpeg, image/webp, image/gif,
    /// application/pdf, application/zip or text/plain.
    pub content_type: String,
    /// The file's size in bytes.
    pub size_bytes: i64,
}

impl From<crate::storage::Attachment> for MessageAttachment {
    fn from(a: crate::storage::Attachment) -> Self {
        Self {
            url: a.url,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
        }
    }
}

/// A message in a conversation, seen only by its participants.
#[derive(async_graphql::Description)]
pub struct Message {
    row: Arc<MessageRow>,
    event_cursor: Option<i64>,
    /// The sender when already known (subscription deliveries carry it).
    sender: Option<Arc<UserRow>>,
}

impl Message {
    /// The message `id` through the request's loader (for other domains' fields that point
    /// at a message the viewer may read); `None` when it is gone.
    pub async fn on_record(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Message>> {
        let row = ctx.loader().load_one(MessageById(id)).await.map_err(shared_error)?;
        Ok(row.map(Message::new))
    }

    fn new(row: Arc<MessageRow>) -> Self {
        Self {
            row,
            event_cursor: None,
            sender: None,
        }
    }
}

#[Object(use_type_description)]
impl Message {
    /// Opaque id; pass it to `editMessage` or as `replyToId`.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// The `id` of the conversation it belongs to.
    async fn conversation_id(&self) -> ID {
        ID(self.row.conversation_id.to_string())
    }
    /// Who sent it; null only if the account no longer exists.
    async fn sender(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        if let Some(sender) = &self.sender {
            return Ok(Some(User::new(sender.clone())));
        }
        User::on_record(ctx, self.row.sender_id).await
    }
    /// The text, up to 5,000 characters (may be empty when files are attached). Phone numbers,
    /// emails and contact keywords are replaced by `[hidden]` while the sender shares no
    /// order with every other participant.
    async fn content(&self) -> &str {
        &self.row.body
    }
    /// Whether the safety filter masked something in this message.
    async fn masked(&self) -> bool {
        self.row.flagged
    }
    /// Attached files, in upload order (at most 5).
    async fn attachments(&self) -> Vec<MessageAttachment> {
        self.row
            .attachment_list()
            .into_iter()
            .map(MessageAttachment::from)
            .collect()
    }
    /// The message this one answers; null when it answers none.
    async fn reply_to(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Message>> {
        let Some(id) = self.row.reply_to_id else {
            return Ok(None);
        };
        Message::on_record(ctx, id).await
    }
    /// When it was sent (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When the sender last edited it (UTC); null when never edited.
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.row.edited_at
    }
    /// Set on `messageAdded` deliveries (null elsewhere): pass it as `after` to resume from
    /// here.
    async fn event_cursor(&self) -> Option<String> {
        self.event_cursor.map(|seq| seq.to_string())
    }
}

/// Someone else is typing in a conversation (`sendTyping`). Ephemeral: not stored, not
/// replayed; treat it as stale after a few seconds without another.
#[derive(async_graphql::Description)]
pub struct Typing(Arc<TypingEvent>);

#[Object(use_type_description)]
impl Typing {
    /// The `id` of the conversation.
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    /// Who is typing.
    async fn user(&self) -> User {
        User::new(self.0.user.clone())
    }
    /// When they sent the signal (UTC).
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

#[derive(Default)]
pub struct MessageQuery;

#[Object]
impl MessageQuery {
    /// Your conversations, most recently active first (those without messages last), each
    /// with its last message and your unread count. Signed in.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Conversation>> {
        let viewer = ctx.viewer()?.id();
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::inbox(ctx.app(), viewer, &request).await?;
        Ok(connection(
            page,
            |row| (row.last_message_at, row.id),
            |row| Conversation(Arc::new(row)),
        ))
    }

    /// A conversation you take part in; `FORBIDDEN` when you do not (or it does not exist).
    async fn conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).")] id: ID,
    ) -> async_graphql::Result<Conversation> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&id, "id")?;
        Ok(Conversation(Arc::new(
            service::conversation(ctx.app(), viewer, id).await?,
        )))
    }

    /// A conversation's messages, newest first; page back to older ones with `before` (the
    /// previous page's `endCursor`). Participants only (`FORBIDDEN` otherwise).
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn messages(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).")] conversation_id: ID,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page: returns the messages older than it; \
                          omit for the newest.")]
        before: Option<String>,
    ) -> async_graphql::Result<ListConnection<Message>> {
        let viewer = ctx.viewer()?.id();
        let conversation_id = parse_id(&conversation_id, "conversationId")?;
        let request = page_request_named(ctx, first, before.as_deref(), "before")?;
        let page = service::messages(ctx.app(), viewer, conversation_id, &request).await?;
        Ok(connection(page, |row| row.id, |row| Message::new(Arc::new(row))))
    }
}

/// A message to send. Every invalid field is named in one `VALIDATION_ERROR`.
#[derive(InputObject)]
pub struct SendMessageInput {
    /// The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).
    pub conversation_id: ID,
    /// Up to 5,000 characters; may be empty when files are attached.
    #[graphql(default)]
    pub content: String,
    /// Up to 5 files (images, PDF, ZIP, plain text, judged by content; each at most
    /// UPLOAD_MAX_BYTES, 5 MiB unless configured) as GraphQL multipart uploads.
    #[graphql(default)]
    pub attachments: Vec<Upload>,
    /// The `id` of the message in the same conversation that this one answers.
    pub reply_to_id: Option<ID>,
}

/// New text for one of your messages.
#[derive(InputObject)]
pub struct EditMessageInput {
    /// The `id` of a message you sent.
    pub message_id: ID,
    /// The new text, up to 5,000 characters (empty only when the message has files); screened
    /// by the safety filter like a new message.
    pub content: String,
}

#[derive(Default)]
pub struct MessageMutation;

#[Object]
impl MessageMutation {
    /// Gets or creates your two-party conversation with `participantId` (one per pair, and
    /// one more per task when `taskId` is given). `NOT_FOUND` when there is no such (visible)
    /// member.
    async fn start_conversation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The other member: anyone but yourself.")] participant_id: ID,
        #[graphql(desc = "A task that you or the other member posted, to talk about it; none when omitted.")]
        task_id: Option<ID>,
    ) -> async_graphql::Result<Conversation> {
        let viewer = ctx.viewer()?;
        let participant = parse_id(&participant_id, "participantId")?;
        let task_id = task_id.as_ref().map(|id| parse_id(id, "taskId")).transpose()?;
        Ok(Conversation(Arc::new(
            service::start_conversation(ctx.app(), &viewer.user, participant, task_id).await?,
        )))
    }

    /// Sends a message to a conversation you take part in. Participants watching it get it
    /// through `messageAdded`; the others get a NEW_MESSAGE notification. Contact details are
    /// masked while you share no order with every other participant.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation, text, files and the message it answers.")] input: SendMessageInput,
    ) -> async_graphql::Result<Message> {
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
            attachments.push(crate::storage::Upload {
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

    /// Replaces the text of one of your messages and sets `editedAt`. `FORBIDDEN` for other
    /// participants' messages; `NOT_FOUND` when you cannot see the message.
    async fn edit_message(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The message and its new text.")] input: EditMessageInput,
    ) -> async_graphql::Result<Message> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&input.message_id, "messageId")?;
        Ok(Message::new(Arc::new(
            service::edit_message(ctx.app(), &viewer.user, id, input.content).await?,
        )))
    }

    /// Moves your read receipt to now, so `unreadCount` drops to 0.
    async fn mark_conversation_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).")] conversation_id: ID,
    ) -> async_graphql::Result<Conversation> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&conversation_id, "conversationId")?;
        Ok(Conversation(Arc::new(service::mark_read(ctx.app(), viewer, id).await?)))
    }

    /// Tells the other participants you are typing (delivered through `typing`, not stored);
    /// always true. Send it again every few seconds while typing continues.
    async fn send_typing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).")] conversation_id: ID,
    ) -> async_graphql::Result<bool> {
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
    /// New messages in a conversation you take part in (yours included). Pass the last
    /// `eventCursor` you saw as `after` to first receive what you missed. While subscribed you
    /// get no NEW_MESSAGE notifications for this conversation.
    async fn message_added(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).")] conversation_id: ID,
        #[graphql(desc = "The `eventCursor` of the last message you received; omit to get only new ones.")]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Message>>> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&conversation_id, "conversationId")?;
        let after = decode_event_cursor(after.as_deref())?;
        let app = ctx.app().clone();
        service::check_participant(&app, id, viewer).await?;
        // While this stream lives the viewer is "watching": no NEW_MESSAGE notifications.
        let watching = app.presence.join(presence::watching(id, viewer));
        Ok(deliveries(
            ctx,
            topic::conversation(id),
            after,
            service::MESSAGE_ADDED,
            move |event| {
                let _watching = &watching;
                let payload = event.decode::<MessageEvent>()?;
                // Authorised per event: the subscriber must be among the message's participants.
                payload.participant_ids.contains(&viewer).then(|| Message {
                    row: payload.message.clone(),
                    event_cursor: event.seq,
                    sender: Some(payload.sender.clone()),
                })
            },
        ))
    }

    /// Who is typing in a conversation you take part in (your own signals are not echoed).
    async fn typing(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The conversation's `id`; you must take part in it (`FORBIDDEN` otherwise).")] conversation_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Typing>>> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&conversation_id, "conversationId")?;
        let app = ctx.app().clone();
        service::check_participant(&app, id, viewer).await?;
        Ok(deliveries(
            ctx,
            topic::conversation(id),
            None,
            service::TYPING,
            move |event| {
                let typing = event.decode::<TypingEvent>()?;
                // Your own typing is not news to you.
                (typing.user_id != viewer).then_some(Typing(typing))
            },
        ))
    }
}
