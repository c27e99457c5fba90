//! Rows and queries of `stripe_events` and `payout_accounts`.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    schema::{payout_accounts, stripe_events},
    text_enum::pg_enum,
};

pg_enum! {
    /// What processing a Stripe event did.
    pub enum Outcome {
        /// It changed our state.
        Applied = "APPLIED",
        /// It describes an older state than the one we hold (out-of-order delivery).
        Stale = "STALE",
        /// It is about nothing of ours.
        Unmatched = "UNMATCHED",
        /// No handler takes its type: acknowledged and kept for the record.
        Ignored = "IGNORED",
    }
}

/// An accepted Stripe event, as first recorded.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = stripe_events, check_for_backend(diesel::pg::Pg))]
pub struct NewStripeEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub livemode: bool,
    pub created: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// Records `event` unless it is already there (the first statement of the transaction that
/// applies it): `true` when this transaction owns its processing. A concurrent delivery of
/// the same id waits here for the first transaction and then gets `false`.
pub async fn record_event_once(conn: &mut AsyncPgConnection, event: &NewStripeEvent<'_>) -> QueryResult<bool> {
    diesel::insert_into(stripe_events::table)
        .values(event)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

/// Stamps what processing did.
pub async fn finish_event(
    conn: &mut AsyncPgConnection,
    id: &str,
    outcome: Outcome,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(stripe_events::table.find(id))
        .set((stripe_events::outcome.eq(outcome), stripe_events::processed_at.eq(at)))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes processed events received before `before`. Stripe redelivers an event for at
/// most three days, so an id this old can no longer come back; unprocessed rows (none are
/// left by a committed delivery) are kept for inspection.
pub async fn prune_events(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        stripe_events::table
            .filter(stripe_events::received_at.lt(before))
            .filter(stripe_events::processed_at.is_not_null()),
    )
    .execute(conn)
    .await
}

/// A freelancer's Connect account and Stripe's flags on it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = payout_accounts, check_for_backend(diesel::pg::Pg))]
pub struct PayoutAccountRow {
    pub user_id: Uuid,
    pub stripe_account_id: String,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    /// Stripe's `created` time of the newest `account.updated` applied; `None`: as created.
    pub state_as_of: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The user's payout account.
pub async fn of_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<PayoutAccountRow>> {
    payout_accounts::table
        .find(user_id)
        .select(PayoutAccountRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Inserts `row` unless the user (or the Stripe account) already has one; answers the row
/// that is there afterwards.
pub async fn insert_or_get(conn: &mut AsyncPgConnection, row: &PayoutAccountRow) -> QueryResult<PayoutAccountRow> {
    diesel::insert_into(payout_accounts::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    payout_accounts::table
        .find(row.user_id)
        .select(PayoutAccountRow::as_select())
        .first(conn)
        .await
}

/// Links `stripe_account_id` to `user_id` if that user exists and has no payout account yet
/// (an `account.updated` that overtook the answer to our own create call). Answers whether
/// a row went in.
pub async fn adopt(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    stripe_account_id: &str,
    at: DateTime<Utc>,
) -> QueryResult<bool> {
    diesel::sql_query(
        "INSERT INTO payout_accounts (user_id, stripe_account_id, created_at, updated_at) \
         SELECT id, $2, $3, $3 FROM users WHERE id = $1 \
         ON CONFLICT DO NOTHING",
    )
    .bind::<sql_types::Uuid, _>(user_id)
    .bind::<sql_types::Text, _>(stripe_account_id)
    .bind::<sql_types::Timestamptz, _>(at)
    .execute(conn)
    .await
    .map(|n| n == 1)
}

/// The payout account of a Stripe account, locked until the transaction ends.
pub async fn lock_by_stripe_id(
    conn: &mut AsyncPgConnection,
    stripe_account_id: &str,
) -> QueryResult<Option<PayoutAccountRow>> {
    payout_accounts::table
        .filter(payout_accounts::stripe_account_id.eq(stripe_account_id))
        .select(PayoutAccountRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Stripe's flags on an account at a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
    pub as_of: DateTime<Utc>,
}

/// Writes `state` on the user's payout account.
pub async fn set_state(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    state: AccountState,
    at: DateTime<Utc>,
) -> QueryResult<PayoutAccountRow> {
    diesel::update(payout_accounts::table.find(user_id))
        .set((
            payout_accounts::charges_enabled.eq(state.charges_enabled),
            payout_accounts::payouts_enabled.eq(state.payouts_enabled),
            payout_accounts::details_submitted.eq(state.details_submitted),
            payout_accounts::state_as_of.eq(state.as_of),
            payout_accounts::updated_at.eq(at),
        ))
        .returning(PayoutAccountRow::as_returning())
        .get_result(conn)
        .await
}
