//! Batched verification lookups.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, DocumentRow};
use crate::{
    error::AppError,
    graphql::loader::{group_by_owner, DbLoader},
};

/// Key: a verification request id → its documents, in upload order (every key gets an entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocumentsOf(pub Uuid);

impl Loader<DocumentsOf> for DbLoader {
    type Value = Arc<Vec<DocumentRow>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[DocumentsOf]) -> Result<HashMap<DocumentsOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(|e| Arc::new(AppError::from(e)))?;
        let rows = model::documents_of(&mut conn, &ids)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(group_by_owner(&ids, rows, |r| r.request_id)
            .into_iter()
            .map(|(id, rows)| (DocumentsOf(id), rows))
            .collect())
    }
}
