//! Batched vouch lookups.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, SkillCount, VouchRow};
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

/// Key: one page of a user's vouches (see `model::PAGES_SQL`). Keys of a list of users share
/// the area, cursor and limit, so a page of users costs one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VouchPageOf {
    pub vouchee: Uuid,
    pub skill_area: Option<String>,
    pub before: Option<Uuid>,
    pub limit: i64,
}

impl Loader<VouchPageOf> for DbLoader {
    type Value = Arc<Vec<VouchRow>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[VouchPageOf]) -> Result<HashMap<VouchPageOf, Self::Value>, Self::Error> {
        // Keys that differ only in the vouchee share a statement.
        let mut by_shape: HashMap<VouchPageOf, Vec<Uuid>> = HashMap::new();
        for key in keys {
            let shape = VouchPageOf {
                vouchee: Uuid::nil(),
                ..key.clone()
            };
            by_shape.entry(shape).or_default().push(key.vouchee);
        }
        let mut conn = self.db.conn().await.map_err(|e| Arc::new(AppError::from(e)))?;
        let mut pages = HashMap::with_capacity(keys.len());
        for (shape, vouchees) in by_shape {
            let rows = model::pages(
                &mut conn,
                &vouchees,
                shape.skill_area.as_deref(),
                shape.before,
                shape.limit,
            )
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
            for (vouchee, rows) in group_by_owner(&vouchees, rows, |r| r.vouchee_id) {
                pages.insert(
                    VouchPageOf {
                        vouchee,
                        ..shape.clone()
                    },
                    rows,
                );
            }
        }
        Ok(pages)
    }
}
