//! The `nearby` workload: `nearbyTasks` over a million located OPEN tasks, and its pgbench
//! baseline running the statements the server runs for the same centres.
//!
//! Seeding writes the tasks with `COPY` in chunks of `CHUNK_ROWS`, each chunk in its own
//! transaction together with a row in `bench_nearby_chunks`, so an interrupted seed resumes
//! where it stopped and a seeded database is reused as it is. Locations come from
//! `places::sample` with a generator seeded per chunk; public points and geohashes from the
//! server's own `geocell::fuzz` and `geocell::cell_of`.
//!
//! The baseline: for each of `SEARCH_POINTS` centres, the load generator builds the statement
//! the server runs for the first page (`task::service::nearby`: one nearest-first statement
//! over the GiST index, `task::model::nearby_query` with `task::service::search_area` and
//! `task::model::nearby_fetch`) and runs it once to count what it returns. Each centre's
//! statement, binds written in, becomes one pgbench script; pgbench picks a script at random
//! per transaction, the server a centre at random per request, so both do the same work. (The
//! server adds statements only when tasks at exactly the same distance straddle a page's end,
//! which the seeded points never do.)

use std::{fmt::Write as _, time::Duration};

use anyhow::{bail, Context};
use bytes::Bytes;
use futures_util::SinkExt;
use gigmarket::{
    geocell,
    progress::{Progress, Unit},
    task,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

use crate::places::{self, Origin};

/// Rows per `COPY` (and per transaction).
pub const CHUNK_ROWS: usize = 50_000;
/// Seeds the per-chunk generators; changing it changes the data.
const SEED: u64 = 0x6e65_6172_6279;
/// Centres the workload searches around (and pgbench scripts: pgbench takes at most 128).
pub const SEARCH_POINTS: usize = 100;
/// The search radius (the API's default).
pub const RADIUS_M: f64 = 5_000.0;
/// The page size asked for.
pub const PAGE: usize = 20;

/// What a seeded task says.
const KINDS: &[(&str, &str, &str)] = &[
    (
        "Help carry boxes upstairs",
        "Two hours of lifting boxes to the third floor, no lift.",
        "moving",
    ),
    (
        "Assemble a wardrobe",
        "Flat-pack wardrobe, two doors, tools on site; about three hours.",
        "assembly",
    ),
    (
        "Fix a leaking kitchen tap",
        "Dripping under the sink; bring a spare washer and a wrench.",
        "repairs",
    ),
    (
        "Walk a friendly dog",
        "Forty-minute walk around the park every weekday at noon.",
        "pets",
    ),
    (
        "Deep clean a flat",
        "Two-room flat after moving out: kitchen, bathroom, windows.",
        "cleaning",
    ),
    (
        "Mount a TV on the wall",
        "55-inch TV, bracket provided, plasterboard wall.",
        "repairs",
    ),
    (
        "Garden tidy-up",
        "Mow the lawn, trim the hedge and take the cuttings away.",
        "gardening",
    ),
    (
        "Set up a home network",
        "New router and two access points; cables already run.",
        "tech",
    ),
];

/// The nearby query, as the GraphQL document the workload sends.
pub const NEARBY: &str = "query Nearby($lat: Float!, $lng: Float!) { nearbyTasks(lat: $lat, lng: $lng, \
radiusMeters: 5000, first: 20) { edges { node { distanceMeters task { id title budgetMaxCents poster { username } } } } } }";

/// The request body for a search around `point`.
pub fn body(point: (f64, f64)) -> serde_json::Value {
    json!({ "query": NEARBY, "variables": { "lat": point.0, "lng": point.1 }, "operationName": "Nearby" })
}

/// Chunk `index` of a seed of `total` tasks: how many rows it holds.
pub fn chunk_rows(total: usize, index: usize) -> usize {
    total.saturating_sub(index * CHUNK_ROWS).min(CHUNK_ROWS)
}

/// One seeded task's place: its id, exact point, public point and geohash.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub id: Uuid,
    pub exact: (f64, f64),
    pub public: (f64, f64),
    pub geohash: String,
    pub origin: Origin,
}

