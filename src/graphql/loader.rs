//! The request's DataLoader. One loader type reads the database; each domain implements
//! `Loader<Key>` for it in its own `loaders.rs`, one key newtype per relation.

use async_graphql::dataloader::{DataLoader, HashMapCache};
use std::time::Duration;

use std::sync::Arc;

use crate::{db::Db, error::AppError};

/// Reads through the pool; the key type decides the query.
pub struct DbLoader {
    pub db: Db,
}

/// The loader type resolvers reach through `ContextExt::loader`.
pub type RequestLoader = DataLoader<DbLoader, HashMapCache>;

/// A fresh loader for one request. Keys queued while resolvers run in the same poll are
/// batched; the zero delay means a lone lookup is not held back waiting for company. Its
/// cache lives as long as the request, so a page query can prime it with the relations it
/// already joined (`feed_many`) and nested resolvers find them without a statement.
/// Runs a batch load; under an operation span when tracing is on, so its statements belong to
/// the operation's trace.
fn spawn(load: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    if crate::telemetry::spans_enabled() {
        tokio::spawn(tracing::Instrument::in_current_span(load))
    } else {
        tokio::spawn(load)
    }
}

pub fn request_loader(db: Db) -> RequestLoader {
    DataLoader::with_cache(DbLoader { db }, spawn, HashMapCache::default())
        .delay(Duration::ZERO)
        .max_batch_size(500)
}

/// Rows of a one-to-many relation grouped by their owner's id, with an empty list for every
/// requested owner that has none (so a batch never answers "missing" for them).
pub fn group_by_owner<R>(
    owners: &[uuid::Uuid],
    rows: Vec<R>,
    owner_of: impl Fn(&R) -> uuid::Uuid,
) -> std::collections::HashMap<uuid::Uuid, Arc<Vec<R>>> {
    let mut grouped: std::collections::HashMap<uuid::Uuid, Vec<R>> =
        owners.iter().map(|id| (*id, Vec::new())).collect();
    for row in rows {
        grouped.entry(owner_of(&row)).or_default().push(row);
    }
    grouped.into_iter().map(|(id, rows)| (id, Arc::new(rows))).collect()
}

/// The rows a one-to-many loader holds for `key` (none when it has no entry).
pub async fn load_list<K, T>(ctx: &async_graphql::Context<'_>, key: K) -> async_graphql::Result<Arc<Vec<T>>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Send + Sync + 'static,
    DbLoader: async_graphql::dataloader::Loader<K, Value = Arc<Vec<T>>, Error = Arc<AppError>>,
{
    let rows = ctx
        .data_unchecked::<RequestLoader>()
        .load_one(key)
        .await
        .map_err(shared_error)?;
    Ok(rows.unwrap_or_default())
}

/// Loader errors are shared between every waiter of a batch; each resolver gets its own.
pub fn shared_error(e: Arc<AppError>) -> AppError {
    match &*e {
        AppError::Internal(cause) => AppError::Internal(anyhow::anyhow!("batched load: {cause:#}")),
        other => AppError::Internal(anyhow::anyhow!("batched load: {other:?}")),
    }
}
