//! Batched lookups for gig relations.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, GigRow, MediaRow, PackageRow};
use crate::{
    error::AppError,
    graphql::loader::{grouped_loader, keyed_loader, shared, DbLoader},
};

keyed_loader!(
    /// Key: a gig id.
    GigById: model::find_many => GigRow, by id
);

grouped_loader!(
    /// Key: a gig id → its packages, cheapest first.
    PackagesOf: model::packages_of => PackageRow, by gig_id
);

grouped_loader!(
    /// Key: a gig id → its media, in order.
    MediaOf: model::media_of => MediaRow, by gig_id
);

/// Rows grouped by gig as a loader's entries (to prime the loader with a page's rows).
pub fn keyed<K, T>(by_gig: HashMap<Uuid, Vec<T>>, key: impl Fn(Uuid) -> K) -> impl Iterator<Item = (K, Arc<Vec<T>>)> {
    by_gig.into_iter().map(move |(id, rows)| (key(id), Arc::new(rows)))
}

/// Key: (user, gig) → whether the user saved the gig.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SavedBy {
    pub user_id: Uuid,
    pub gig_id: Uuid,
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
