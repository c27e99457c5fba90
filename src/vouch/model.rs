//! Rows and queries of `vouches`.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, upsert::excluded};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    by_id,
    schema::{users, vouches},
};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
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

by_id!(VouchRow, vouches, find: find);

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(vouches::table.find(id)).execute(conn).await
}

/// One page of vouches for each of `$1` (vouchee ids), newest first: by vouchers who are not
/// banned, in skill area `$2` when given, older than `$3` (an id) when given, at most `$4` per
/// vouchee. Each vouchee's page walks `vouches_vouchee_idx` on its own (a lateral join).
pub const PAGES_SQL: &str =
    "SELECT p.id, p.voucher_id, p.vouchee_id, p.skill_area, p.message, p.created_at, p.updated_at \
     FROM unnest($1::uuid[]) AS k (vouchee_id) \
     CROSS JOIN LATERAL ( \
         SELECT v.* FROM vouches v \
         WHERE v.vouchee_id = k.vouchee_id \
           AND ($2::text IS NULL OR v.skill_area = $2) \
           AND ($3::uuid IS NULL OR v.id < $3) \
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = v.voucher_id AND u.banned_at IS NOT NULL) \
         ORDER BY v.id DESC \
         LIMIT $4 \
     ) p \
     ORDER BY p.vouchee_id, p.id DESC";

/// A page of vouches for each of `vouchees` (see [`PAGES_SQL`]), grouped by vouchee in
/// newest-first order.
pub async fn pages(
    conn: &mut AsyncPgConnection,
    vouchees: &[Uuid],
    skill_area: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> QueryResult<Vec<VouchRow>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    diesel::sql_query(PAGES_SQL)
        .bind::<Array<diesel::sql_types::Uuid>, _>(vouchees)
        .bind::<Nullable<Text>, _>(skill_area)
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(before)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
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
