//! Batched lookups for gig relations.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, GigRow, MediaRow, PackageRow};
use crate::{error::AppError, graphql::loader::DbLoader};

/// Key: a gig id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GigById(pub Uuid);

/// Key: a gig id → its packages, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PackagesOf(pub Uuid);

/// Key: a gig id → its media, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaOf(pub Uuid);

/// Key: (user, gig) → whether the user saved the gig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SavedBy {
    pub user_id: Uuid,
    pub gig_id: Uuid,
}

fn shared(e: impl Into<AppError>) -> Arc<AppError> {
    Arc::new(e.into())
}

impl Loader<GigById> for DbLoader {
    type Value = Arc<GigRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[GigById]) -> Result<HashMap<GigById, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let rows = model::find_many(&mut conn, &ids).await.map_err(shared)?;
        Ok(rows.into_iter().map(|g| (GigById(g.id), Arc::new(g))).collect())
    }
}

impl Loader<PackagesOf> for DbLoader {
    type Value = Arc<Vec<PackageRow>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[PackagesOf]) -> Result<HashMap<PackagesOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let rows = model::packages_of(&mut conn, &ids).await.map_err(shared)?;
        Ok(keyed(model::by_gig(ids, rows, |p| p.gig_id), PackagesOf).collect())
    }
}

impl Loader<MediaOf> for DbLoader {
    type Value = Arc<Vec<MediaRow>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[MediaOf]) -> Result<HashMap<MediaOf, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let rows = model::media_of(&mut conn, &ids).await.map_err(shared)?;
        Ok(keyed(model::by_gig(ids, rows, |m| m.gig_id), MediaOf).collect())
    }
}

/// Rows grouped by gig as a loader's entries (also to prime the loader with a page's rows).
pub fn keyed<K, T>(by_gig: HashMap<Uuid, Vec<T>>, key: impl Fn(Uuid) -> K) -> impl Iterator<Item = (K, Arc<Vec<T>>)> {
    by_gig.into_iter().map(move |(id, rows)| (key(id), Arc::new(rows)))
}

impl Loader<SavedBy> for DbLoader {
    type Value = bool;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[SavedBy]) -> Result<HashMap<SavedBy, Self::Value>, Self::Error> {
        let mut by_user: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for key in keys {
            by_user.entry(key.user_id).or_default().push(key.gig_id);
        }
        let mut conn = self.db.conn().await.map_err(shared)?;
        let mut out: HashMap<SavedBy, bool> = keys.iter().map(|k| (*k, false)).collect();
        for (user_id, gig_ids) in by_user {
            for gig_id in model::saved_among(&mut conn, user_id, &gig_ids).await.map_err(shared)? {
                out.insert(SavedBy { user_id, gig_id }, true);
            }
        }
        Ok(out)
    }
}
