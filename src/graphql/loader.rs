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

/// Loader errors are shared between every waiter of a batch; each resolver gets its own.
pub fn shared_error(e: Arc<AppError>) -> AppError {
    match &*e {
        AppError::Internal(cause) => AppError::Internal(anyhow::anyhow!("batched load: {cause:#}")),
        other => AppError::Internal(anyhow::anyhow!("batched load: {other:?}")),
    }
}
