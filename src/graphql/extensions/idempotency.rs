//! `Idempotency-Key` for mutations: a retried request gets the first answer again instead of
//! running twice; the same key with other arguments is refused.
//!
//! Keys are scoped to the signed-in user and kept for a day. The key is claimed before the
//! mutation runs (a concurrent retry with the same key is told the first is still running);
//! the answer is stored after it. An answer carrying `INTERNAL_ERROR` is not stored, and a
//! request that failed validation (nothing ran) frees its key, so the client may retry. Money
//! moves at most once regardless: each ledger movement has its own unique key, written in the
//! transaction of the change (see `crate::ledger`).
//!
//! The claim is the [`Idempotency`] schema extension. It is registered only on the schemas
//! that mutations sent with a key run on (see `GraphqlState::idempotent`): with any extension
//! registered, async-graphql resolves every field through the extension chain, and
//! queries, subscriptions and mutations without a key should not pay for that. The handler
//! attaches a [`Pending`] key to such a request; the extension claims it before the request
//! is parsed, and stops the request when the key is taken. The answer to store is the body as
//! sent, which only exists after serialisation, so the handler hands it to
//! [`Pending::settle`].

use std::{
    any::TypeId,
    sync::{Arc, Mutex},
};

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest},
    ServerError, ServerResult,
};
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    db::schema::idempotency_keys,
    db::Db,
    error::{AppError, AppResult, Code},
    graphql::media::is_request_error,
    state::AppState,
};

pub const HEADER: &str = "idempotency-key";
/// How long an answer is replayed.
pub const TTL_HOURS: i64 = 24;
const KEY_MAX: usize = 255;

/// The header's key, if present; `Err` with a message when it is malformed.
pub fn key_from(headers: &HeaderMap) -> Result<Option<String>, &'static str> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().map_err(|_| "must be visible ASCII")?.trim();
    if key.is_empty() || key.len() > KEY_MAX || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err("must be 1 to 255 visible ASCII characters");
    }
    Ok(Some(key.to_owned()))
}

/// What identifies "the same request": operation name, document and variables.
pub fn request_hash(operation_name: Option<&str>, query: &str, variables: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for part in [operation_name.unwrap_or(""), query, variables] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().to_vec()
}

/// What to do with a request that carries a key.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    /// First time: run it, then `finish` or `release`.
    Fresh,
    /// Seen and answered: send this body again.
    Replay(String),
    /// Seen with other arguments.
    Mismatch,
    /// The first request with this key has not answered yet.
    InProgress,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = idempotency_keys, check_for_backend(diesel::pg::Pg))]
struct KeyRow {
    request_hash: Vec<u8>,
    response: Option<String>,
    created_at: DateTime<Utc>,
}

