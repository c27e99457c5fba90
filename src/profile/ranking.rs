//! Freelancer search ranking (seed 002's formula):
//! `score = w1·skill_match + w2·portfolio_fit + w3·reviews + w4·delivery + w5·availability`,
//! plus a boost for verified freelancers. The weights live here and nowhere else.
//!
//! Terms are in 0..=1: skill match is the share of the wanted skills a freelancer lists
//! (case-insensitive); portfolio fit grows with listed portfolio work up to three items;
//! availability is 1 for freelancers taking work; reviews are the average rating of the
//! public reviews of their work (`user_ratings`, side FREELANCER) over 5, weighed by
//! confidence (full from five reviews), so one lucky 5 does not outrank a long record.
//! On-time delivery joins the score when orders record it; until then it is absent rather
//! than invented.

use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Bool, Double, Text},
    QueryableByName,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::model::UserRow;

pub const SKILL_MATCH: f64 = 0.45;
pub const PORTFOLIO_FIT: f64 = 0.15;
pub const AVAILABILITY: f64 = 0.15;
pub const VERIFIED_BOOST: f64 = 0.10;
pub const REVIEWS: f64 = 0.15;
/// Reviews from which the reviews term counts in full.
pub const REVIEWS_FOR_FULL_CONFIDENCE: i32 = 5;

/// The reviews term: `(rating_sum / count) / 5 · min(count, 5) / 5`.
pub fn reviews_term(count: i32, rating_sum: i64) -> f64 {
    if count <= 0 {
        return 0.0;
    }
    let average = rating_sum as f64 / f64::from(count);
    average / 5.0 * f64::from(count.min(REVIEWS_FOR_FULL_CONFIDENCE)) / f64::from(REVIEWS_FOR_FULL_CONFIDENCE)
}

/// The score of one freelancer, as the SQL below computes it (kept for tests and docs);
/// `reviews` is their freelancer-side review count and rating sum.
pub fn score(
    skills: &[String],
    wanted: &[String],
    portfolio_items: usize,
    available: bool,
    verified: bool,
    reviews: (i32, i64),
) -> f64 {
    let skill_match = if wanted.is_empty() {
        0.0
    } else {
        let have: Vec<String> = skills.iter().map(|s| s.to_lowercase()).collect();
        wanted.iter().filter(|w| have.contains(&w.to_lowercase())).count() as f64 / wanted.len() as f64
    };
    SKILL_MATCH * skill_match
        + PORTFOLIO_FIT * (portfolio_items.min(3) as f64 / 3.0)
        + AVAILABILITY * f64::from(u8::from(available))
        + VERIFIED_BOOST * f64::from(u8::from(verified))
        + REVIEWS * reviews_term(reviews.0, reviews.1)
}

fn score_sql() -> String {
    format!(
        "({SKILL_MATCH}::float8 * CASE WHEN cardinality($1::text[]) = 0 THEN 0 \
           ELSE (SELECT count(*) FROM unnest(u.skills) s WHERE lower(s) = ANY($1::text[]))::float8 / cardinality($1::text[]) END \
         + {PORTFOLIO_FIT}::float8 * LEAST(cardinality(u.portfolio_urls), 3)::float8 / 3 \
         + {AVAILABILITY}::float8 * (CASE WHEN u.is_available THEN 1 ELSE 0 END) \
         + {VERIFIED_BOOST}::float8 * (CASE WHEN u.verification_status = 'VERIFIED' THEN 1 ELSE 0 END) \
         + {REVIEWS}::float8 * CASE WHEN COALESCE(r.count, 0) = 0 THEN 0 \
           ELSE r.rating_sum::float8 / r.count / 5 * LEAST(r.count, {REVIEWS_FOR_FULL_CONFIDENCE})::float8 / {REVIEWS_FOR_FULL_CONFIDENCE} END)"
    )
}

/// Who is listed: not banned, some skills, and the filter ($1 skills, $2 available only,
/// $3 verified only, $4 max hourly rate, $5 languages).
const WHERE: &str = "u.banned_at IS NULL AND cardinality(u.skills) > 0 \
     AND (cardinality($1::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest(u.skills) s WHERE lower(s) = ANY($1::text[]))) \
     AND (NOT $2 OR u.is_available) \
     AND (NOT $3 OR u.verification_status = 'VERIFIED') \
     AND ($4::bigint IS NULL OR u.hourly_rate_cents <= $4) \
     AND (cardinality($5::text[]) = 0 OR EXISTS (SELECT 1 FROM unnest(u.languages) l WHERE lower(l) = ANY($5::text[])))";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many freelancers match `filter`.
