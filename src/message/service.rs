//! Messaging operations.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    model::{self, ConversationRow, InboxCursor, MessageRow},
    safety,
};
use crate::{
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    events::{self, presence, topic},
    notification::service::{self as notification, Kind},
    profile::{self, model::UserRow},
    state::AppState,
    storage::{self, Upload},
};

pub const MESSAGE_ADDED: &str = "MESSAGE_ADDED";
pub const TYPING: &str = "TYPING";
/// Longest message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 5000;
/// Most attachments on one message.
pub const ATTACHMENTS_MAX: usize = 5;

/// What `MESSAGE_ADDED` carries: the message and who may see it.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageEvent {
    pub message: Arc<MessageRow>,
    /// A set: every subscriber checks itself against it, so lookups must not be linear.
    pub participant_ids: std::collections::HashSet<Uuid>,
    /// Carried along so thousands of subscribers resolve `sender` without a query each.
    pub sender: Arc<UserRow>,
}

/// What `TYPING` carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct TypingEvent {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub at: DateTime<Utc>,
    /// Carried along so subscribers resolve `user` without a query each.
    pub user: Arc<UserRow>,
}

fn not_a_participant() -> AppError {
    AppError::Forbidden("You are not a participant of this conversation.".into())
}

/// Refuses anyone who is not a participant of the conversation.
pub async fn require_participant(conn: &mut AsyncPgConnection, conversation_id: Uuid, user_id: Uuid) -> AppResult<()> {
    match model::participant(conn, conversation_id, user_id).await? {
        Some(_) => Ok(()),
        None => Err(not_a_participant()),
    }
}

/// Refuses anyone who is not a participant of the conversation, on a connection of its own
/// (for subscriptions and signals, which hold none).
pub async fn check_participant(app: &AppState, conversation_id: Uuid, user_id: Uuid) -> AppResult<()> {
    let mut conn = app.db.conn().await?;
    require_participant(&mut conn, conversation_id, user_id).await
}

/// The ids of a conversation's participants.
async fn participant_ids(conn: &mut AsyncPgConnection, conversation_id: Uuid) -> AppResult<Vec<Uuid>> {
    Ok(model::participants_of(conn, &[conversation_id])
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect())
}

/// The stable key of the two-party conversation between `a` and `b`, about `task` if given.
pub fn direct_key(a: Uuid, b: Uuid, task: Option<Uuid>) -> String {
    let (low, high) = if a < b { (a, b) } else { (b, a) };
    match task {
        Some(task) => format!("{low}:{high}:task:{task}"),
        None => format!("{low}:{high}"),
    }
}

/// Gets or creates the conversation between the viewer and `participant_id`, optionally about
/// a task one of them posted.
pub async fn start_conversation(
    app: &AppState,
    viewer: &UserRow,
    participant_id: Uuid,
    task_id: Option<Uuid>,
) -> AppResult<ConversationRow> {
    if participant_id == viewer.id {
        return Err(AppError::field("participantId", "must be someone other than you"));
    }
    let mut conn = app.db.conn().await?;
    let other = profile::service::find(&mut conn, participant_id).await?;
    if other.as_ref().is_none_or(|u| u.is_banned()) {
        return Err(AppError::not_found("User"));
    }
    if let Some(task_id) = task_id {
        let task = crate::task::model::find(&mut conn, task_id).await?;
        if task.is_none_or(|t| t.poster_id != viewer.id && t.poster_id != participant_id) {
            return Err(AppError::field(
                "taskId",
                "must be a task that you or the other participant posted",
            ));
        }
    }
    let key = direct_key(viewer.id, participant_id, task_id);
    conn.transaction::<_, AppError, _>(async |conn| {
        let conversation = model::upsert_direct(conn, &key, task_id).await?;
        model::add_participants(conn, conversation.id, &[viewer.id, participant_id]).await?;
        Ok(conversation)
    })
    .await
}

/// A conversation the viewer takes part in.
pub async fn conversation(app: &AppState, viewer: Uuid, id: Uuid) -> AppResult<ConversationRow> {
    let mut conn = app.db.conn().await?;
    require_participant(&mut conn, id, viewer).await?;
    model::find_conversation(&mut conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("Conversation"))
}

/// What `sendMessage` takes.
pub struct NewMessage {
    pub conversation_id: Uuid,
    pub content: String,
    pub attachments: Vec<Upload>,
    pub reply_to_id: Option<Uuid>,
}

fn check_content(content: &str, attachments: usize, errors: &mut FieldErrors) {
    let chars = content.chars().count();
    if chars > MESSAGE_MAX_CHARS {
        errors.add("content", format!("must be at most {MESSAGE_MAX_CHARS} characters"));
    } else if content.trim().is_empty() && attachments == 0 {
        errors.add("content", "must not be empty");
    }
}

