//! Rows and queries of the account tables.

use chrono::{DateTime, Utc};
use diesel::{pg::Pg, prelude::*, sql_types::Bool};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    schema::{credentials, password_reset_tokens, refresh_tokens, sign_in_failures},
    text_enum::pg_enum,
};

pub async fn insert_credentials(conn: &mut AsyncPgConnection, user_id: Uuid, hash: &str) -> QueryResult<()> {
    diesel::insert_into(credentials::table)
        .values((credentials::user_id.eq(user_id), credentials::password_hash.eq(hash)))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn password_hash(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<String>> {
    credentials::table
        .find(user_id)
        .select(credentials::password_hash)
        .first(conn)
        .await
        .optional()
}

pub async fn set_password_hash(conn: &mut AsyncPgConnection, user_id: Uuid, hash: &str) -> QueryResult<()> {
    diesel::update(credentials::table.find(user_id))
        .set((
            credentials::password_hash.eq(hash),
            credentials::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::pg::Pg))]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub token_hash: &'a [u8],
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_refresh_token(conn: &mut AsyncPgConnection, new: &NewRefreshToken<'_>) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(new)
        .execute(conn)
        .await
        .map(drop)
}

/// The token with this digest, locked for the rest of the transaction.
pub async fn lock_refresh_token(conn: &mut AsyncPgConnection, hash: &[u8]) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn mark_refresh_token_used(conn: &mut AsyncPgConnection, id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// Which live refresh tokens [`revoke`] ends.
#[derive(Debug, Clone, Copy)]
pub enum Sessions {
    /// Every token descended from one sign-in.
    Family(Uuid),
    /// Every token of a user.
    User(Uuid),
}

/// Revokes the live tokens of `sessions`; returns how many.
pub async fn revoke(conn: &mut AsyncPgConnection, sessions: Sessions, now: DateTime<Utc>) -> QueryResult<usize> {
    let of: Box<dyn BoxableExpression<refresh_tokens::table, Pg, SqlType = Bool>> = match sessions {
        Sessions::Family(id) => Box::new(refresh_tokens::family_id.eq(id)),
        Sessions::User(id) => Box::new(refresh_tokens::user_id.eq(id)),
    };
    diesel::update(
        refresh_tokens::table
            .filter(of)
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .await
}

pub async fn insert_reset_token(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    hash: &[u8],
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(password_reset_tokens::table)
        .values((
            password_reset_tokens::id.eq(Uuid::now_v7()),
            password_reset_tokens::user_id.eq(user_id),
            password_reset_tokens::token_hash.eq(hash),
            password_reset_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Reset tokens issued to a user since `since` (used to cap reset mail).
pub async fn count_reset_tokens_since(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    password_reset_tokens::table
        .filter(password_reset_tokens::user_id.eq(user_id))
        .filter(password_reset_tokens::created_at.gt(since))
        .count()
        .get_result(conn)
        .await
}

/// Consumes a live reset token: marks it used and returns its user, all in one statement so
/// two concurrent resets cannot both succeed.
pub async fn consume_reset_token(
    conn: &mut AsyncPgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> QueryResult<Option<Uuid>> {
    diesel::update(
        password_reset_tokens::table
            .filter(password_reset_tokens::token_hash.eq(hash))
            .filter(password_reset_tokens::used_at.is_null())
            .filter(password_reset_tokens::expires_at.gt(now)),
    )
    .set(password_reset_tokens::used_at.eq(now))
    .returning(password_reset_tokens::user_id)
    .get_result(conn)
    .await
    .optional()
}

/// Voids every other outstanding reset token of a user.
pub async fn void_reset_tokens(conn: &mut AsyncPgConnection, user_id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(
        password_reset_tokens::table
            .filter(password_reset_tokens::user_id.eq(user_id))
            .filter(password_reset_tokens::used_at.is_null()),
    )
    .set(password_reset_tokens::used_at.eq(now))
    .execute(conn)
    .await
    .map(drop)
}

pg_enum! {
    /// Which counter a sign-in failure feeds (`sign_in_failures.scope`).
    pub enum FailureScope {
        /// Failures for one account (its email).
        Account = "account",
        /// Failures from one client address.
        Address = "address",
    }
}

pub async fn record_failure(conn: &mut AsyncPgConnection, scope: FailureScope, subject: &str) -> QueryResult<()> {
    diesel::insert_into(sign_in_failures::table)
        .values((sign_in_failures::scope.eq(scope), sign_in_failures::subject.eq(subject)))
        .execute(conn)
        .await
        .map(drop)
}

/// Failures of `subject` since `since` and the oldest of them (to say when to retry).
pub async fn failures_since(
    conn: &mut AsyncPgConnection,
    scope: FailureScope,
    subject: &str,
    since: DateTime<Utc>,
) -> QueryResult<(i64, Option<DateTime<Utc>>)> {
    sign_in_failures::table
        .filter(sign_in_failures::scope.eq(scope))
        .filter(sign_in_failures::subject.eq(subject))
        .filter(sign_in_failures::created_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(sign_in_failures::created_at),
        ))
        .first(conn)
        .await
}

pub async fn clear_failures(conn: &mut AsyncPgConnection, scope: FailureScope, subject: &str) -> QueryResult<()> {
    diesel::delete(
        sign_in_failures::table
            .filter(sign_in_failures::scope.eq(scope))
            .filter(sign_in_failures::subject.eq(subject)),
    )
    .execute(conn)
    .await
    .map(drop)
}

/// Deletes refresh tokens that no longer protect anything: expired ones, and revoked ones a
/// day after revocation. A used (rotated) token is kept until it expires, so that replaying
/// it is still recognised as reuse and revokes its family.
pub async fn prune_refresh_tokens(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let day_ago = now - chrono::Duration::days(1);
    diesel::delete(
        refresh_tokens::table.filter(
            refresh_tokens::expires_at
                .lt(now)
                .or(refresh_tokens::revoked_at.lt(day_ago)),
        ),
    )
    .execute(conn)
    .await
}

/// Deletes password reset tokens a day past their expiry (well after the hour over which
/// `count_reset_tokens_since` limits reset mails).
pub async fn prune_reset_tokens(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    let day_ago = now - chrono::Duration::days(1);
    diesel::delete(password_reset_tokens::table.filter(password_reset_tokens::expires_at.lt(day_ago)))
        .execute(conn)
        .await
}

/// Deletes sign-in failures older than `before` (the throttle window).
pub async fn prune_sign_in_failures(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(sign_in_failures::table.filter(sign_in_failures::created_at.lt(before)))
        .execute(conn)
        .await
}
