//! Batched lookups for conversation and message relations.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, MessageRow, ParticipantRow};
use crate::{
    error::AppError,
    graphql::loader::{grouped_loader, keyed_loader, shared, DbLoader},
};

keyed_loader!(
    /// Key: a message id.
    MessageById: model::find_messages => MessageRow, by id
);

keyed_loader!(
    /// Key: a conversation id → its newest message.
    LatestMessage: model::latest_messages => MessageRow, by conversation_id
);

grouped_loader!(
    /// Key: a conversation id → its participants, in joining order.
    ParticipantsOf: model::participants_of => ParticipantRow, by conversation_id
);

/// Key: (viewer, conversation) → messages from others since the viewer's read receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnreadFor {
    pub user_id: Uuid,
    pub conversation_id: Uuid,
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
