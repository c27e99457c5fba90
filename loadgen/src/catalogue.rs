//! The catalogue workloads, `feed` (with the owners' reviews), `feed-without-reviews` and
//! `gig-by-id`, on a database seeded with `gigmarket seed --catalogue`, and their pgbench
//! baselines. Gig by id's two statements are one pipeline on both sides: the server sends
//! them together (diesel-async pipelines futures polled together on one connection), and
//! the pgbench script wraps them in `\startpipeline`/`\endpipeline`.
//!
//! The baselines run exactly the statements the server runs for one request, captured once
//! from the server's SQL trace (`RUST_LOG=warn,gigmarket::sql=trace`, each statement logged
//! with its binds) with the binds written in. For gig by id, pgbench picks a random active
//! gig per transaction through the helper table `bench_gig_ids (n int primary key, id uuid)`
//! that `prepare` (re)fills, so each baseline statement carries one extra primary-key lookup
//! (`(SELECT id FROM bench_gig_ids WHERE n = :r)`) that the server does not do.

use std::path::Path;

use anyhow::{bail, Context};

use crate::{baseline::Pgbench, workload::HttpLoad, workload::Operation};

/// Where the random gig id of a baseline transaction comes from.
const GIG_ID: &str = "(SELECT id FROM bench_gig_ids WHERE n = :r)";

/// The page query of the feed (`gigs(first: 20)`): gigs joined with their owners (so no
/// separate owner lookup), one row more than the page to know whether more follow.
pub const FEED_PAGE_SQL: &str = r#"SELECT "gigs"."id", "gigs"."owner_id", "gigs"."title", "gigs"."description", "gigs"."category", "gigs"."tags", "gigs"."currency", "gigs"."status", "gigs"."min_price_cents", "gigs"."min_delivery_days", "gigs"."views_count", "gigs"."rating_average", "gigs"."rating_count", "gigs"."created_at", "gigs"."updated_at", "gigs"."published_at", "users"."id", "users"."email", "users"."username", "users"."full_name", "users"."avatar_url", "users"."bio", "users"."headline", "users"."skills", "users"."ai_tools", "users"."languages", "users"."hourly_rate_cents", "users"."currency", "users"."portfolio_urls", "users"."location_text", "users"."latitude", "users"."longitude", "users"."timezone", "users"."travel_radius_km", "users"."is_available", "users"."verification_status", "users"."commission_bps", "users"."is_admin", "users"."banned_at", "users"."ban_reason", "users"."created_at", "users"."updated_at", 0::real FROM ("gigs" INNER JOIN "users" ON ("gigs"."owner_id" = "users"."id")) WHERE (("gigs"."status" = 'ACTIVE') AND ("users"."banned_at" IS NULL)) ORDER BY "gigs"."published_at" DESC, "gigs"."id" DESC LIMIT 21;"#;

/// The package lookup for a list of gig ids, `{ids}` (a `uuid[]`).
pub const PACKAGES_SQL: &str = r#"SELECT "gig_packages"."gig_id", "gig_packages"."tier", "gig_packages"."title", "gig_packages"."description", "gig_packages"."price_cents", "gig_packages"."delivery_days", "gig_packages"."revisions" FROM "gig_packages" WHERE ("gig_packages"."gig_id" = ANY({ids})) ORDER BY "gig_packages"."gig_id", "gig_packages"."price_cents";"#;

/// The package lookup of one gig (`gig(id)`), `{id}` its id: the server asks `= $1` for a
/// single gig (a generic plan PostgreSQL keeps) rather than `= ANY($1)`.
pub const GIG_PACKAGES_SQL: &str = r#"SELECT "gig_packages"."gig_id", "gig_packages"."tier", "gig_packages"."title", "gig_packages"."description", "gig_packages"."price_cents", "gig_packages"."delivery_days", "gig_packages"."revisions" FROM "gig_packages" WHERE ("gig_packages"."gig_id" = {id}) ORDER BY "gig_packages"."price_cents";"#;

