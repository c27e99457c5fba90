//! Batched vouch lookups.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, SkillCount};
use crate::{
    error::AppError,
    graphql::loader::{group_by_owner, DbLoader},
};

/// Key: a user id → how many vouches they have per skill area (every key gets an entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VouchSkillsOf(pub Uuid);

impl Loader<VouchSkillsOf> for DbLoader {
    type Value = Arc<Vec<SkillCount>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[VouchSkillsOf]) -> Result<HashMap<VouchSkillsOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(|e| Arc::new(AppError::from(e)))?;
        let rows = model::skill_counts(&mut conn, &ids)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        Ok(group_by_owner(&ids, rows, |r| r.vouchee_id)
            .into_iter()
            .map(|(id, rows)| (VouchSkillsOf(id), rows))
            .collect())
    }
}
