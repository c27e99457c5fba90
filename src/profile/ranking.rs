//! Freelancer search ranking (seed 002's formula):
//! `score = w1·skill_match + w2·portfolio_fit + w3·reviews + w4·delivery + w5·availability`,
//! plus a boost for verified freelancers. The weights live here and nowhere else.
//!
//! Terms are in 0..=1: skill match is the share of the wanted skills a freelancer lists
//! (case-insensitive); portfolio fit grows with listed portfolio work up to three items;
//! availability is 1 for freelancers taking work. Reviews and on-time delivery join the
//! score when those domains record them; until then they are absent rather than invented.

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

/// The score of one freelancer, as the SQL below computes it (kept for tests and docs).
pub fn score(skills: &[String], wanted: &[String], portfolio_items: usize, available: bool, verified: bool) -> f64 {
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
}

fn score_sql() -> String {
    format!(
        "({SKILL_MATCH}::float8 * CASE WHEN cardinality($1::text[]) = 0 THEN 0 \
           ELSE (SELECT count(*) FROM unnest(u.skills) s WHERE lower(s) = ANY($1::text[]))::float8 / cardinality($1::text[]) END \
         + {PORTFOLIO_FIT}::float8 * LEAST(cardinality(u.portfolio_urls), 3)::float8 / 3 \
         + {AVAILABILITY}::float8 * (CASE WHEN u.is_available THEN 1 ELSE 0 END) \
         + {VERIFIED_BOOST}::float8 * (CASE WHEN u.verification_status = 'VERIFIED' THEN 1 ELSE 0 END))"
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
        "SELECT * FROM (SELECT u.*, {score} AS score FROM users u WHERE {WHERE}) ranked \
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
        let full = score(&["Rust".into(), "GraphQL".into()], &wanted, 0, false, false);
        let half = score(&["Rust".into()], &wanted, 3, true, false);
        assert!((full - SKILL_MATCH).abs() < 1e-9);
        assert!(
            half > full,
            "half the skills, a portfolio and availability beat the skills alone"
        );
        let verified = score(&["Rust".into()], &wanted, 3, true, true);
        assert!((verified - half - VERIFIED_BOOST).abs() < 1e-9);
    }
}