/// Sends a message; participants see it live, offline ones get a `NEW_MESSAGE` notification.
pub async fn send_message(app: &AppState, viewer: &UserRow, input: NewMessage) -> AppResult<MessageRow> {
    let mut errors = FieldErrors::new();
    check_content(&input.content, input.attachments.len(), &mut errors);
    if input.attachments.len() > ATTACHMENTS_MAX {
        errors.add("attachments", format!("must be at most {ATTACHMENTS_MAX} files"));
    }
    let kinds = storage::check_uploads(
        &input.attachments,
        app.config.limits.upload_max_bytes,
        "attachments",
        &mut errors,
    );
    errors.into_result()?;

    let mut conn = app.db.conn().await?;
    require_participant(&mut conn, input.conversation_id, viewer.id).await?;
    if let Some(reply_to) = input.reply_to_id {
        let original = model::find_message(&mut conn, reply_to).await?;
        if original.is_none_or(|m| m.conversation_id != input.conversation_id) {
            return Err(AppError::field("replyToId", "is not a message of this conversation"));
        }
    }
    let participant_ids = participant_ids(&mut conn, input.conversation_id).await?;
    let hired = hired_everyone(&mut conn, viewer.id, &participant_ids).await?;
    drop(conn);

    let screened = safety::screen(&input.content, hired);

    let attachments = app
        .storage
        .store_uploads("attachments", input.attachments, kinds)
        .await
        .map_err(AppError::internal)?;

    let mut offline = Vec::new();
    for &participant in participant_ids.iter().filter(|p| **p != viewer.id) {
        // Someone watching the conversation live sees the message; others are notified.
        if !app
            .presence
            .is_present(&presence::watching(input.conversation_id, participant))
            .await
        {
            offline.push(participant);
        }
    }

    let message = MessageRow {
        id: Uuid::now_v7(),
        conversation_id: input.conversation_id,
        sender_id: viewer.id,
        original_body: screened.flagged.then(|| input.content.clone()),
        body: screened.text,
        flagged: screened.flagged,
        reply_to_id: input.reply_to_id,
        attachments: serde_json::to_value(&attachments).map_err(AppError::internal)?,
        created_at: Utc::now(),
        edited_at: None,
    };
    let preview: String = message.body.chars().take(80).collect();
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            model::insert_message(conn, &message).await?;
            events::emit(
                conn,
                &topic::conversation(message.conversation_id),
                MESSAGE_ADDED,
                &MessageEvent {
                    message: Arc::new(message.clone()),
                    participant_ids: participant_ids.iter().copied().collect(),
                    sender: Arc::new(viewer.clone()),
                },
            )
            .await?;
            for user in &offline {
                notification::notify(
                    conn,
                    *user,
                    Kind::NewMessage,
                    &format!("New message from {}", viewer.full_name),
                    &preview,
                    serde_json::json!({ "conversationId": message.conversation_id, "messageId": message.id }),
                )
                .await?;
            }
            Ok(message)
        })
        .await
}

/// Edits the viewer's own message (screened again).
pub async fn edit_message(
    app: &AppState,
    viewer: &UserRow,
    message_id: Uuid,
    content: String,
) -> AppResult<MessageRow> {
    let mut errors = FieldErrors::new();
    let mut conn = app.db.conn().await?;
    let message = model::find_message(&mut conn, message_id)
        .await?
        .ok_or_else(|| AppError::not_found("Message"))?;
    if message.sender_id != viewer.id {
        // Participants can see it but not change it; everyone else learns nothing.
        return match model::participant(&mut conn, message.conversation_id, viewer.id).await? {
            Some(_) => Err(AppError::Forbidden("Only the sender can edit a message.".into())),
            None => Err(AppError::not_found("Message")),
        };
    }
    let attachments = message.attachment_list().len();
    check_content(&content, attachments, &mut errors);
    errors.into_result()?;
    let participant_ids = participant_ids(&mut conn, message.conversation_id).await?;
    let hired = hired_everyone(&mut conn, viewer.id, &participant_ids).await?;
    let screened = safety::screen(&content, hired);
    let original = screened.flagged.then_some(content.as_str());
    Ok(model::update_body(&mut conn, message_id, &screened.text, original, screened.flagged).await?)
}

/// Whether the sender shares an order with every other participant: only then may contact
/// details pass the safety filter.
async fn hired_everyone(conn: &mut AsyncPgConnection, sender: Uuid, participants: &[Uuid]) -> AppResult<bool> {
    for other in participants.iter().filter(|p| **p != sender) {
        if !crate::order::model::share_an_order(conn, sender, *other).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Marks a conversation read for the viewer (their read receipt moves to now).
pub async fn mark_read(app: &AppState, viewer: Uuid, conversation_id: Uuid) -> AppResult<ConversationRow> {
    let mut conn = app.db.conn().await?;
    require_participant(&mut conn, conversation_id, viewer).await?;
    model::mark_read(&mut conn, conversation_id, viewer).await?;
    model::find_conversation(&mut conn, conversation_id)
        .await?
        .ok_or_else(|| AppError::not_found("Conversation"))
}

/// Tells the other participants the viewer is typing. Ephemeral: not stored.
pub async fn send_typing(app: &AppState, viewer: &UserRow, conversation_id: Uuid) -> AppResult<()> {
    check_participant(app, conversation_id, viewer.id).await?;
    let event = TypingEvent {
        conversation_id,
        user_id: viewer.id,
        at: Utc::now(),
        user: Arc::new(viewer.clone()),
    };
    app.bus
        .signal(&topic::conversation(conversation_id), TYPING, &event)
        .await
        .map_err(AppError::internal)
}

/// A page of the viewer's conversations, most recently active first.
pub async fn inbox(
    app: &AppState,
    viewer: Uuid,
    request: &PageRequest<InboxCursor>,
) -> AppResult<Page<ConversationRow>> {
    let mut conn = app.db.conn().await?;
    Ok(model::inbox(&mut conn, viewer, request).await?)
}

/// A page of a conversation's messages, newest first (participants only).
pub async fn messages(
    app: &AppState,
    viewer: Uuid,
    conversation_id: Uuid,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<MessageRow>> {
    let mut conn = app.db.conn().await?;
    require_participant(&mut conn, conversation_id, viewer).await?;
    Ok(model::messages(&mut conn, conversation_id, request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_keys_ignore_order() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(direct_key(a, b, None), direct_key(b, a, None));
        assert_ne!(direct_key(a, b, None), direct_key(a, b, Some(Uuid::nil())));
    }
}
