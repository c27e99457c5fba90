//! Revoked sessions: sign-ins (refresh-token families) whose access tokens are refused
//! before they expire. An access token names its family (the `sid` claim); when a refresh
//! token of the family is reused, the family is written to `revoked_sessions` in the same
//! transaction that revokes its refresh tokens, and a `SESSION_REVOKED` event on the sessions
//! topic closes its live WebSocket connections on every instance (4403).
//!
//! Each instance keeps the set in memory ([`RevokedSessions`]): the instance that revokes
//! adds the family at once, and every instance reloads the set from the table when its copy
//! is older than [`RELOAD_AFTER`], so a revocation on another instance bites there within
//! that. The set is small: a family matters only while its access tokens live
//! ([`jwt::ACCESS_TOKEN_TTL`]), and older rows are pruned whenever one is written.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use tokio::time::Instant;
use uuid::Uuid;

use super::jwt;
use crate::{db::schema::revoked_sessions, db::Db, error::AppResult};

/// How stale an instance's copy of the set may be before a request reloads it.
pub const RELOAD_AFTER: Duration = Duration::from_secs(1);

/// How long a revoked family is kept: past this, every access token issued to it has expired.
fn kept() -> chrono::Duration {
    jwt::ACCESS_TOKEN_TTL + chrono::Duration::minutes(1)
}

/// Records that `family`'s access tokens are refused from `now`, in the caller's transaction,
/// and prunes families whose tokens have all expired.
pub async fn record(conn: &mut AsyncPgConnection, family: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::delete(revoked_sessions::table.filter(revoked_sessions::revoked_at.lt(now - kept())))
        .execute(conn)
        .await?;
    diesel::insert_into(revoked_sessions::table)
        .values((
            revoked_sessions::family_id.eq(family),
            revoked_sessions::revoked_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

/// One instance's copy of the revoked families.
#[derive(Default)]
pub struct RevokedSessions {
    copy: Mutex<Snapshot>,
    /// Held while reloading, so that one request reloads and the others wait for it.
    reloading: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Snapshot {
    families: HashMap<Uuid, DateTime<Utc>>,
    loaded: Option<Instant>,
}

impl Snapshot {
    fn fresh(&self) -> bool {
        self.loaded.is_some_and(|at| at.elapsed() < RELOAD_AFTER)
    }
}

impl RevokedSessions {
    /// Adds `family` to this instance's copy (after the transaction that recorded it).
    pub fn insert(&self, family: Uuid, at: DateTime<Utc>) {
        self.lock().families.insert(family, at);
    }

    /// Whether `family`'s access tokens are refused, reloading the copy when it is stale.
    pub async fn contains(&self, db: &Db, family: Uuid) -> AppResult<bool> {
        if let Some(found) = self.lookup(family) {
            return Ok(found);
        }
        let _reloading = self.reloading.lock().await;
        // Another request may have reloaded while this one waited.
        if let Some(found) = self.lookup(family) {
            return Ok(found);
        }
        let since = Utc::now() - kept();
        let mut conn = db.conn().await?;
        let rows: Vec<(Uuid, DateTime<Utc>)> = revoked_sessions::table
            .filter(revoked_sessions::revoked_at.ge(since))
            .select((revoked_sessions::family_id, revoked_sessions::revoked_at))
            .load(&mut conn)
            .await?;
        let mut copy = self.lock();
        // Keep what this instance added meanwhile (its rows may not be visible to the query).
        copy.families.retain(|_, at| *at >= since);
        copy.families.extend(rows);
        copy.loaded = Some(Instant::now());
        Ok(copy.families.contains_key(&family))
    }

    /// The answer from the copy: a family in it is revoked however old the copy; one not in
    /// it is not, if the copy is fresh (`None` when it is stale).
    fn lookup(&self, family: Uuid) -> Option<bool> {
        let copy = self.lock();
        if copy.families.contains_key(&family) {
            Some(true)
        } else {
            copy.fresh().then_some(false)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Snapshot> {
        self.copy.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