/// The server's statement for `gig(id)`, owner joined; `{id}` is the gig id.
pub const GIG_SQL: &str = r#"SELECT "gigs"."id", "gigs"."owner_id", "gigs"."title", "gigs"."description", "gigs"."category", "gigs"."tags", "gigs"."currency", "gigs"."status", "gigs"."min_price_cents", "gigs"."min_delivery_days", "gigs"."views_count", "gigs"."rating_average", "gigs"."rating_count", "gigs"."created_at", "gigs"."updated_at", "gigs"."published_at", "users"."id", "users"."email", "users"."username", "users"."full_name", "users"."avatar_url", "users"."bio", "users"."headline", "users"."skills", "users"."ai_tools", "users"."languages", "users"."hourly_rate_cents", "users"."currency", "users"."portfolio_urls", "users"."location_text", "users"."latitude", "users"."longitude", "users"."timezone", "users"."travel_radius_km", "users"."is_available", "users"."verification_status", "users"."commission_bps", "users"."is_admin", "users"."banned_at", "users"."ban_reason", "users"."created_at", "users"."updated_at" FROM ("gigs" INNER JOIN "users" ON ("gigs"."owner_id" = "users"."id")) WHERE ("gigs"."id" = {id}) LIMIT 1;"#;

/// The owners' newest public reviews for the whole page (`owner { reviews(first: 5) }`): one
/// lateral walk of `reviews_reviewee_public_idx` per owner, `{owners}` (a `uuid[]` of the
/// page's distinct owners, sorted); no side, no cursor, 6 rows per owner (the page and one to
/// know whether more follow). The server binds `$2`..`$4` as NULL, NULL and the nil uuid.
pub const REVIEW_PAGES_SQL: &str = "SELECT p.* FROM unnest({owners}::uuid[]) AS k (reviewee_id) CROSS JOIN LATERAL ( SELECT r.* FROM reviews r WHERE r.reviewee_id = k.reviewee_id AND r.published_at IS NOT NULL AND r.reviewee_role = COALESCE(NULL::text, r.reviewee_role) AND (r.published_at, r.id) < (COALESCE(NULL::timestamptz, 'infinity'), '00000000-0000-0000-0000-000000000000') ORDER BY r.published_at DESC, r.id DESC LIMIT 6 ) p ORDER BY p.reviewee_id, p.published_at DESC, p.id DESC;";

/// A `uuid[]` literal of `ids`.
pub fn uuid_array(ids: &[String]) -> String {
    format!("'{{{}}}'::uuid[]", ids.join(","))
}

/// The feed's first page as the server sees it: gig ids in page order, and the distinct
/// owners, sorted (what the server binds to the reviews statement).
#[derive(Debug, Default)]
pub struct FeedPage {
    pub gig_ids: Vec<String>,
    pub owner_ids: Vec<String>,
}

/// The pgbench script for `operation`. For the feeds, `page` is the first page (what the
/// server binds to the package and review lookups; the catalogue does not change while
/// measuring); for gig by id, `count` is the number of rows in `bench_gig_ids`.
pub fn pgbench_script(operation: Operation, page: &FeedPage, count: usize) -> anyhow::Result<String> {
    match operation {
        Operation::Feed | Operation::FeedWithoutReviews => {
            if page.gig_ids.is_empty() {
                bail!("the feed's first page is empty");
            }
            let mut script = format!(
                "{FEED_PAGE_SQL}\n{}\n",
                PACKAGES_SQL.replace("{ids}", &uuid_array(&page.gig_ids))
            );
            if operation == Operation::Feed {
                script.push_str(&REVIEW_PAGES_SQL.replace("{owners}", &uuid_array(&page.owner_ids)));
                script.push('\n');
            }
            Ok(script)
        }
        Operation::GigById => {
            if count == 0 {
                bail!("no active gigs");
            }
            // The server pipelines the two statements (one round trip), so pgbench does too.
            Ok(format!(
                "\\set r random(1, {count})\n\\startpipeline\n{}\n{}\n\\endpipeline\n",
                GIG_SQL.replace("{id}", GIG_ID),
                GIG_PACKAGES_SQL.replace("{id}", GIG_ID)
            ))
        }
        other => bail!("{} is not a catalogue workload", other.name()),
    }
}

