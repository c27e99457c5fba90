//! Batched lookups for applications.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, ApplicationRow};
use crate::{error::AppError, graphql::loader::DbLoader};

/// Key: an application id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationById(pub Uuid);

impl Loader<ApplicationById> for DbLoader {
    type Value = Arc<ApplicationRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ApplicationById]) -> Result<HashMap<ApplicationById, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(|e| Arc::new(AppError::from(e)))?;
        let rows = model::find_many(&mut conn, &ids)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(rows.into_iter().map(|a| (ApplicationById(a.id), Arc::new(a))).collect())
    }
}
