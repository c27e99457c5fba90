//! Rows and queries of the calendar.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{schema::availability_dates, text_enum::pg_enum};

pg_enum! {
    /// How a day of a freelancer's calendar stands. Days are free unless marked.
    #[derive(async_graphql::Enum)]
    pub enum AvailabilityStatus {
        /// Free to book.
        Available = "AVAILABLE",
        /// Blocked by the freelancer.
        Unavailable = "UNAVAILABLE",
        /// Booked by an order.
        Booked = "BOOKED",
    }
}

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
                availability_dates::status.eq(AvailabilityStatus::Unavailable),
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
            .filter(availability_dates::status.eq(AvailabilityStatus::Unavailable)),
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
        .filter(availability_dates::status.eq(AvailabilityStatus::Booked))
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
) -> QueryResult<Vec<(NaiveDate, AvailabilityStatus)>> {
    availability_dates::table
        .filter(availability_dates::user_id.eq(user_id))
        .filter(availability_dates::day.between(from, to))
        .order(availability_dates::day)
        .select((availability_dates::day, availability_dates::status))
        .load(conn)
        .await
}

/// Books `day` of `user_id` for `order_id` (the order domain calls this in the order's
/// transaction); false when the day is taken or blocked.
pub async fn book_day(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    day: NaiveDate,
    order_id: Uuid,
) -> QueryResult<bool> {
    let inserted = diesel::insert_into(availability_dates::table)
        .values((
            availability_dates::user_id.eq(user_id),
            availability_dates::day.eq(day),
            availability_dates::status.eq(AvailabilityStatus::Booked),
            availability_dates::order_id.eq(order_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Frees the day an order had booked.
pub async fn free_days_of(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<usize> {
    diesel::delete(availability_dates::table.filter(availability_dates::order_id.eq(order_id)))
        .execute(conn)
        .await
}

/// The booked days of `user_ids` between `from` and `to` (inclusive): (member, day, the
/// order that booked it). The call domain reads these to keep calls off booked days.
pub async fn booked_between(
    conn: &mut AsyncPgConnection,
    user_ids: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<(Uuid, NaiveDate, Option<Uuid>)>> {
    availability_dates::table
        .filter(availability_dates::user_id.eq_any(user_ids))
        .filter(availability_dates::day.between(from, to))
        .filter(availability_dates::status.eq(AvailabilityStatus::Booked))
        .select((
            availability_dates::user_id,
            availability_dates::day,
            availability_dates::order_id,
        ))
        .order((availability_dates::user_id, availability_dates::day))
        .load(conn)
        .await
}
