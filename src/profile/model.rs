//! Rows and queries of the `users` table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    by_id,
    schema::{saved_freelancers, users},
    text_enum::pg_enum,
};

pg_enum! {
    /// Where a user stands with identity verification (`submitVerification`, reviewed by an
    /// admin). Verified members rank higher in `freelancers` and may pay a lower commission.
    // A verification request is PENDING, VERIFIED or REJECTED, never NONE.
    #[derive(async_graphql::Enum)]
    pub enum VerificationStatus {
        /// Never submitted documents.
        None = "NONE",
        /// Documents submitted, waiting for an admin's review; no new submission until decided.
        Pending = "PENDING",
        /// An admin approved the documents.
        Verified = "VERIFIED",
        /// An admin rejected the documents (the request's `reviewNote` says why); the member may
        /// submit again.
        Rejected = "REJECTED",
    }
}

/// A user as stored.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, serde::Serialize, serde::Deserialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub headline: Option<String>,
    pub skills: Vec<String>,
    pub ai_tools: Vec<String>,
    pub languages: Vec<String>,
    pub hourly_rate_cents: Option<i64>,
    pub currency: String,
    pub portfolio_urls: Vec<String>,
    pub location_text: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub timezone: Option<String>,
    pub travel_radius_km: Option<i32>,
    pub is_available: bool,
    pub verification_status: VerificationStatus,
    pub commission_bps: i32,
    pub is_admin: bool,
    pub banned_at: Option<DateTime<Utc>>,
    pub ban_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserRow {
    pub fn is_banned(&self) -> bool {
        self.banned_at.is_some()
    }
}

/// A new user.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub username: &'a str,
    pub full_name: &'a str,
    pub is_admin: bool,
}

/// A partial update; `Some(None)` sets a nullable column to NULL.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserPatch {
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub headline: Option<Option<String>>,
    pub skills: Option<Vec<String>>,
    pub ai_tools: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub hourly_rate_cents: Option<Option<i64>>,
    pub currency: Option<String>,
    pub portfolio_urls: Option<Vec<String>>,
    pub location_text: Option<Option<String>>,
    pub latitude: Option<Option<f64>>,
    pub longitude: Option<Option<f64>>,
    /// Geohash of (latitude, longitude), kept with them for nearby lookups.
    pub geohash: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub travel_radius_km: Option<Option<i32>>,
    pub is_available: Option<bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewUser<'_>) -> QueryResult<UserRow> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

by_id!(UserRow, users, find: find, lock: lock, many: find_many);

/// Sets a user's verification status.
pub async fn set_verification_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: VerificationStatus,
) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id))
        .set((users::verification_status.eq(status), users::updated_at.eq(Utc::now())))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

/// Ids of the admins who are not banned.
pub async fn admin_ids(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Uuid>> {
    users::table
        .filter(users::is_admin.eq(true))
        .filter(users::banned_at.is_null())
        .select(users::id)
        .load(conn)
        .await
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// By email, ignoring case (uses the `lower(email)` unique index).
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// By username, ignoring case (uses the `lower(username)` unique index).
pub async fn find_by_username(conn: &mut AsyncPgConnection, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(lower(users::username).eq(username.to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, patch: &UserPatch) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id))
        .set(patch)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn set_admin(conn: &mut AsyncPgConnection, id: Uuid, is_admin: bool) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::is_admin.eq(is_admin))
        .execute(conn)
        .await
        .map(drop)
}

/// Usernames starting with `prefix` (seeding tools top up what exists).
pub async fn usernames_with_prefix(conn: &mut AsyncPgConnection, prefix: &str) -> QueryResult<Vec<String>> {
    let pattern = format!(
        "{}%",
        prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
    );
    users::table
        .filter(users::username.like(pattern))
        .select(users::username)
        .load(conn)
        .await
}

