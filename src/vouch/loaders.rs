//! Batched vouch lookups.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, SkillCount, VouchRow};
use crate::{
    error::AppError,
    graphql::loader::{group_by_owner, grouped_loader, shared, DbLoader},
};

grouped_loader!(
    /// Key: a user id → how many vouches they have per skill area (every key gets an entry).
    VouchSkillsOf: model::skill_counts => SkillCount, by vouchee_id
);

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
        let mut conn = self.db.conn().await.map_err(shared)?;
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
            .map_err(shared)?;
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