pub async fn count(conn: &mut AsyncPgConnection, filter: &FreelancerFilter) -> QueryResult<i64> {
    diesel::sql_query(format!("SELECT count(*) AS n FROM users u WHERE {WHERE}"))
        .bind::<Array<Text>, _>(&filter.skills)
        .bind::<Bool, _>(filter.available_only)
        .bind::<Bool, _>(filter.verified_only)
        .bind::<diesel::sql_types::Nullable<BigInt>, _>(filter.max_hourly_rate_cents)
        .bind::<Array<Text>, _>(&filter.languages)
        .get_result::<Count>(conn)
        .await
        .map(|c| c.n)
}

#[derive(QueryableByName)]
pub struct Ranked {
    #[diesel(embed)]
    pub user: UserRow,
    #[diesel(sql_type = Double)]
    pub score: f64,
}

/// What a freelancer search is narrowed to.
#[derive(Debug, Default, Clone)]
pub struct FreelancerFilter {
    /// Wanted skills (lower-cased); freelancers listing none of them are left out.
    pub skills: Vec<String>,
    pub available_only: bool,
    pub verified_only: bool,
    pub max_hourly_rate_cents: Option<i64>,
    /// Speaks any of these languages (lower-cased).
    pub languages: Vec<String>,
}

/// A page of freelancers (users with at least one skill, not banned), best score first;
/// `after` is the previous page's last (score, id).
pub async fn page(
    conn: &mut AsyncPgConnection,
    filter: &FreelancerFilter,
    after: Option<(f64, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<Ranked>> {
    let sql = format!(
        "SELECT * FROM (SELECT u.*, {score} AS score FROM users u \
         LEFT JOIN user_ratings r ON r.user_id = u.id AND r.role = 'FREELANCER' WHERE {WHERE}) ranked \
         WHERE ($6::float8 IS NULL OR (score, id) < ($6, $7)) \
         ORDER BY score DESC, id DESC LIMIT $8",
        score = score_sql()
    );
    let (after_score, after_id) = match after {
        Some((score, id)) => (Some(score), id),
        None => (None, Uuid::nil()),
    };
    diesel::sql_query(sql)
        .bind::<Array<Text>, _>(&filter.skills)
        .bind::<Bool, _>(filter.available_only)
        .bind::<Bool, _>(filter.verified_only)
        .bind::<diesel::sql_types::Nullable<BigInt>, _>(filter.max_hourly_rate_cents)
        .bind::<Array<Text>, _>(&filter.languages)
        .bind::<diesel::sql_types::Nullable<Double>, _>(after_score)
        .bind::<diesel::sql_types::Uuid, _>(after_id)
        .bind::<BigInt, _>(limit)
        .load::<Ranked>(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_match_dominates_then_availability_and_verification() {
        let wanted = vec!["rust".to_owned(), "graphql".to_owned()];
        let full = score(&["Rust".into(), "GraphQL".into()], &wanted, 0, false, false, (0, 0));
        let half = score(&["Rust".into()], &wanted, 3, true, false, (0, 0));
        assert!((full - SKILL_MATCH).abs() < 1e-9);
        assert!(
            half > full,
            "half the skills, a portfolio and availability beat the skills alone"
        );
        let verified = score(&["Rust".into()], &wanted, 3, true, true, (0, 0));
        assert!((verified - half - VERIFIED_BOOST).abs() < 1e-9);
        let reviewed = score(&["Rust".into()], &wanted, 3, true, true, (10, 50));
        assert!(
            (reviewed - verified - REVIEWS).abs() < 1e-9,
            "ten 5-star reviews: the full term"
        );
        assert!((reviews_term(1, 5) - 0.2).abs() < 1e-9, "one review counts a fifth");
        assert!(reviews_term(5, 5) < reviews_term(5, 25));
        let best = score(&["Rust".into(), "GraphQL".into()], &wanted, 3, true, true, (5, 25));
        assert!((best - 1.0).abs() < 1e-9, "the weights add up to 1");
    }
}
