//! `Idempotency-Key` for mutations: a retried request gets the first answer again instead of
//! running twice; the same key with other arguments is refused.
//!
//! Keys are scoped to the signed-in user and kept for a day. The key is claimed before the
//! mutation runs (a concurrent retry with the same key is told the first is still running);
//! the answer is stored after it. An answer carrying `INTERNAL_ERROR` is not stored, so the
//! client may retry. Money moves at most once regardless: each ledger movement has its own
//! unique key, written in the transaction of the change (see `crate::ledger`).

use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{db::schema::idempotency_keys, db::Db, error::AppResult};

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
pub enum Claim {
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
pub async fn claim(db: &Db, user_id: Uuid, key: &str, hash: &[u8]) -> AppResult<Claim> {
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
pub async fn finish(db: &Db, user_id: Uuid, key: &str, body: &str) -> AppResult<()> {
    let mut conn = db.conn().await?;
    diesel::update(idempotency_keys::table.find((user_id, key)))
        .set(idempotency_keys::response.eq(body))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Frees the key (the request failed on our side; a retry should run).
pub async fn release(db: &Db, user_id: Uuid, key: &str) -> AppResult<()> {
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
