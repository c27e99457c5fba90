//! Rows and queries of `reviews` and `user_ratings`, and the gig rating columns.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    by_id,
    fixed::Statement,
    schema::{gigs, reviews, user_ratings},
    text_enum::pg_enum,
};

pg_enum! {
    /// The side of an order a reviewed member was on.
    #[derive(async_graphql::Enum)]
    pub enum ReviewRole {
        /// Reviewed by a client, for work they did.
        AsFreelancer = "FREELANCER",
        /// Reviewed by a freelancer they hired.
        AsClient = "CLIENT",
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
pub struct ReviewRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub gig_id: Option<Uuid>,
    pub reviewer_id: Uuid,
    pub reviewee_id: Uuid,
    pub reviewee_role: ReviewRole,
    pub rating: i16,
    pub quality: i16,
    pub communication: i16,
    pub timeliness: i16,
    pub comment: String,
    pub comment_original: Option<String>,
    pub reply: Option<String>,
    pub replied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub window_closes_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// When an admin removed it (then it is public to nobody and counts in no aggregate).
    pub removed_at: Option<DateTime<Utc>>,
    pub removed_by: Option<Uuid>,
    pub removal_reason: Option<String>,
}

/// A member's aggregate of public reviews received on one side of their orders.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_ratings, check_for_backend(diesel::pg::Pg))]
pub struct RatingRow {
    pub user_id: Uuid,
    pub role: ReviewRole,
    pub count: i32,
    pub rating_sum: i64,
    pub quality_sum: i64,
    pub communication_sum: i64,
    pub timeliness_sum: i64,
}

pub async fn insert(conn: &mut AsyncPgConnection, row: &ReviewRow) -> QueryResult<()> {
    diesel::insert_into(reviews::table)
        .values(row)
        .execute(conn)
        .await
        .map(drop)
}

by_id!(ReviewRow, reviews, lock: lock);

/// The reviews of these orders, oldest first.
pub async fn of_orders(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<ReviewRow>> {
    reviews::table
        .filter(reviews::order_id.eq_any(order_ids))
        .select(ReviewRow::as_select())
        .order((reviews::order_id, reviews::id))
        .load(conn)
        .await
}

/// Marks the hidden ones of `ids` public at `at`; returns the rows it published.
pub async fn publish(conn: &mut AsyncPgConnection, ids: &[Uuid], at: DateTime<Utc>) -> QueryResult<Vec<ReviewRow>> {
    diesel::update(
        reviews::table
            .filter(reviews::id.eq_any(ids))
            .filter(reviews::published_at.is_null())
            .filter(reviews::removed_at.is_null()),
    )
    .set(reviews::published_at.eq(at))
    .returning(ReviewRow::as_returning())
    .get_results(conn)
    .await
}

/// Who has reviewed in each of `order_ids`: (order, reviewer).
pub async fn reviewers_of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<(Uuid, Uuid)>> {
    reviews::table
        .filter(reviews::order_id.eq_any(order_ids))
        .select((reviews::order_id, reviews::reviewer_id))
        .load(conn)
        .await
}

/// Hidden reviews whose window closed by `now`, at most `limit`, locked (skipping rows
/// another instance holds); removed ones never.
pub async fn lock_due(conn: &mut AsyncPgConnection, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<ReviewRow>> {
    reviews::table
        .filter(reviews::published_at.is_null())
        .filter(reviews::removed_at.is_null())
        .filter(reviews::window_closes_at.le(now))
        .select(ReviewRow::as_select())
        .order(reviews::window_closes_at)
        .limit(limit)
        .for_update()
        .skip_locked()
        .load(conn)
        .await
}

pub async fn set_reply(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reply: &str,
    at: DateTime<Utc>,
) -> QueryResult<ReviewRow> {
    diesel::update(reviews::table.find(id))
        .set((reviews::reply.eq(reply), reviews::replied_at.eq(at)))
        .returning(ReviewRow::as_returning())
        .get_result(conn)
        .await
}

/// Adds a published review to its reviewee's aggregate for their side of the order
/// (`delta` 1), or takes a removed one out of it (`delta` -1).
pub async fn add_to_user_rating(conn: &mut AsyncPgConnection, review: &ReviewRow, delta: i32) -> QueryResult<()> {
    use diesel::upsert::excluded;
    let (r, q, c, t) = sums(review);
    let d = i64::from(delta);
    if delta < 0 {
        // A removal: the row exists (the review was counted in it); the insert arm of an
        // upsert would trip the table's CHECK (count >= 0) before the conflict is seen.
        return diesel::update(user_ratings::table.find((review.reviewee_id, review.reviewee_role)))
            .set((
                user_ratings::count.eq(user_ratings::count + delta),
                user_ratings::rating_sum.eq(user_ratings::rating_sum + r * d),
                user_ratings::quality_sum.eq(user_ratings::quality_sum + q * d),
                user_ratings::communication_sum.eq(user_ratings::communication_sum + c * d),
                user_ratings::timeliness_sum.eq(user_ratings::timeliness_sum + t * d),
            ))
            .execute(conn)
            .await
            .map(drop);
    }
    diesel::insert_into(user_ratings::table)
        .values((
            user_ratings::user_id.eq(review.reviewee_id),
            user_ratings::role.eq(review.reviewee_role),
            user_ratings::count.eq(delta),
            user_ratings::rating_sum.eq(r * d),
            user_ratings::quality_sum.eq(q * d),
            user_ratings::communication_sum.eq(c * d),
            user_ratings::timeliness_sum.eq(t * d),
        ))
        .on_conflict((user_ratings::user_id, user_ratings::role))
        .do_update()
        .set((
            user_ratings::count.eq(user_ratings::count + excluded(user_ratings::count)),
            user_ratings::rating_sum.eq(user_ratings::rating_sum + excluded(user_ratings::rating_sum)),
            user_ratings::quality_sum.eq(user_ratings::quality_sum + excluded(user_ratings::quality_sum)),
            user_ratings::communication_sum
                .eq(user_ratings::communication_sum + excluded(user_ratings::communication_sum)),
            user_ratings::timeliness_sum.eq(user_ratings::timeliness_sum + excluded(user_ratings::timeliness_sum)),
        ))
        .execute(conn)
        .await
        .map(drop)
}

fn sums(review: &ReviewRow) -> (i64, i64, i64, i64) {
    (
        review.rating.into(),
        review.quality.into(),
        review.communication.into(),
        review.timeliness.into(),
    )
}

/// Adds a published rating to a gig (`delta` 1), or takes a removed one out (`delta` -1):
/// exact sum and count, and the average they give (read by `gigs(filter: {minRating})` and
/// the RATING sort; `NULL` when no rating is left).
pub async fn add_to_gig_rating(conn: &mut AsyncPgConnection, gig_id: Uuid, rating: i16, delta: i32) -> QueryResult<()> {
    use diesel::dsl::sql;
    use diesel::sql_types::{BigInt, Double, Integer};
    let signed = i64::from(rating) * i64::from(delta);
    diesel::update(gigs::table.find(gig_id))
        .set((
            gigs::rating_sum.eq(gigs::rating_sum + signed),
            gigs::rating_count.eq(gigs::rating_count + delta),
            // The right-hand sides read the row as it was, so this is (sum ± r) / (count ± 1).
            gigs::rating_average.eq(sql::<Double>("(gigs.rating_sum + ")
                .bind::<BigInt, _>(signed)
                .sql(")::float8 / NULLIF(gigs.rating_count + ")
                .bind::<Integer, _>(delta)
                .sql(", 0)")
                .nullable()),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The reviews `reviewer_id` wrote that are not removed, locked for a removal.
pub async fn lock_by_reviewer(conn: &mut AsyncPgConnection, reviewer_id: Uuid) -> QueryResult<Vec<ReviewRow>> {
    reviews::table
        .filter(reviews::reviewer_id.eq(reviewer_id))
        .filter(reviews::removed_at.is_null())
        .select(ReviewRow::as_select())
        .order(reviews::id)
        .for_update()
        .load(conn)
        .await
}

/// Removes `id` for `reason` by `admin` at `at`: public to nobody from now on.
pub async fn remove(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    admin: Uuid,
    reason: &str,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(reviews::table.find(id))
        .set((
            reviews::published_at.eq(None::<DateTime<Utc>>),
            reviews::removed_at.eq(at),
            reviews::removed_by.eq(admin),
            reviews::removal_reason.eq(reason),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The aggregates of these users (one row per side they were reviewed on).
pub async fn ratings_of(conn: &mut AsyncPgConnection, user_ids: &[Uuid]) -> QueryResult<Vec<RatingRow>> {
    user_ratings::table
        .filter(user_ratings::user_id.eq_any(user_ids))
        .select(RatingRow::as_select())
        .order((user_ratings::user_id, user_ratings::role))
        .load(conn)
        .await
}

/// One page of public reviews received by each of `reviewees`, newest published first: on
/// side `role` when given, after `after` (published at, id) when given, at most `limit` per
/// reviewee, grouped by reviewee in newest-first order. Each reviewee's page walks
/// `reviews_reviewee_public_idx` on its own (a lateral join), so a page of gig owners costs
/// one statement. Every parameter is used once and an absent one compares as a no-op
/// (`COALESCE`), so the text is fixed and the statement stays prepared ([`Statement`]).
pub async fn pages(
    conn: &mut AsyncPgConnection,
    reviewees: &[Uuid],
    role: Option<ReviewRole>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<ReviewRow>> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
    Statement::sql("SELECT p.* FROM unnest(")
        .bind::<Array<diesel::sql_types::Uuid>, _>(reviewees.to_vec())
        .then(
            "::uuid[]) AS k (reviewee_id) CROSS JOIN LATERAL ( SELECT r.* FROM reviews r \
             WHERE r.reviewee_id = k.reviewee_id AND r.published_at IS NOT NULL \
             AND r.reviewee_role = COALESCE(",
        )
        .bind::<Nullable<Text>, _>(role.map(ReviewRole::as_str))
        .then("::text, r.reviewee_role) AND (r.published_at, r.id) < (COALESCE(")
        .bind::<Nullable<Timestamptz>, _>(after.map(|(at, _)| at))
        .then("::timestamptz, 'infinity'), ")
        .bind::<diesel::sql_types::Uuid, _>(after.map(|(_, id)| id).unwrap_or_default())
        .then(") ORDER BY r.published_at DESC, r.id DESC LIMIT ")
        .bind::<BigInt, _>(limit)
        .then(" ) p ORDER BY p.reviewee_id, p.published_at DESC, p.id DESC")
        .load(conn)
        .await
}

/// A page of a gig's public reviews, newest published first, after `(published at, id)`.
pub async fn gig_page(
    conn: &mut AsyncPgConnection,
    gig_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<ReviewRow>> {
    let mut query = reviews::table
        .filter(reviews::gig_id.eq(gig_id))
        .filter(reviews::published_at.is_not_null())
        .select(ReviewRow::as_select())
        .order((reviews::published_at.desc(), reviews::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            reviews::published_at
                .lt(at)
                .or(reviews::published_at.eq(at).and(reviews::id.lt(id))),
        );
    }
    query.load(conn).await
}

/// How many public reviews a gig has.
pub async fn gig_count(conn: &mut AsyncPgConnection, gig_id: Uuid) -> QueryResult<i64> {
    reviews::table
        .filter(reviews::gig_id.eq(gig_id))
        .filter(reviews::published_at.is_not_null())
        .count()
        .get_result(conn)
        .await
}