/// The places of chunk `index`'s `rows` tasks, the same on every run.
pub fn chunk_places(index: usize, rows: usize) -> anyhow::Result<Vec<Placed>> {
    let mut rng = StdRng::seed_from_u64(SEED ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (0..rows)
        .map(|_| {
            let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            let (exact, origin) = places::sample(&mut rng);
            let public = geocell::fuzz(id, exact.0, exact.1);
            let geohash = geocell::cell_of(public.0, public.1, geocell::POINT_PRECISION)
                .with_context(|| format!("no geohash for {public:?}"))?;
            Ok(Placed {
                id,
                exact,
                public,
                geohash,
                origin,
            })
        })
        .collect()
}

/// The columns `copy_text` writes, in order.
const COPY_COLUMNS: &str = "id, poster_id, title, description, category, budget_type, budget_min_cents, \
budget_max_cents, currency, duration, location_type, address, latitude, longitude, public_latitude, \
public_longitude, geohash, mode, status, published_at, created_at, updated_at";

/// `COPY … FROM STDIN` text rows for `places`, posted by `posters` (picked in turn) and
/// published at `published` (an RFC 3339 time). No field needs escaping.
pub fn copy_text(places: &[Placed], posters: &[Uuid], published: &str) -> anyhow::Result<String> {
    if posters.is_empty() {
        bail!("no posters");
    }
    let mut out = String::with_capacity(places.len() * 400);
    for (i, place) in places.iter().enumerate() {
        let (title, description, category) = KINDS[i % KINDS.len()];
        let poster = posters[i % posters.len()];
        let budget = 2_000 + (i % 40) as i64 * 500;
        writeln!(
            out,
            "{}\t{poster}\t{title}\t{description}\t{category}\tFIXED\t{budget}\t{}\tUSD\tLESS_THAN_A_WEEK\tONSITE\t\
             {} Example Street\t{:?}\t{:?}\t{:?}\t{:?}\t{}\tSTANDARD\tOPEN\t{published}\t{published}\t{published}",
            place.id,
            budget + 2_000,
            i % 200 + 1,
            place.exact.0,
            place.exact.1,
            place.public.0,
            place.public.1,
            place.geohash,
        )?;
    }
    Ok(out)
}

/// Seeds `total` located OPEN tasks posted by `posters`, skipping chunks already seeded;
/// returns how many rows it wrote. Analyzes `users`, and `tasks` when it wrote any.
pub async fn seed(database_url: &str, total: usize, posters: &[Uuid]) -> anyhow::Result<usize> {
    let mut db = crate::fanout::connect(database_url).await?;
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS bench_nearby_chunks (chunk int PRIMARY KEY, rows int NOT NULL, \
         seeded_at timestamptz NOT NULL DEFAULT now())",
    )
    .await
    .context("creating bench_nearby_chunks")?;
    let done: std::collections::HashMap<i32, i32> = db
        .query("SELECT chunk, rows FROM bench_nearby_chunks", &[])
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    let chunks = total.div_ceil(CHUNK_ROWS);
    let published = chrono::Utc::now().to_rfc3339();
    let progress = Progress::new("nearby: seeding tasks", Unit::Items("tasks"));
    progress.set_length(total as u64);
    progress.set_message(format!("{chunks} chunks of up to {CHUNK_ROWS} rows"));
    let mut written = 0;
    for index in 0..chunks {
        let rows = chunk_rows(total, index);
        match done.get(&(index as i32)) {
            Some(&seeded) if seeded as usize == rows => {
                progress.inc(rows as u64);
                continue;
            }
            Some(&seeded) => bail!(
                "chunk {index} was seeded with {seeded} rows, this seed wants {rows}: a different --tasks; \
                 use a fresh database"
            ),
            None => {}
        }
        let text = copy_text(&chunk_places(index, rows)?, posters, &published)?;
        let tx = db.transaction().await?;
        let sink = tx
            .copy_in::<_, Bytes>(&format!("COPY tasks ({COPY_COLUMNS}) FROM STDIN"))
            .await
            .context("starting COPY into tasks")?;
        let mut sink = std::pin::pin!(sink);
        let bytes = Bytes::from(text.into_bytes());
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + (1 << 20)).min(bytes.len());
            sink.send(bytes.slice(at..end)).await.context("COPY into tasks")?;
            at = end;
        }
        sink.as_mut().finish().await.context("finishing COPY into tasks")?;
        tx.execute(
            "INSERT INTO bench_nearby_chunks (chunk, rows) VALUES ($1, $2)",
            &[&(index as i32), &(rows as i32)],
        )
        .await?;
        tx.commit().await?;
        written += rows;
        progress.inc(rows as u64);
    }
    // Autovacuum may be off (it is on the shared test server), and without statistics on
    // `users` the planner drives the search from users: a nested loop of index scans per user
    // (300 ms instead of 20 ms for a 1 km round with 2,000 users, seen in EXPLAIN ANALYZE).
    let analyze = if written > 0 {
        "ANALYZE tasks, users"
    } else {
        "ANALYZE users"
    };
    progress.set_message("analyzing");
    db.batch_execute(analyze).await.with_context(|| analyze.to_owned())?;
    progress.finish(format_args!(
        "wrote {written} tasks, {} were seeded before",
        total - written
    ));
    Ok(written)
}

