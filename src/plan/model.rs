//! Rows and queries of plans.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::{plans, tasks, user_plans};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plans, check_for_backend(diesel::pg::Pg))]
pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub monthly_post_limit: Option<i32>,
    pub price_cents: i64,
    pub currency: String,
}

pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<PlanRow>> {
    plans::table
        .order(plans::price_cents)
        .select(PlanRow::as_select())
        .load(conn)
        .await
}

/// The user's plan (free when they have none on record).
pub async fn of_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<PlanRow> {
    let plan_id: Option<String> = user_plans::table
        .find(user_id)
        .select(user_plans::plan_id)
        .first(conn)
        .await
        .optional()?;
    plans::table
        .find(plan_id.unwrap_or_else(|| "free".into()))
        .select(PlanRow::as_select())
        .first(conn)
        .await
}

pub async fn set(conn: &mut AsyncPgConnection, user_id: Uuid, plan_id: &str) -> QueryResult<()> {
    diesel::insert_into(user_plans::table)
        .values((user_plans::user_id.eq(user_id), user_plans::plan_id.eq(plan_id)))
        .on_conflict(user_plans::user_id)
        .do_update()
        .set((
            user_plans::plan_id.eq(plan_id),
            user_plans::started_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Tasks the user published since the start of the current calendar month (UTC).
pub async fn posts_this_month(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<i64> {
    tasks::table
        .filter(tasks::poster_id.eq(user_id))
        .filter(tasks::published_at.ge(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >(
            "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        )))
        .count()
        .get_result(conn)
        .await
}
