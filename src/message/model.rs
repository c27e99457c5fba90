//! Rows and queries of conversations, participants and messages.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    db::{
        page::{Page, PageRequest},
        schema::{conversation_participants, conversations, messages},
    },
    storage::Attachment,
};

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = conversations, check_for_backend(diesel::pg::Pg))]
pub struct ConversationRow {
    pub id: Uuid,
    pub direct_key: Option<String>,
    pub task_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = conversation_participants, check_for_backend(diesel::pg::Pg))]
pub struct ParticipantRow {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub joined_at: DateTime<Utc>,
    pub last_read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize, Deserialize)]
#[diesel(table_name = messages, check_for_backend(diesel::pg::Pg))]
pub struct MessageRow {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub body: String,
    /// Never leaves the server except to moderators.
    #[serde(skip)]
    pub original_body: Option<String>,
    pub flagged: bool,
    pub reply_to_id: Option<Uuid>,
    pub attachments: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

impl MessageRow {
    pub fn attachment_list(&self) -> Vec<Attachment> {
        serde_json::from_value(self.attachments.clone()).unwrap_or_default()
    }
}

/// Creates the conversation for `direct_key` unless it exists; returns it either way.
pub async fn upsert_direct(
    conn: &mut AsyncPgConnection,
    direct_key: &str,
    task_id: Option<Uuid>,
) -> QueryResult<ConversationRow> {
    diesel::insert_into(conversations::table)
        .values((
            conversations::id.eq(Uuid::now_v7()),
            conversations::direct_key.eq(direct_key),
            conversations::task_id.eq(task_id),
        ))
        .on_conflict(conversations::direct_key)
        .do_nothing()
        .execute(conn)
        .await?;
    conversations::table
        .filter(conversations::direct_key.eq(direct_key))
        .select(ConversationRow::as_select())
        .first(conn)
        .await
}

pub async fn add_participants(conn: &mut AsyncPgConnection, conversation_id: Uuid, users: &[Uuid]) -> QueryResult<()> {
    let rows: Vec<_> = users
        .iter()
        .map(|u| {
            (
                conversation_participants::conversation_id.eq(conversation_id),
                conversation_participants::user_id.eq(*u),
            )
        })
        .collect();
    diesel::insert_into(conversation_participants::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// One conversation by id.
pub async fn find_conversation(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ConversationRow>> {
    Ok(find_conversations(conn, &[id]).await?.pop())
}

/// Conversations by id.
pub async fn find_conversations(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<ConversationRow>> {
    conversations::table
        .filter(conversations::id.eq_any(ids))
        .select(ConversationRow::as_select())
        .load(conn)
        .await
}

/// The participant row of `user_id` in a conversation, if they are one.
pub async fn participant(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    user_id: Uuid,
) -> QueryResult<Option<ParticipantRow>> {
    conversation_participants::table
        .find((conversation_id, user_id))
        .select(ParticipantRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Participants of each of `conversation_ids`.
pub async fn participants_of(
    conn: &mut AsyncPgConnection,
    conversation_ids: &[Uuid],
) -> QueryResult<Vec<ParticipantRow>> {
    conversation_participants::table
        .filter(conversation_participants::conversation_id.eq_any(conversation_ids))
        .order((
            conversation_participants::conversation_id,
            conversation_participants::joined_at,
        ))
        .select(ParticipantRow::as_select())
        .load(conn)
        .await
}

/// Where an inbox page ends: (last_message_at, conversation id) of its last row.
pub type InboxCursor = (Option<DateTime<Utc>>, Uuid);

/// A page of a user's conversations, most recently active first (those without messages
/// last).
pub async fn inbox(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    request: &PageRequest<InboxCursor>,
) -> QueryResult<Page<ConversationRow>> {
    request
        .fetch(
            conn,
            async |c, after, limit| inbox_rows(c, user_id, after.copied(), limit).await,
            async |c| inbox_count(c, user_id).await,
        )
        .await
}

/// Up to `limit` of a user's conversations, most recently active first, after the
/// (last_message_at, conversation id) `after`.
async fn inbox_rows(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    after: Option<InboxCursor>,
    limit: i64,
) -> QueryResult<Vec<ConversationRow>> {
    let mut query = conversation_participants::table
        .inner_join(conversations::table)
        .filter(conversation_participants::user_id.eq(user_id))
        .order((
            conversation_participants::last_message_at.desc().nulls_last(),
            conversation_participants::conversation_id.desc(),
        ))
        .limit(limit)
        .select(ConversationRow::as_select())
        .into_boxed();
    if let Some((at, id)) = after {
        // Keyset pagination over (last_message_at DESC NULLS LAST, id DESC).
        query = match at {
            Some(at) => query.filter(
                conversation_participants::last_message_at
                    .lt(at)
                    .or(conversation_participants::last_message_at.is_null())
                    .or(conversation_participants::last_message_at
                        .eq(at)
                        .and(conversation_participants::conversation_id.lt(id))),
            ),
            None => query.filter(
                conversation_participants::last_message_at
                    .is_null()
                    .and(conversation_participants::conversation_id.lt(id)),
            ),
        };
    }
    query.load(conn).await
}

async fn inbox_count(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<i64> {
    conversation_participants::table
        .filter(conversation_participants::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
}

pub async fn insert_message(conn: &mut AsyncPgConnection, row: &MessageRow) -> QueryResult<()> {
    diesel::insert_into(messages::table).values(row).execute(conn).await?;
    diesel::update(conversations::table.find(row.conversation_id))
        .set(conversations::last_message_at.eq(row.created_at))
        .execute(conn)
        .await?;
    diesel::update(
        conversation_participants::table.filter(conversation_participants::conversation_id.eq(row.conversation_id)),
    )
    .set(conversation_participants::last_message_at.eq(row.created_at))
    .execute(conn)
    .await
    .map(drop)
}

/// One message by id.
pub async fn find_message(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<MessageRow>> {
    Ok(find_messages(conn, &[id]).await?.pop())
}

/// Messages by id (for the loader and [`find_message`]).
pub async fn find_messages(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::id.eq_any(ids))
        .select(MessageRow::as_select())
        .load(conn)
        .await
}

/// A page of a conversation's messages, newest first (the cursor pages back to older ones).
pub async fn messages(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    request: &PageRequest<Uuid>,
) -> QueryResult<Page<MessageRow>> {
    request
        .fetch(
            conn,
            async |c, before, limit| message_rows(c, conversation_id, before.copied(), limit).await,
            async |c| message_count(c, conversation_id).await,
        )
        .await
}

/// Up to `limit` of a conversation's messages, newest first, strictly older than `before`.
async fn message_rows(
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<MessageRow>> {
    let mut query = messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .order(messages::id.desc())
        .limit(limit)
        .select(MessageRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(messages::id.lt(before));
    }
    query.load(conn).await
}

async fn message_count(conn: &mut AsyncPgConnection, conversation_id: Uuid) -> QueryResult<i64> {
    messages::table
        .filter(messages::conversation_id.eq(conversation_id))
        .count()
        .get_result(conn)
        .await
}

/// The newest message of each conversation.
pub async fn latest_messages(conn: &mut AsyncPgConnection, conversation_ids: &[Uuid]) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::conversation_id.eq_any(conversation_ids))
        .distinct_on(messages::conversation_id)
        .order((messages::conversation_id, messages::id.desc()))
        .select(MessageRow::as_select())
        .load(conn)
        .await
}

#[derive(QueryableByName)]
pub struct UnreadCount {
    #[diesel(sql_type = sql_types::Uuid)]
    pub conversation_id: Uuid,
    #[diesel(sql_type = sql_types::BigInt)]
    pub unread: i64,
}

/// For each conversation: messages from others newer than the user's read receipt.
pub async fn unread_counts(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    conversation_ids: &[Uuid],
) -> QueryResult<Vec<UnreadCount>> {
    diesel::sql_query(
        "SELECT p.conversation_id, count(m.id) AS unread \
         FROM conversation_participants p \
         LEFT JOIN messages m ON m.conversation_id = p.conversation_id \
              AND m.sender_id <> p.user_id \
              AND m.created_at > COALESCE(p.last_read_at, '-infinity'::timestamptz) \
         WHERE p.user_id = $1 AND p.conversation_id = ANY($2) \
         GROUP BY p.conversation_id",
    )
    .bind::<sql_types::Uuid, _>(user_id)
    .bind::<sql_types::Array<sql_types::Uuid>, _>(conversation_ids)
    .load(conn)
    .await
}

pub async fn update_body(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    body: &str,
    original: Option<&str>,
    flagged: bool,
) -> QueryResult<MessageRow> {
    diesel::update(messages::table.find(id))
        .set((
            messages::body.eq(body),
            messages::original_body.eq(original),
            messages::flagged.eq(flagged),
            messages::edited_at.eq(Utc::now()),
        ))
        .returning(MessageRow::as_returning())
        .get_result(conn)
        .await
}

/// Sets the user's read receipt to now (never backwards).
pub async fn mark_read(conn: &mut AsyncPgConnection, conversation_id: Uuid, user_id: Uuid) -> QueryResult<()> {
    diesel::update(conversation_participants::table.find((conversation_id, user_id)))
        .set(conversation_participants::last_read_at.eq(Utc::now()))
        .execute(conn)
        .await
        .map(drop)
}
