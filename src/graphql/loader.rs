//! The request's DataLoader. One loader type reads the database; each domain implements
//! `Loader<Key>` for it in its own `loaders.rs`, one key newtype per relation.
//!
//! Most relations have one of two shapes, and a domain declares them in one line each:
//! [`keyed_loader!`] (one row per id: `MessageById`, "the latest message of") and
//! [`grouped_loader!`] (an owner's rows: `ParticipantsOf`). A loader with another shape
//! writes its `Loader` impl by hand and maps errors with [`shared`].

use std::{collections::HashMap, hash::Hash, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, HashMapCache};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    db::{Db, DbConn},
    error::AppError,
};

/// Reads through the pool; the key type decides the query.
pub struct DbLoader {
    pub db: Db,
}

/// The loader type resolvers reach through `ContextExt::loader`.
pub type RequestLoader = DataLoader<DbLoader, HashMapCache>;

/// Runs a batch load; under an operation span when tracing is on, so its statements belong to
/// the operation's trace.
fn spawn(load: futures_util::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()> {
    if crate::telemetry::spans_enabled() {
        tokio::spawn(tracing::Instrument::in_current_span(load))
    } else {
        tokio::spawn(load)
    }
}

/// A fresh loader for one request. Keys queued while resolvers run in the same poll are
/// batched; the zero delay means a lone lookup is not held back waiting for company. Its
/// cache lives as long as the request, so a page query can prime it with the relations it
/// already joined (`feed_many`) and nested resolvers find them without a statement.
pub fn request_loader(db: Db) -> RequestLoader {
    DataLoader::with_cache(DbLoader { db }, spawn, HashMapCache::default())
        .delay(Duration::ZERO)
        .max_batch_size(500)
}

/// A loader for one subscription, which lives as long as the subscriber stays: it batches
/// the lookups of one event like [`request_loader`] but keeps nothing between events, so a
/// relation an event shows is read as it is now (a renamed user, an edited gig), and a
/// long-lived subscription does not grow a cache of everything it ever showed.
pub fn subscription_loader(db: Db) -> RequestLoader {
    let loader = request_loader(db);
    loader.enable_all_cache(false);
    loader
}

/// Rows of a one-to-many relation grouped by their owner's id, with an empty list for every
/// requested owner that has none (so a batch never answers "missing" for them).
pub fn group_by_owner<R>(owners: &[Uuid], rows: Vec<R>, owner_of: impl Fn(&R) -> Uuid) -> HashMap<Uuid, Arc<Vec<R>>> {
    crate::db::group_by_owner(owners, rows, owner_of)
        .into_iter()
        .map(|(id, rows)| (id, Arc::new(rows)))
        .collect()
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

/// The error a `Loader` impl returns: any cause, made shareable between the batch's waiters.
pub fn shared(e: impl Into<AppError>) -> Arc<AppError> {
    Arc::new(e.into())
}

/// A loader key that wraps one id (`MessageById(id)`, `ParticipantsOf(conversation_id)`):
/// what [`load_each`] and [`load_grouped`] read ids from and build keys of. The keys that
/// [`keyed_loader!`] and [`grouped_loader!`] declare implement it.
pub trait IdKey: Copy + Eq + Hash {
    /// The id inside the key.
    fn id(self) -> Uuid;
    /// The key of an id.
    fn of(id: Uuid) -> Self;
}

/// The batch's ids and a pooled connection to query them on.
async fn ids_and_conn<K: IdKey>(db: &Db, keys: &[K]) -> Result<(Vec<Uuid>, DbConn), Arc<AppError>> {
    let ids = keys.iter().map(|k| k.id()).collect();
    Ok((ids, db.conn().await.map_err(shared)?))
}

/// A "one row per key" batch: `query` reads the rows of the keys' ids in one statement, and
/// each row answers the key of `key_of(row)` (its own id, or its owner's for "the latest of").
/// Keys without a row are missing from the map (the loader answers `None` for them).
pub async fn load_each<K, R, E>(
    db: &Db,
    keys: &[K],
    query: impl AsyncFnOnce(&mut AsyncPgConnection, &[Uuid]) -> Result<Vec<R>, E>,
    key_of: impl Fn(&R) -> Uuid,
) -> Result<HashMap<K, Arc<R>>, Arc<AppError>>
where
    K: IdKey,
    E: Into<AppError>,
{
    let (ids, mut conn) = ids_and_conn(db, keys).await?;
    let rows = query(&mut conn, &ids).await.map_err(shared)?;
    Ok(rows
        .into_iter()
        .map(|row| (K::of(key_of(&row)), Arc::new(row)))
        .collect())
}

/// A "rows per owner" batch: `query` reads the rows of the keys' ids in one statement, in the
/// order each owner's list should keep, and `owner_of` names a row's owner. Every key gets an
/// entry, empty when it owns nothing (see [`group_by_owner`]).
pub async fn load_grouped<K, R, E>(
    db: &Db,
    keys: &[K],
    query: impl AsyncFnOnce(&mut AsyncPgConnection, &[Uuid]) -> Result<Vec<R>, E>,
    owner_of: impl Fn(&R) -> Uuid,
) -> Result<HashMap<K, Arc<Vec<R>>>, Arc<AppError>>
where
    K: IdKey,
    E: Into<AppError>,
{
    let (ids, mut conn) = ids_and_conn(db, keys).await?;
    let rows = query(&mut conn, &ids).await.map_err(shared)?;
    Ok(group_by_owner(&ids, rows, owner_of)
        .into_iter()
        .map(|(id, rows)| (K::of(id), rows))
        .collect())
}

/// Declares a key newtype over an id and its [`IdKey`] impl (used by the loader macros).
macro_rules! id_key {
    ($(#[$doc:meta])* $key:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub uuid::Uuid);

        impl $crate::graphql::loader::IdKey for $key {
            fn id(self) -> uuid::Uuid {
                self.0
            }
            fn of(id: uuid::Uuid) -> Self {
                Self(id)
            }
        }
    };
}
pub(crate) use id_key;

/// Declares a "one row per key" loader: the key newtype `$key(Uuid)` and its `Loader` impl
/// on [`DbLoader`], whose value is `Arc<$row>`. `$query(conn, &ids)` reads the rows in one
/// statement; `by $field` names the row's field that holds the key's id.
///
/// ```ignore
/// keyed_loader!(
///     /// Key: a message id.
///     MessageById: model::find_messages => MessageRow, by id
/// );
/// ```
macro_rules! keyed_loader {
    ($(#[$doc:meta])* $key:ident: $query:path => $row:ty, by $field:ident) => {
        $crate::graphql::loader::id_key!($(#[$doc])* $key);

        impl async_graphql::dataloader::Loader<$key> for $crate::graphql::loader::DbLoader {
            type Value = std::sync::Arc<$row>;
            type Error = std::sync::Arc<$crate::error::AppError>;

            async fn load(&self, keys: &[$key]) -> Result<std::collections::HashMap<$key, Self::Value>, Self::Error> {
                $crate::graphql::loader::load_each(&self.db, keys, $query, |row: &$row| row.$field).await
            }
        }
    };
}
pub(crate) use keyed_loader;

/// Declares a "rows per owner" loader: the key newtype `$key(Uuid)` and its `Loader` impl on
/// [`DbLoader`], whose value is `Arc<Vec<$row>>` (empty for an owner without rows).
/// `$query(conn, &ids)` reads every owner's rows in one statement, in list order; `by $field`
/// names the row's field that holds its owner's id.
///
/// ```ignore
/// grouped_loader!(
///     /// Key: a conversation id → its participants.
///     ParticipantsOf: model::participants_of => ParticipantRow, by conversation_id
/// );
/// ```
macro_rules! grouped_loader {
    ($(#[$doc:meta])* $key:ident: $query:path => $row:ty, by $field:ident) => {
        $crate::graphql::loader::id_key!($(#[$doc])* $key);

        impl async_graphql::dataloader::Loader<$key> for $crate::graphql::loader::DbLoader {
            type Value = std::sync::Arc<Vec<$row>>;
            type Error = std::sync::Arc<$crate::error::AppError>;

            async fn load(&self, keys: &[$key]) -> Result<std::collections::HashMap<$key, Self::Value>, Self::Error> {
                $crate::graphql::loader::load_grouped(&self.db, keys, $query, |row: &$row| row.$field).await
            }
        }
    };
}
pub(crate) use grouped_loader;