/// The statement with its binds written in, from `diesel::debug_query`'s
/// `<sql> -- binds: [<debug values>]`. Handles the binds nearby search has: numbers and
/// strings without quotes or commas inside (geohash bounds).
pub fn with_binds(debug: &str) -> anyhow::Result<String> {
    let (sql, binds) = debug
        .split_once(" -- binds: ")
        .context("no binds in the debug output")?;
    let binds = binds
        .trim()
        .strip_prefix('[')
        .and_then(|b| b.strip_suffix(']'))
        .context("binds are not a list")?;
    let values: Vec<String> = if binds.trim().is_empty() {
        Vec::new()
    } else {
        binds
            .split(", ")
            .map(
                |value| match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                    Some(text) if !text.contains(['\'', '"', '\\']) => Ok(format!("'{text}'")),
                    Some(_) => bail!("unsupported string bind {value}"),
                    None if value.parse::<f64>().is_ok() => Ok(value.to_owned()),
                    None => bail!("unsupported bind {value}"),
                },
            )
            .collect::<anyhow::Result<_>>()?
    };
    let mut out = sql.to_owned();
    // Highest first, so `$1` does not eat the start of `$12`.
    for (i, value) in values.iter().enumerate().rev() {
        let placeholder = format!("${}", i + 1);
        if !out.contains(&placeholder) {
            bail!("{placeholder} is not in the statement");
        }
        out = out.replace(&placeholder, value);
    }
    Ok(out)
}

/// The statement the server runs for the first page of a search around `point` within
/// `radius` (the page request's limit is a page plus one, to know whether more follow).
pub fn round_sql(point: (f64, f64), radius: f64) -> anyhow::Result<String> {
    let around = task::service::search_area(point.0, point.1, radius);
    let fetch = task::model::nearby_fetch(PAGE as i64 + 1);
    let query = task::model::nearby_query(&task::model::Filter::default(), &around, None, fetch);
    with_binds(&diesel::debug_query::<diesel::pg::Pg, _>(&query).to_string())
}

/// What a search around one centre costs the database.
#[derive(Debug, Clone)]
pub struct Replay {
    pub point: (f64, f64),
    pub origin: Origin,
    /// The statements in order, binds written in.
    pub statements: Vec<String>,
    /// Rows the last statement returned (at most a page plus one).
    pub rows: usize,
}

/// Replays the server's search around `point` on `db`.
pub async fn replay(db: &tokio_postgres::Client, point: (f64, f64), origin: Origin) -> anyhow::Result<Replay> {
    let sql = round_sql(point, RADIUS_M)?;
    let rows = db
        .simple_query(&sql)
        .await
        .with_context(|| format!("running {sql}"))?
        .iter()
        .filter(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    Ok(Replay {
        point,
        origin,
        statements: vec![sql],
        rows,
    })
}

/// The search centres, the same on every run.
pub fn search_points() -> Vec<((f64, f64), Origin)> {
    let mut rng = StdRng::seed_from_u64(SEED.rotate_left(17));
    (0..SEARCH_POINTS).map(|_| places::search_point(&mut rng)).collect()
}

/// A pgbench script: one centre's statements.
pub fn pgbench_script(replay: &Replay) -> String {
    replay.statements.iter().map(|s| format!("{s};\n")).collect()
}

/// Statements per search and page fill over the replayed centres.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySummary {
    pub centres: usize,
    pub rural: usize,
    pub mean_statements: f64,
    /// Centres by number of statements: index 0 = one statement.
    pub by_statements: Vec<usize>,
    /// Centres whose page came back full (20 tasks).
    pub full_pages: usize,
    pub empty_pages: usize,
}

