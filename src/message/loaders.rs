//! Batched lookups for conversation and message relations.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, MessageRow, ParticipantRow};
use crate::{error::AppError, graphql::loader::DbLoader};

/// Key: a message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageById(pub Uuid);

/// Key: a conversation id → its newest message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LatestMessage(pub Uuid);

/// Key: a conversation id → its participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParticipantsOf(pub Uuid);

/// Key: (viewer, conversation) → messages from others since the viewer's read receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnreadFor {
    pub user_id: Uuid,
    pub conversation_id: Uuid,
}

fn shared(e: impl Into<AppError>) -> Arc<AppError> {
    Arc::new(e.into())
}

impl Loader<MessageById> for DbLoader {
    type Value = Arc<MessageRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[MessageById]) -> Result<HashMap<MessageById, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let rows = model::find_messages(&mut conn, &ids).await.map_err(shared)?;
        Ok(rows.into_iter().map(|m| (MessageById(m.id), Arc::new(m))).collect())
    }
}

impl Loader<LatestMessage> for DbLoader {
    type Value = Arc<MessageRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[LatestMessage]) -> Result<HashMap<LatestMessage, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let rows = model::latest_messages(&mut conn, &ids).await.map_err(shared)?;
        Ok(rows
            .into_iter()
            .map(|m| (LatestMessage(m.conversation_id), Arc::new(m)))
            .collect())
    }
}

impl Loader<ParticipantsOf> for DbLoader {
    type Value = Arc<Vec<ParticipantRow>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ParticipantsOf]) -> Result<HashMap<ParticipantsOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let mut grouped: HashMap<ParticipantsOf, Vec<ParticipantRow>> = HashMap::new();
        for row in model::participants_of(&mut conn, &ids).await.map_err(shared)? {
            grouped
                .entry(ParticipantsOf(row.conversation_id))
                .or_default()
                .push(row);
        }
        Ok(grouped.into_iter().map(|(k, v)| (k, Arc::new(v))).collect())
    }
}

impl Loader<UnreadFor> for DbLoader {
    type Value = i64;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[UnreadFor]) -> Result<HashMap<UnreadFor, Self::Value>, Self::Error> {
        let mut by_user: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_user.entry(key.user_id).or_default().push(key.conversation_id);
        }
        let mut conn = self.db.conn().await.map_err(shared)?;
        let mut out = HashMap::new();
        // One statement per distinct viewer; a request has one viewer.
        for (user_id, conversations) in by_user {
            for row in model::unread_counts(&mut conn, user_id, &conversations)
                .await
                .map_err(shared)?
            {
                out.insert(
                    UnreadFor {
                        user_id,
                        conversation_id: row.conversation_id,
                    },
                    row.unread,
                );
            }
        }
        Ok(out)
    }
}
