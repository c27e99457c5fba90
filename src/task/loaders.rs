//! Batched task lookups.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, TaskRow};
use crate::{error::AppError, graphql::loader::DbLoader};

/// Key: a task id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskById(pub Uuid);

impl Loader<TaskById> for DbLoader {
    type Value = Arc<TaskRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[TaskById]) -> Result<HashMap<TaskById, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(|e| Arc::new(AppError::from(e)))?;
        let rows = model::find_many(&mut conn, &ids)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|t| (TaskById(t.id), Arc::new(t))).collect())
    }
}
