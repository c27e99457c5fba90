//! Rows and queries of `vouches`.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{users, vouches};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = vouches, check_for_backend(diesel::pg::Pg))]
pub struct VouchRow {
    pub id: Uuid,
    pub voucher_id: Uuid,
    pub vouchee_id: Uuid,
    pub skill_area: String,
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How many vouches a user has in one skill area.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct SkillCount {
    pub vouchee_id: Uuid,
    pub skill_area: String,
    pub count: i64,
}

/// Inserts `row`, or when the voucher already vouched for the vouchee in that area, replaces
/// the message of the existing row. Returns the stored row; it is new when its id is `row.id`.
pub async fn upsert(conn: &mut AsyncPgConnection, row: &VouchRow) -> QueryResult<VouchRow> {
    diesel::insert_into(vouches::table)
        .values(row)
        .on_conflict((vouches::voucher_id, vouches::vouchee_id, vouches::skill_area))
        .do_update()
        .set((
            vouches::message.eq(excluded(vouches::message)),
            vouches::updated_at.eq(excluded(vouches::updated_at)),
        ))
        .returning(VouchRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<VouchRow>> {
    vouches::table
        .find(id)
        .select(VouchRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(vouches::table.find(id)).execute(conn).await
}

/// Vouches for `vouchee` by vouchers who are not banned, optionally in one skill area.
fn visible(vouchee: Uuid, skill_area: Option<&str>) -> vouches::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = vouches::table
        .filter(vouches::vouchee_id.eq(vouchee))
        .filter(vouches::voucher_id.eq_any(users::table.filter(users::banned_at.is_null()).select(users::id)))
        .into_boxed();
    if let Some(skill) = skill_area {
        query = query.filter(vouches::skill_area.eq(skill.to_owned()));
    }
    query
}

/// The statement of [`page`] (public so that tests can EXPLAIN it).
pub fn page_query(
    vouchee: Uuid,
    skill_area: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> vouches::BoxedQuery<'static, diesel::pg::Pg, diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<VouchRow, diesel::pg::Pg>>>
{
    let mut query = visible(vouchee, skill_area)
        .select(VouchRow::as_select())
        .order(vouches::id.desc())
        .limit(limit);
    if let Some(before) = before {
        query = query.filter(vouches::id.lt(before));
    }
    query
}

/// A page of a user's vouches, newest first, strictly older than `before` (an id).
pub async fn page(
    conn: &mut AsyncPgConnection,
    vouchee: Uuid,
    skill_area: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<VouchRow>> {
    page_query(vouchee, skill_area, before, limit).load(conn).await
}

pub async fn count(conn: &mut AsyncPgConnection, vouchee: Uuid, skill_area: Option<&str>) -> QueryResult<i64> {
    visible(vouchee, skill_area).count().get_result(conn).await
}

/// Per user and skill area, how many vouches (by vouchers who are not banned) each of
/// `vouchees` has; most vouched areas first, then by name.
pub async fn skill_counts(conn: &mut AsyncPgConnection, vouchees: &[Uuid]) -> QueryResult<Vec<SkillCount>> {
    let count = diesel::dsl::count_star();
    vouches::table
        .filter(vouches::vouchee_id.eq_any(vouchees))
        .filter(vouches::voucher_id.eq_any(users::table.filter(users::banned_at.is_null()).select(users::id)))
        .group_by((vouches::vouchee_id, vouches::skill_area))
        .select((vouches::vouchee_id, vouches::skill_area, count))
        .order((count.desc(), vouches::skill_area.asc()))
        .load(conn)
        .await
}