impl ReplaySummary {
    pub fn of(replays: &[Replay]) -> Self {
        let mut by_statements = Vec::new();
        for r in replays {
            let n = r.statements.len().max(1);
            if by_statements.len() < n {
                by_statements.resize(n, 0);
            }
            by_statements[n - 1] += 1;
        }
        let total: usize = replays.iter().map(|r| r.statements.len()).sum();
        Self {
            centres: replays.len(),
            rural: replays.iter().filter(|r| matches!(r.origin, Origin::Rural(_))).count(),
            mean_statements: if replays.is_empty() {
                0.0
            } else {
                total as f64 / replays.len() as f64
            },
            by_statements,
            full_pages: replays.iter().filter(|r| r.rows > PAGE).count(),
            empty_pages: replays.iter().filter(|r| r.rows == 0).count(),
        }
    }

    /// A few Markdown lines.
    pub fn render(&self) -> String {
        let spread = self
            .by_statements
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{} statement{}: {n}", i + 1, if i == 0 { "" } else { "s" }))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "replayed centres: {} ({} rural); statements per search: mean {:.2} ({spread}); \
             page full at the last round: {}, empty: {}\n",
            self.centres, self.rural, self.mean_statements, self.full_pages, self.empty_pages
        )
    }
}

/// `db_statements_total` from the server's `/metrics` text.
pub fn statements_total(metrics: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix("db_statements_total")?;
        let value = rest.split_whitespace().last()?;
        value.parse().ok()
    })
}

/// Reads the server's statement counter.
pub async fn read_statements(client: &reqwest::Client, base_url: &str) -> anyhow::Result<f64> {
    let url = reqwest::Url::parse(base_url)?.join("/metrics")?;
    let text = client.get(url).send().await?.text().await?;
    statements_total(&text).context("no db_statements_total in /metrics")
}

