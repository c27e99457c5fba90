//! Rows and queries of `provider_calls`: the outbox of calls to the payment provider.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{schema::provider_calls, text_enum::pg_enum};

pg_enum! {
    /// What a provider call does.
    pub enum CallKind {
        /// A Stripe Transfer of released earnings to the payee's connected account.
        Transfer = "TRANSFER",
        /// A Stripe Refund of (part of) a card payment.
        Refund = "REFUND",
    }
}

pg_enum! {
    /// Where a provider call stands.
    pub enum CallStatus {
        /// Not made yet, or to be retried at `next_attempt_at`.
        Pending = "PENDING",
        /// Stripe did it (`provider_object_id`).
        Succeeded = "SUCCEEDED",
        /// Stripe refused it to the end; the amount went back to the user's balance.
        Failed = "FAILED",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_calls, check_for_backend(diesel::pg::Pg))]
pub struct CallRow {
    pub id: Uuid,
    pub kind: CallKind,
    pub idempotency_key: String,
    pub order_id: Option<Uuid>,
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub target: String,
    pub status: CallStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub provider_object_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Inserts `row` unless its idempotency key is taken; true when inserted.
pub async fn insert(conn: &mut AsyncPgConnection, row: &CallRow) -> QueryResult<bool> {
    diesel::insert_into(provider_calls::table)
        .values(row)
        .on_conflict(provider_calls::idempotency_key)
        .do_nothing()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

/// Claims up to `limit` pending calls due at `now`, oldest first, skipping rows another
/// worker holds: each claimed row's attempt is counted and its next attempt pushed to
/// `lease_until`, so that a worker that dies mid-call gives the row back by itself.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<CallRow>> {
    conn.transaction(async |conn| {
        let due: Vec<Uuid> = provider_calls::table
            .filter(provider_calls::status.eq(CallStatus::Pending))
            .filter(provider_calls::next_attempt_at.le(now))
            .order(provider_calls::next_attempt_at)
            .limit(limit)
            .select(provider_calls::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(provider_calls::table)
            .filter(provider_calls::id.eq_any(due))
            .set((
                provider_calls::attempts.eq(provider_calls::attempts + 1),
                provider_calls::next_attempt_at.eq(lease_until),
            ))
            .returning(CallRow::as_returning())
            .get_results(conn)
            .await
    })
    .await
}

/// The call `id`, locked, if it is still pending.
pub async fn lock_pending(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<CallRow>> {
    provider_calls::table
        .find(id)
        .filter(provider_calls::status.eq(CallStatus::Pending))
        .select(CallRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Marks the call done by Stripe, as `object_id`.
pub async fn succeed(conn: &mut AsyncPgConnection, id: Uuid, object_id: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(provider_calls::table.find(id))
        .set((
            provider_calls::status.eq(CallStatus::Succeeded),
            provider_calls::provider_object_id.eq(object_id),
            provider_calls::completed_at.eq(now),
            provider_calls::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Records a failed attempt and when to try again.
pub async fn retry_at(conn: &mut AsyncPgConnection, id: Uuid, error: &str, at: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(provider_calls::table.find(id))
        .filter(provider_calls::status.eq(CallStatus::Pending))
        .set((
            provider_calls::last_error.eq(error),
            provider_calls::next_attempt_at.eq(at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Gives the call up.
pub async fn fail(conn: &mut AsyncPgConnection, id: Uuid, error: &str, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(provider_calls::table.find(id))
        .set((
            provider_calls::status.eq(CallStatus::Failed),
            provider_calls::last_error.eq(error),
            provider_calls::completed_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The calls made for an order, oldest first.
pub async fn of_order(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<Vec<CallRow>> {
    provider_calls::table
        .filter(provider_calls::order_id.eq(order_id))
        .order(provider_calls::created_at)
        .select(CallRow::as_select())
        .load(conn)
        .await
}