async fn insert(conn: &mut AsyncPgConnection, user_id: Uuid, key: &str, hash: &[u8]) -> QueryResult<bool> {
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(user_id),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(hash),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Claims `key` for this request, or says why not.
async fn claim(db: &Db, user_id: Uuid, key: &str, hash: &[u8]) -> AppResult<Claim> {
    let mut conn = db.conn().await?;
    if insert(&mut conn, user_id, key, hash).await? {
        return Ok(Claim::Fresh);
    }
    let target = idempotency_keys::table.find((user_id, key));
    let Some(row) = target.select(KeyRow::as_select()).first(&mut conn).await.optional()? else {
        // Released between the two statements: try once more.
        return Ok(if insert(&mut conn, user_id, key, hash).await? {
            Claim::Fresh
        } else {
            Claim::InProgress
        });
    };
    if row.created_at < Utc::now() - Duration::hours(TTL_HOURS) {
        // Expired (not pruned yet): the key is free again.
        diesel::delete(target).execute(&mut conn).await?;
        return Ok(if insert(&mut conn, user_id, key, hash).await? {
            Claim::Fresh
        } else {
            Claim::InProgress
        });
    }
    Ok(match (row.request_hash == hash, row.response) {
        (false, _) => Claim::Mismatch,
        (true, None) => Claim::InProgress,
        (true, Some(body)) => Claim::Replay(body),
    })
}

/// Stores the answer to replay.
async fn finish(db: &Db, user_id: Uuid, key: &str, body: &str) -> AppResult<()> {
    let mut conn = db.conn().await?;
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set(idempotency_keys::response.eq(body))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Frees the key (the request failed on our side; a retry should run).
async fn release(db: &Db, user_id: Uuid, key: &str) -> AppResult<()> {
    let mut conn = db.conn().await?;
    diesel::delete(idempotency_keys::table.find((user_id, key)))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Deletes keys older than the replay window.
pub async fn prune(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(Utc::now() - Duration::hours(TTL_HOURS))),
    )
    .execute(conn)
    .await
}

/// Why a request with a key did not run.
#[derive(Debug)]
pub enum Refused {
    /// Seen and answered: send this body again.
    Replay(String),
    /// Seen with other arguments.
    Mismatch,
    /// The first request with this key has not answered yet.
    InProgress,
    /// The key store failed.
    Failed(AppError),
}

/// A mutation's key, attached to its request (as `Arc<Pending>`) for [`Idempotency`] to
/// claim, and kept by the handler to settle once the answer is serialised.
pub struct Pending {
    user: Uuid,
    key: String,
    hash: Vec<u8>,
    state: Mutex<KeyState>,
}

/// Where a [`Pending`] key stands.
enum KeyState {
    /// Not claimed (yet, or ever: the request did not reach the extension).
    Unclaimed,
    /// Ours: the request runs, and the answer is to be settled.
    Claimed,
    /// Not free: the request did not run.
    Refused(Refused),
}

impl Pending {
    /// The key of `request` by `user`; the request's identity is its operation name,
    /// document and variables.
    pub fn new(user: Uuid, key: String, request: &async_graphql::Request) -> Arc<Self> {
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        let hash = request_hash(request.operation_name.as_deref(), &request.query, &variables);
        Arc::new(Self {
            user,
            key,
            hash,
            state: Mutex::new(KeyState::Unclaimed),
        })
    }

    /// Why the request did not run, if the key was not free (taken once).
    pub fn refusal(&self) -> Option<Refused> {
        let mut state = self.state.lock().ok()?;
        match std::mem::replace(&mut *state, KeyState::Unclaimed) {
            KeyState::Refused(refused) => Some(refused),
            other => {
                *state = other;
                None
            }
        }
    }

    /// After the answer: stores `body` for replay, or frees the key when nothing ran (a
    /// request error: the document failed validation), the request failed on our side (an
    /// `INTERNAL_ERROR`), or the answer could not be serialised (`body` is `None`). A key
    /// that was never claimed is left alone.
    pub async fn settle(&self, db: &Db, response: &async_graphql::Response, body: Option<&[u8]>) {
        let claimed = self.state.lock().is_ok_and(|state| matches!(*state, KeyState::Claimed));
        if !claimed {
            return;
        }
        let failed_here = response.errors.iter().any(|e| {
            e.extensions
                .as_ref()
                .and_then(|ext| ext.get("code"))
                .is_some_and(|code| *code == async_graphql::Value::from(Code::InternalError.as_str()))
        });
        let stored = match body {
            Some(body) if !failed_here && !is_request_error(response) => {
                finish(db, self.user, &self.key, &String::from_utf8_lossy(body)).await
            }
            _ => release(db, self.user, &self.key).await,
        };
        // The mutation ran; only the replay record is missing. Log it and answer.
        if let Err(AppError::Internal(cause)) = stored {
            tracing::error!(error = format!("{cause:#}"), "storing an idempotent answer");
        }
    }

    /// Claims the key, recording the outcome; `false` when the request must not run.
    async fn claim(&self, db: &Db) -> bool {
        let outcome = match claim(db, self.user, &self.key, &self.hash).await {
            Ok(Claim::Fresh) => KeyState::Claimed,
            Ok(Claim::Replay(body)) => KeyState::Refused(Refused::Replay(body)),
            Ok(Claim::Mismatch) => KeyState::Refused(Refused::Mismatch),
            Ok(Claim::InProgress) => KeyState::Refused(Refused::InProgress),
            Err(e) => KeyState::Refused(Refused::Failed(e)),
        };
        let fresh = matches!(outcome, KeyState::Claimed);
        if let Ok(mut state) = self.state.lock() {
            *state = outcome;
        }
        fresh
    }
}

/// The schema extension that claims a request's [`Pending`] key before the request is
/// parsed, and stops the request when the key is not free (the handler then answers with
/// [`Pending::refusal`]). Requests without a key pass untouched.
pub struct Idempotency;

impl ExtensionFactory for Idempotency {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(IdempotencyExtension)
    }
}

struct IdempotencyExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for IdempotencyExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: async_graphql::Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<async_graphql::Request> {
        let pending = request
            .data
            .get(&TypeId::of::<Arc<Pending>>())
            .and_then(|data| data.downcast_ref::<Arc<Pending>>())
            .cloned();
        if let Some(pending) = pending {
            let app = ctx.data::<AppState>().map_err(|e| ServerError::new(e.message, None))?;
            if !pending.claim(&app.db).await {
                return Err(ServerError::new("The Idempotency-Key is not free.", None));
            }
        }
        next.run(ctx, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let mut headers = HeaderMap::new();
        assert_eq!(key_from(&headers), Ok(None));
        headers.insert(HEADER, "abc-123".parse().unwrap());
        assert_eq!(key_from(&headers), Ok(Some("abc-123".into())));
        headers.insert(HEADER, "has space".parse().unwrap());
        assert!(key_from(&headers).is_err());
        headers.insert(HEADER, "x".repeat(256).parse().unwrap());
        assert!(key_from(&headers).is_err());
    }

    #[test]
    fn hashes_separate_their_parts() {
        assert_ne!(request_hash(Some("a"), "bc", "{}"), request_hash(Some("ab"), "c", "{}"));
        assert_eq!(request_hash(None, "q", "{}"), request_hash(Some(""), "q", "{}"));
    }
}