/// The server's statements per request: the counter's growth over a run of `requests`
/// requests taking `elapsed`, less the idle rate (background jobs) over the same time.
pub fn per_request(delta: f64, idle_per_sec: f64, elapsed: Duration, requests: u64) -> Option<f64> {
    (requests > 0).then(|| (delta - idle_per_sec * elapsed.as_secs_f64()).max(0.0) / requests as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_total_exactly() {
        assert_eq!(chunk_rows(120_000, 0), CHUNK_ROWS);
        assert_eq!(chunk_rows(120_000, 2), 20_000);
        assert_eq!(chunk_rows(120_000, 3), 0);
        let total: usize = (0..1_000_000usize.div_ceil(CHUNK_ROWS))
            .map(|i| chunk_rows(1_000_000, i))
            .sum();
        assert_eq!(total, 1_000_000);
    }

    #[test]
    fn seeded_places_are_reproducible_and_use_the_servers_point_and_cell() {
        let a = chunk_places(3, 500).unwrap();
        assert_eq!(a, chunk_places(3, 500).unwrap());
        assert_ne!(a[0].id, chunk_places(4, 1).unwrap()[0].id);
        for p in &a {
            assert_eq!(p.public, geocell::fuzz(p.id, p.exact.0, p.exact.1));
            assert_eq!(
                Some(&p.geohash),
                geocell::cell_of(p.public.0, p.public.1, geocell::POINT_PRECISION).as_ref()
            );
            let moved = geocell::distance_m(p.exact, p.public);
            assert!((140.0..=260.0).contains(&moved), "{moved}");
        }
    }

    #[test]
    fn copy_rows_have_every_column() {
        let places = chunk_places(0, 3).unwrap();
        let poster = Uuid::nil();
        let text = copy_text(&places, &[poster], "2026-11-23T00:00:00+00:00").unwrap();
        let columns = COPY_COLUMNS.split(", ").count();
        assert_eq!(text.lines().count(), 3);
        for (line, place) in text.lines().zip(&places) {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), columns, "{line}");
            assert_eq!(fields[0], place.id.to_string());
            assert_eq!(fields[16], place.geohash);
            assert_eq!(fields[14].parse::<f64>().unwrap(), place.public.0);
            assert_eq!(fields[18], "OPEN");
        }
        assert!(copy_text(&places, &[], "x").is_err());
    }

    #[test]
    fn binds_are_written_in() {
        let debug = r#"SELECT a FROM t WHERE x >= $1 AND x < $2 AND d <= $3 LIMIT $4 -- binds: ["u33db", "u33db~", -5000.01, 21]"#;
        assert_eq!(
            with_binds(debug).unwrap(),
            "SELECT a FROM t WHERE x >= 'u33db' AND x < 'u33db~' AND d <= -5000.01 LIMIT 21"
        );
        let twelve = (1..=12).map(|i| format!("${i}")).collect::<Vec<_>>().join(" ");
        let values = (1..=12).map(|i| (i * 10).to_string()).collect::<Vec<_>>().join(", ");
        assert_eq!(
            with_binds(&format!("{twelve} -- binds: [{values}]")).unwrap(),
            "10 20 30 40 50 60 70 80 90 100 110 120"
        );
        assert!(with_binds("SELECT $1 -- binds: [1, 2]").is_err());
        assert!(with_binds("SELECT 1").is_err());
        assert!(with_binds(r#"SELECT $1 -- binds: ["it's"]"#).is_err());
        assert!(with_binds(r#"SELECT $1 -- binds: [Some(x)]"#).is_err());
        assert_eq!(with_binds("SELECT 1 -- binds: []").unwrap(), "SELECT 1");
    }

    #[test]
    fn a_round_is_the_servers_statement_for_that_circle() {
        let sql = round_sql((52.52, 13.405), RADIUS_M).unwrap();
        assert!(!sql.contains('$'), "{sql}");
        assert!(sql.contains("tasks.status = 'OPEN'"), "{sql}");
        assert!(sql.contains("<-> gm_earth_point(52.52, 13.405)"), "{sql}");
        assert!(sql.contains("LIMIT 22"), "a page, one more, one for ties: {sql}");
    }

    #[test]
    fn summaries_count_statements_and_pages() {
        let replay = |statements: usize, rows: usize, origin| Replay {
            point: (0.0, 0.0),
            origin,
            statements: vec!["SELECT 1".into(); statements],
            rows,
        };
        let summary = ReplaySummary::of(&[
            replay(1, 21, Origin::Metro(0)),
            replay(3, 0, Origin::Rural(0)),
            replay(3, 7, Origin::Metro(1)),
        ]);
        assert_eq!(summary.by_statements, vec![1, 0, 2]);
        assert!((summary.mean_statements - 7.0 / 3.0).abs() < 1e-9);
        assert_eq!((summary.full_pages, summary.empty_pages, summary.rural), (1, 1, 1));
        assert!(summary.render().contains("1 statement: 1, 3 statements: 2"));
        assert_eq!(
            pgbench_script(&replay(2, 0, Origin::Metro(0))),
            "SELECT 1;\nSELECT 1;\n"
        );
    }

    #[test]
    fn the_statement_counter_is_read_from_metrics() {
        let text = "# TYPE db_statements_total counter\ndb_statements_total 12345\ndb_pool_waiting 0\n";
        assert_eq!(statements_total(text), Some(12345.0));
        assert_eq!(statements_total("db_pool_waiting 0\n"), None);
        let per = per_request(10_500.0, 50.0, Duration::from_secs(10), 5_000).unwrap();
        assert!((per - 2.0).abs() < 1e-9);
        assert_eq!(per_request(1.0, 0.0, Duration::from_secs(1), 0), None);
    }

    #[test]
    fn bodies_ask_for_a_page_within_5_km() {
        let b = body((45.0, 5.0));
        assert_eq!(b["variables"]["lat"], 45.0);
        let query = b["query"].as_str().unwrap();
        assert!(query.contains("radiusMeters: 5000, first: 20"));
        assert!(query.contains("distanceMeters task { id title budgetMaxCents poster { username } }"));
    }
}
