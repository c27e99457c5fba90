//! Rows and queries of the calendar.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::schema::availability_dates;

/// Whether `day` of `user_id` is blocked or booked.
pub async fn day_taken(conn: &mut AsyncPgConnection, user_id: Uuid, day: NaiveDate) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(availability_dates::table.find((user_id, day))))
        .get_result(conn)
        .await
}

/// Blocks the days that are free (booked ones stay booked).
pub async fn block(conn: &mut AsyncPgConnection, user_id: Uuid, days: &[NaiveDate]) -> QueryResult<usize> {
    let rows: Vec<_> = days
        .iter()
        .map(|day| {
            (
                availability_dates::user_id.eq(user_id),
                availability_dates::day.eq(*day),
                availability_dates::status.eq("UNAVAILABLE"),
            )
        })
        .collect();
    diesel::insert_into(availability_dates::table)
        .values(rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

/// Frees blocked days.
pub async fn unblock(conn: &mut AsyncPgConnection, user_id: Uuid, days: &[NaiveDate]) -> QueryResult<usize> {
    diesel::delete(
        availability_dates::table
            .filter(availability_dates::user_id.eq(user_id))
            .filter(availability_dates::day.eq_any(days))
            .filter(availability_dates::status.eq("UNAVAILABLE")),
    )
    .execute(conn)
    .await
}

/// Booked days among `days`.
pub async fn booked_among(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    days: &[NaiveDate],
) -> QueryResult<Vec<NaiveDate>> {
    availability_dates::table
        .filter(availability_dates::user_id.eq(user_id))
        .filter(availability_dates::day.eq_any(days))
        .filter(availability_dates::status.eq("BOOKED"))
        .select(availability_dates::day)
        .order(availability_dates::day)
        .load(conn)
        .await
}

/// The rows of `from..=to`: (day, status).
pub async fn in_range(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, String)>> {
    availability_dates::table
        .filter(availability_dates::user_id.eq(user_id))
        .filter(availability_dates::day.between(from, to))
        .order(availability_dates::day)
        .select((availability_dates::day, availability_dates::status))
        .load(conn)
        .await
}