pub async fn save_freelancer(conn: &mut AsyncPgConnection, user_id: Uuid, freelancer_id: Uuid) -> QueryResult<()> {
    diesel::insert_into(saved_freelancers::table)
        .values((
            saved_freelancers::user_id.eq(user_id),
            saved_freelancers::freelancer_id.eq(freelancer_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn unsave_freelancer(conn: &mut AsyncPgConnection, user_id: Uuid, freelancer_id: Uuid) -> QueryResult<()> {
    diesel::delete(saved_freelancers::table.find((user_id, freelancer_id)))
        .execute(conn)
        .await
        .map(drop)
}

/// A page of the freelancers a user saved, newest save first; `after` is the previous page's
/// last (save time, freelancer).
pub async fn saved_freelancers_page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<(DateTime<Utc>, UserRow)>> {
    let mut query = saved_freelancers::table
        .inner_join(users::table.on(users::id.eq(saved_freelancers::freelancer_id)))
        .filter(saved_freelancers::user_id.eq(user_id))
        .filter(users::banned_at.is_null())
        .order((
            saved_freelancers::created_at.desc(),
            saved_freelancers::freelancer_id.desc(),
        ))
        .limit(limit)
        .select((saved_freelancers::created_at, UserRow::as_select()))
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            saved_freelancers::created_at.lt(at).or(saved_freelancers::created_at
                .eq(at)
                .and(saved_freelancers::freelancer_id.lt(id))),
        );
    }
    query.load(conn).await
}

pub async fn saved_freelancers_count(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<i64> {
    saved_freelancers::table
        .inner_join(users::table.on(users::id.eq(saved_freelancers::freelancer_id)))
        .filter(saved_freelancers::user_id.eq(user_id))
        .filter(users::banned_at.is_null())
        .count()
        .get_result(conn)
        .await
}

/// Users with coordinates but no geohash (rows older than the column): (id, lat, lng).
pub async fn unhashed_locations(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<(Uuid, f64, f64)>> {
    users::table
        .filter(users::geohash.is_null())
        .filter(users::latitude.is_not_null())
        .select((
            users::id,
            users::latitude.assume_not_null(),
            users::longitude.assume_not_null(),
        ))
        .limit(limit)
        .load(conn)
        .await
}

pub async fn set_geohash(conn: &mut AsyncPgConnection, id: Uuid, geohash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::geohash.eq(geohash))
        .execute(conn)
        .await
        .map(drop)
}

/// Bans (`Some(reason)`) or unbans (`None`) a user; answers the row as it now is.
pub async fn set_ban(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    ban: Option<(&str, DateTime<Utc>)>,
) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id))
        .set((
            users::banned_at.eq(ban.map(|(_, at)| at)),
            users::ban_reason.eq(ban.map(|(reason, _)| reason)),
            users::updated_at.eq(Utc::now()),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

/// What the admins' member list can be narrowed to; every condition given must hold.
#[derive(Debug, Default, Clone)]
pub struct MemberFilter {
    /// Part of the email, username or full name (any case).
    pub search: Option<String>,
    pub admin: Option<bool>,
    pub banned: Option<bool>,
    pub verification_status: Option<VerificationStatus>,
}

fn members(filter: &MemberFilter) -> users::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = users::table.into_boxed();
    if let Some(search) = &filter.search {
        let escaped = search.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        query = query.filter(
            users::email
                .ilike(pattern.clone())
                .or(users::username.ilike(pattern.clone()))
                .or(users::full_name.ilike(pattern)),
        );
    }
    if let Some(admin) = filter.admin {
        query = query.filter(users::is_admin.eq(admin));
    }
    match filter.banned {
        Some(true) => query = query.filter(users::banned_at.is_not_null()),
        Some(false) => query = query.filter(users::banned_at.is_null()),
        None => {}
    }
    if let Some(status) = filter.verification_status {
        query = query.filter(users::verification_status.eq(status));
    }
    query
}

/// A page of members for admins, newest first.
pub async fn members_page(
    conn: &mut AsyncPgConnection,
    filter: &MemberFilter,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut query = members(filter)
        .order(users::id.desc())
        .limit(limit)
        .select(UserRow::as_select());
    if let Some(before) = before {
        query = query.filter(users::id.lt(before));
    }
    query.load(conn).await
}

/// How many members match `filter`.
pub async fn members_count(conn: &mut AsyncPgConnection, filter: &MemberFilter) -> QueryResult<i64> {
    members(filter).count().get_result(conn).await
}