/// Fills `bench_gig_ids` with the active gigs and returns their ids.
/// Also returns the feed's first page.
async fn active_gig_ids(database_url: &str) -> anyhow::Result<(Vec<String>, FeedPage)> {
    let (db, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {database_url}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("database connection: {e}");
        }
    });
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS bench_gig_ids (n int PRIMARY KEY, id uuid NOT NULL);
         TRUNCATE bench_gig_ids;
         INSERT INTO bench_gig_ids (n, id)
             SELECT row_number() OVER (ORDER BY id), id FROM gigs WHERE status = 'ACTIVE';
         ANALYZE bench_gig_ids;",
    )
    .await
    .context("filling bench_gig_ids (is the catalogue seeded?)")?;
    let rows = db
        .query("SELECT id::text FROM bench_gig_ids ORDER BY n", &[])
        .await
        .context("reading bench_gig_ids")?;
    let ids = rows
        .iter()
        .map(|row| row.try_get::<_, String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let page = db
        .query(
            "SELECT gigs.id::text, gigs.owner_id::text FROM gigs JOIN users ON gigs.owner_id = users.id \
             WHERE gigs.status = 'ACTIVE' AND users.banned_at IS NULL \
             ORDER BY gigs.published_at DESC, gigs.id DESC LIMIT 20",
            &[],
        )
        .await
        .context("reading the feed's first page")?;
    let gig_ids = page
        .iter()
        .map(|row| row.try_get::<_, String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    // Canonical lower-case uuid text sorts as the uuids do.
    let mut owner_ids = page
        .iter()
        .map(|row| row.try_get::<_, String>(1))
        .collect::<Result<Vec<_>, _>>()?;
    owner_ids.sort_unstable();
    owner_ids.dedup();
    Ok((ids, FeedPage { gig_ids, owner_ids }))
}

/// The server load and the pgbench baseline for a catalogue workload, and the active gigs'
/// ids (what gig by id picks from).
pub async fn prepare(
    operation: Operation,
    url: &str,
    database_url: &str,
    pgbench: &Path,
    connections: usize,
) -> anyhow::Result<(HttpLoad, Pgbench, Vec<String>)> {
    let (ids, page) = active_gig_ids(database_url).await?;
    if ids.is_empty() {
        bail!("no ACTIVE gigs: run `gigmarket seed --catalogue` first");
    }
    eprintln!("{}: {} active gigs", operation.name(), ids.len());
    let bodies = match operation {
        Operation::Feed | Operation::FeedWithoutReviews => vec![operation.catalogue_body("")],
        _ => ids.iter().map(|id| operation.catalogue_body(id)).collect(),
    };
    let load = HttpLoad::from_bodies(operation, url, bodies, connections)?;
    let script = pgbench_script(operation, &page, ids.len())?;
    let label = operation.name();
    let baseline = Pgbench::with_script(pgbench, database_url, label, &script, connections).await?;
    Ok((load, baseline, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gig_script_draws_a_random_active_gig() {
        let script = pgbench_script(Operation::GigById, &FeedPage::default(), 500).unwrap();
        let mut lines = script.lines();
        assert_eq!(lines.next(), Some("\\set r random(1, 500)"));
        assert_eq!(lines.next(), Some("\\startpipeline"));
        assert!(lines.all(|l| !l.contains("{id}") && !l.contains("{ids}")));
        assert_eq!(script.matches("WHERE n = :r)").count(), 2);
        assert_eq!(script.lines().count(), 5);
        assert_eq!(script.lines().last(), Some("\\endpipeline"));
        assert!(!script.contains("ANY("), "one gig: the server binds `gig_id = $1`");
        assert!(pgbench_script(Operation::GigById, &FeedPage::default(), 0).is_err());
        assert!(pgbench_script(Operation::SignIn, &FeedPage::default(), 10).is_err());
    }

    #[test]
    fn the_feed_script_binds_the_first_page_and_its_owners() {
        let page = FeedPage {
            gig_ids: vec!["a".to_owned(), "b".to_owned()],
            owner_ids: vec!["o".to_owned()],
        };
        let script = pgbench_script(Operation::Feed, &page, 1).unwrap();
        assert_eq!(script.lines().count(), 3);
        assert!(script.contains("LIMIT 21;"));
        assert!(script.contains("= ANY('{a,b}'::uuid[])"));
        assert!(script.contains("FROM unnest('{o}'::uuid[]::uuid[]) AS k (reviewee_id)"));
        assert!(!script.contains("{owners}") && !script.contains("{ids}"));
        let plain = pgbench_script(Operation::FeedWithoutReviews, &page, 1).unwrap();
        assert_eq!(plain.lines().count(), 2);
        assert!(!plain.contains("reviews"));
        assert!(pgbench_script(Operation::Feed, &FeedPage::default(), 1).is_err());
    }
}
