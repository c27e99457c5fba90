//! Demo data for a fresh database (`gigmarket seed`) and bulk users for the load generator.
//! Idempotent: existing usernames are left alone.

use diesel_async::AsyncConnection;

use crate::{account, error::AppError, profile, profile::service::ProfileChanges, progress::Progress, state::AppState};

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "gigmarket-demo";

struct Demo {
    username: &'static str,
    full_name: &'static str,
    headline: &'static str,
    skills: &'static [&'static str],
    location: (f64, f64, &'static str),
    rate_cents: i64,
    admin: bool,
}

const DEMOS: &[Demo] = &[
    Demo {
        username: "ada",
        full_name: "Ada Lovelace",
        headline: "Rust backend engineer",
        skills: &["Rust", "PostgreSQL", "GraphQL"],
        location: (51.5072, -0.1276, "London, United Kingdom"),
        rate_cents: 9_500,
        admin: false,
    },
    Demo {
        username: "grace",
        full_name: "Grace Hopper",
        headline: "Compiler whisperer and technical writer",
        skills: &["COBOL", "Technical writing", "Compilers"],
        location: (40.7128, -74.0060, "New York, USA"),
        rate_cents: 12_000,
        admin: false,
    },
    Demo {
        username: "linus",
        full_name: "Linus Client",
        headline: "Hiring for a SaaS MVP",
        skills: &[],
        location: (60.1699, 24.9384, "Helsinki, Finland"),
        rate_cents: 0,
        admin: false,
    },
    Demo {
        username: "moderator",
        full_name: "Mo Derator",
        headline: "gigmarket staff",
        skills: &[],
        location: (52.5200, 13.4050, "Berlin, Germany"),
        rate_cents: 0,
        admin: true,
    },
];

/// Creates the demo accounts that do not exist yet; returns how many were created.
pub async fn demo(app: &AppState) -> anyhow::Result<usize> {
    demo_with_progress(app, &Progress::hidden()).await
}

/// [`demo`], reporting each account on `progress` (steps).
pub async fn demo_with_progress(app: &AppState, progress: &Progress) -> anyhow::Result<usize> {
    let mut created = 0;
    progress.set_length(DEMOS.len() as u64);
    for (index, demo) in DEMOS.iter().enumerate() {
        progress.set_message(format!("account {}/{} {}", index + 1, DEMOS.len(), demo.username));
        let existing = profile::service::find_by_username(&app.db, demo.username)
            .await
            .map_err(|e| anyhow::anyhow!("looking up {}: {e:?}", demo.username))?;
        if existing.is_some() {
            progress.inc(1);
            continue;
        }
        let session = account::service::sign_up(
            app,
            account::service::SignUp {
                email: format!("{}@example.com", demo.username),
                password: DEMO_PASSWORD.to_owned(),
                username: demo.username.to_owned(),
                full_name: demo.full_name.to_owned(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating {}: {e:?}", demo.username))?;
        let id = session.user.id;
        profile::service::update_profile(
            &app.db,
            id,
            ProfileChanges {
                headline: Some(Some(demo.headline.to_owned())),
                bio: Some(Some(format!(
                    "{} is a demo account seeded by `gigmarket seed`.",
                    demo.full_name
                ))),
                skills: Some(demo.skills.iter().map(|s| s.to_string()).collect()),
                hourly_rate_cents: Some((demo.rate_cents > 0).then_some(demo.rate_cents)),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("profile of {}: {e:?}", demo.username))?;
        let (lat, lng, place) = demo.location;
        profile::service::update_location(&app.db, id, lat, lng, Some(Some(place.to_owned())))
            .await
            .map_err(|e| anyhow::anyhow!("location of {}: {e:?}", demo.username))?;
        if demo.admin {
            let mut conn = app.db.conn().await?;
            profile::model::set_admin(&mut conn, id, true).await?;
        }
        created += 1;
        progress.inc(1);
    }
    Ok(created)
}

/// Load users created per transaction.
const LOAD_USER_BATCH: usize = 500;

/// Bulk users `{prefix}{i}` (email `{prefix}{i}@load.test`, password `password`), sharing
/// one password hash so thousands are created in seconds. Users that already exist are kept
/// as they are, so a larger count tops up an earlier seed. Returns how many were created.
pub async fn load_users(app: &AppState, prefix: &str, count: usize, password: &str) -> anyhow::Result<usize> {
    load_users_with_progress(app, prefix, count, password, &Progress::hidden()).await
}

/// [`load_users`], reporting the users present on `progress` (items), batch by batch.
pub async fn load_users_with_progress(
    app: &AppState,
    prefix: &str,
    count: usize,
    password: &str,
    progress: &Progress,
) -> anyhow::Result<usize> {
    let hash = app.passwords.hash(password.to_owned()).await?;
    let mut conn = app.db.conn().await?;
    let existing: std::collections::HashSet<String> = profile::model::usernames_with_prefix(&mut conn, prefix)
        .await?
        .into_iter()
        .collect();
    let missing: Vec<usize> = (0..count)
        .filter(|i| !existing.contains(&format!("{prefix}{i}")))
        .collect();
    progress.set_length(count as u64);
    progress.set_position((count - missing.len()) as u64);
    progress.set_message(format!("creating {} of {count} users {prefix}<i>", missing.len()));
    let mut created = 0;
    for chunk in missing.chunks(LOAD_USER_BATCH) {
        created += conn
            .transaction::<_, AppError, _>(async |conn| {
                for i in chunk {
                    let username = format!("{prefix}{i}");
                    let email = format!("{username}@load.test");
                    let user = profile::service::create(conn, &email, &username, &format!("Load User {i}")).await?;
                    account::model::insert_credentials(conn, user.id, &hash).await?;
                }
                Ok(chunk.len())
            })
            .await
            .map_err(|e| anyhow::anyhow!("seeding load users: {e:?}"))?;
        progress.inc(chunk.len() as u64);
    }
    Ok(created)
}

/// Sizes of a seeded catalogue.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueSize {
    pub users: i64,
    pub gigs: i64,
    pub tasks: i64,
}

/// Rows a catalogue statement writes at most: the big steps run as several statements, so
/// the progress moves while they run.
const CATALOGUE_CHUNK_ROWS: i64 = 10_000;

/// A realistic catalogue for demos and benchmarks: freelancers with skills and rates, gigs
/// with packages (most ACTIVE, published over the past year), one COMPLETED order per ACTIVE
/// gig with its ledger transactions (fund, release, clear: the books balance) and both
/// parties' public reviews (with the rating aggregates they add up to), and OPEN tasks. Users are
/// `cat_user_<i>` (`cat_user_<i>@catalogue.test`, password `password`). Written with
/// set-based SQL, so 100,000 gigs take seconds. Returns false when a catalogue exists.
///
/// The row numbers are `bigint`: owners and posters are spread with products such as
/// `t * 104729`, which leave `integer` from 20,506 tasks on (the default is 100,000).
pub async fn catalogue(app: &AppState, size: CatalogueSize) -> anyhow::Result<bool> {
    catalogue_with_progress(app, size, &Progress::hidden()).await
}

/// [`catalogue`], reporting each step and the rows written on `progress` (items: rows).
/// All steps run in one transaction, as one script did before: a failed seed leaves nothing.
pub async fn catalogue_with_progress(app: &AppState, size: CatalogueSize, progress: &Progress) -> anyhow::Result<bool> {
    use diesel_async::SimpleAsyncConnection;
    if profile::service::find_by_username(&app.db, "cat_user_0")
        .await
        .map_err(|e| anyhow::anyhow!("checking for a catalogue: {e:?}"))?
        .is_some()
    {
        return Ok(false);
    }
    let hash = app.passwords.hash("password".to_owned()).await?;
    let steps = catalogue_steps(size, &hash, CATALOGUE_CHUNK_ROWS);
    progress.set_length(steps.iter().map(CatalogueStep::rows).sum::<i64>().max(0) as u64);
    let mut conn = app.db.conn().await?;
    // Bulk inserts outlast the pool's statement timeout; SET LOCAL lifts it for this
    // transaction only, so the connection goes back to the pool as it was. JIT is off too:
    // each chunk is costly enough to be compiled (with inlining and optimisation), which
    // took about 0.3 s per chunk and gained nothing back.
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        conn.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL jit = off")
            .await?;
        for step in &steps {
            progress.set_message(step.name);
            for (sql, rows) in &step.statements {
                conn.batch_execute(sql).await?;
                progress.inc((*rows).max(0) as u64);
            }
        }
        Ok(())
    })
    .await?;
    Ok(true)
}

/// One step of the catalogue: a name for the progress and its statements, each with the
/// rows it writes (0 for temporary tables and statistics).
struct CatalogueStep {
    name: &'static str,
    statements: Vec<(String, i64)>,
}

impl CatalogueStep {
    fn single(name: &'static str, sql: String) -> Self {
        Self {
            name,
            statements: vec![(sql, 0)],
        }
    }

    /// One statement per chunk of `0..count`: `statement(from, to)` covers `from..to` and
    /// writes `rows(from, to)` rows.
    fn chunked(
        name: &'static str,
        count: i64,
        chunk: i64,
        statement: impl Fn(i64, i64) -> String,
        rows: impl Fn(i64, i64) -> i64,
    ) -> Self {
        let statements = chunk_bounds(count, chunk)
            .map(|(from, to)| (statement(from, to), rows(from, to)))
            .collect();
        Self { name, statements }
    }

    fn rows(&self) -> i64 {
        self.statements.iter().map(|(_, rows)| rows).sum()
    }
}

/// `(from, to)` ranges of at most `chunk` that cover `0..count`.
fn chunk_bounds(count: i64, chunk: i64) -> impl Iterator<Item = (i64, i64)> {
    let chunk = chunk.max(1);
    (0..count.max(0))
        .step_by(chunk as usize)
        .map(move |from| (from, (from + chunk).min(count)))
}

/// How many `g` in `from..to` have `g % modulus == remainder`.
fn residues(from: i64, to: i64, modulus: i64, remainder: i64) -> i64 {
    // `g % m == r` for g in 0..x: the multiples of m below x - r, counted from r.
    let below = |x: i64| {
        if x <= remainder {
            0
        } else {
            (x - remainder - 1) / modulus + 1
        }
    };
    below(to) - below(from)
}

/// The fee of the catalogue's completed orders (the default commission).
const SEED_FEE_BPS: i64 = 800;

/// How many gigs in `from..to` are ACTIVE (all but `g % 10 == 9`): each has one completed
/// order with two public reviews.
fn active_gigs(from: i64, to: i64) -> i64 {
    to - from - residues(from, to, 10, 9)
}

/// One completed order per ACTIVE gig, bought by another catalogue user (none with fewer
/// than two users), completed within the past ten months.
fn seed_orders_sql(users: i64) -> String {
    let others = (users - 1).max(1);
    let none = if users < 2 { "AND false" } else { "" };
    format!(
        "CREATE TEMP TABLE seed_orders AS
SELECT s.g, gen_random_uuid() AS id, s.id AS gig_id, s.owner_id AS freelancer_id,
       (SELECT id FROM seed_users WHERE i = ((s.g * 7919) % {users} + 1 + s.g % {others}) % {users}) AS client_id,
       s.price AS amount, now() - ((2 + s.g % 300) || ' days')::interval AS done_at
FROM seed_gigs s WHERE s.g % 10 <> 9 {none};
ALTER TABLE seed_orders ADD PRIMARY KEY (g);
ANALYZE seed_orders;
-- The ledger accounts the orders' money moves through.
INSERT INTO ledger_accounts (id, owner_id, kind, currency)
SELECT gen_random_uuid(), NULL, kind, 'USD' FROM unnest(ARRAY['PLATFORM_ESCROW', 'PLATFORM_FEES', 'EXTERNAL']) AS kind
ON CONFLICT (kind, currency) WHERE owner_id IS NULL DO NOTHING;
INSERT INTO ledger_accounts (id, owner_id, kind, currency)
SELECT gen_random_uuid(), f.id, kind, 'USD'
FROM (SELECT DISTINCT freelancer_id AS id FROM seed_orders) f, unnest(ARRAY['USER_PENDING', 'USER_AVAILABLE']) AS kind
ON CONFLICT (owner_id, kind, currency) WHERE owner_id IS NOT NULL DO NOTHING;
{LEDGER_TRIGGERS_OFF}"
    )
}

/// The money of the orders of gigs `from..to`, as the order steps post it: FUND (external
/// to escrow), RELEASE (escrow to the freelancer's pending balance less the fee, the fee to
/// the platform) and CLEAR (pending to available), each transaction under its order key.
fn seed_ledger_sql(from: i64, to: i64) -> String {
    format!(
        "
CREATE TEMP TABLE seed_money AS
SELECT o.id AS order_id, o.client_id, o.amount, (o.amount * {SEED_FEE_BPS} + 5000) / 10000 AS fee, o.done_at,
       gen_random_uuid() AS fund, gen_random_uuid() AS release, gen_random_uuid() AS clear,
       (SELECT id FROM ledger_accounts WHERE owner_id = o.freelancer_id AND kind = 'USER_PENDING' AND currency = 'USD') AS pending,
       (SELECT id FROM ledger_accounts WHERE owner_id = o.freelancer_id AND kind = 'USER_AVAILABLE' AND currency = 'USD') AS available
FROM seed_orders o WHERE o.g >= {from} AND o.g < {to};
INSERT INTO ledger_transactions (id, kind, idempotency_key, order_id, actor_id, memo, created_at)
SELECT fund, 'FUND', 'order:' || order_id || ':fund', order_id, client_id, 'Payment received into escrow',
       done_at - interval '3 days' FROM seed_money
UNION ALL
SELECT release, 'RELEASE', 'order:' || order_id || ':release', order_id, client_id,
       'Escrow released ({SEED_FEE_BPS} bps fee)', done_at FROM seed_money
UNION ALL
SELECT clear, 'CLEAR', 'order:' || order_id || ':clear', order_id, NULL, 'Earnings cleared',
       done_at + interval '1 day' FROM seed_money;
INSERT INTO ledger_entries (transaction_id, account_id, amount_cents, created_at)
SELECT m.fund, x.id, -m.amount, m.done_at - interval '3 days' FROM seed_money m, ledger_accounts x
    WHERE x.kind = 'EXTERNAL' AND x.owner_id IS NULL AND x.currency = 'USD'
UNION ALL
SELECT m.fund, e.id, m.amount, m.done_at - interval '3 days' FROM seed_money m, ledger_accounts e
    WHERE e.kind = 'PLATFORM_ESCROW' AND e.owner_id IS NULL AND e.currency = 'USD'
UNION ALL
SELECT m.release, e.id, -m.amount, m.done_at FROM seed_money m, ledger_accounts e
    WHERE e.kind = 'PLATFORM_ESCROW' AND e.owner_id IS NULL AND e.currency = 'USD'
UNION ALL
SELECT m.release, m.pending, m.amount - m.fee, m.done_at FROM seed_money m
UNION ALL
SELECT m.release, f.id, m.fee, m.done_at FROM seed_money m, ledger_accounts f
    WHERE f.kind = 'PLATFORM_FEES' AND f.owner_id IS NULL AND f.currency = 'USD'
UNION ALL
SELECT m.clear, m.pending, m.fee - m.amount, m.done_at + interval '1 day' FROM seed_money m
UNION ALL
SELECT m.clear, m.available, m.amount - m.fee, m.done_at + interval '1 day' FROM seed_money m;
DROP TABLE seed_money;"
    )
}

/// Why the seed writes the ledger with its two row triggers off, and why that is safe.
///
/// `ledger_entries_apply` adds each entry to its account's balance, one `UPDATE` per entry.
/// Every seeded order moves money through the same three platform accounts (external,
/// escrow, fees), so one transaction would update those three rows about 400,000 times
/// (100,000 gigs): each update leaves a row version the next one has to step over, which
/// made the work grow with the square of the orders. `ledger_entries_balanced` queues one
/// deferred check per entry (a million of them), each summing its transaction again.
///
/// Instead, inside the seed's one transaction:
/// - `ALTER TABLE … DISABLE TRIGGER` takes an ACCESS EXCLUSIVE lock on `ledger_entries` that
///   is held until the seed commits or rolls back, so no other session can write (or read)
///   an entry while the triggers are off: the only entries written without them are the
///   seed's own. A running server's ledger writes wait for the seed to finish.
/// - The switch is transactional: if anything fails, the rollback restores the triggers
///   along with everything else.
/// - [`seed_balances_sql`] moves each account's balance by what the seeded orders owe it, computed
///   from the orders (not from the entries), in one statement.
/// - [`SEED_BOOKS_CHECK`] then proves, over the whole ledger, what the triggers guarantee:
///   the entries of every transaction sum to zero in one currency, and every account's
///   balance equals the sum of its entries (which the balances were not computed from). The
///   seed fails and rolls back otherwise. Overdrafts are still refused by the accounts'
///   `CHECK (kind = 'EXTERNAL' OR balance_cents >= 0)` on the final balances.
const LEDGER_TRIGGERS_OFF: &str = "
ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_apply, DISABLE TRIGGER ledger_entries_balanced;";

/// The balances the seeded orders add up to, from the orders themselves: the client's money
/// leaves EXTERNAL, passes through escrow and the freelancer's pending balance (net zero
/// there), the fee stays with the platform and the rest becomes available to the freelancer.
fn seed_balances_sql() -> String {
    format!(
        "
WITH o AS (
    SELECT freelancer_id, amount, (amount * {SEED_FEE_BPS} + 5000) / 10000 AS fee FROM seed_orders
), moves AS (
    SELECT a.id, sum(o.amount - o.fee) AS total
    FROM o JOIN ledger_accounts a ON a.owner_id = o.freelancer_id AND a.kind = 'USER_AVAILABLE' AND a.currency = 'USD'
    GROUP BY a.id
    UNION ALL
    SELECT a.id, CASE a.kind WHEN 'PLATFORM_FEES' THEN t.fees WHEN 'EXTERNAL' THEN -t.amounts END
    FROM (SELECT sum(fee) AS fees, sum(amount) AS amounts FROM o) t
    JOIN ledger_accounts a ON a.owner_id IS NULL AND a.currency = 'USD' AND a.kind IN ('PLATFORM_FEES', 'EXTERNAL')
    WHERE t.amounts IS NOT NULL
)
UPDATE ledger_accounts a SET balance_cents = a.balance_cents + m.total FROM moves m WHERE a.id = m.id AND m.total <> 0;"
    )
}

/// The checks `ledger_entries_balanced` and `ledger_entries_apply` stand for, over the whole
/// ledger, set-based; raises (and so rolls the seed back) when either fails. Then the triggers
/// go back on.
const SEED_BOOKS_CHECK: &str = "
DO $$
DECLARE
    unbalanced BIGINT;
    stale BIGINT;
BEGIN
    SELECT count(*) INTO unbalanced FROM (
        SELECT e.transaction_id FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
        GROUP BY e.transaction_id HAVING sum(e.amount_cents) <> 0 OR count(DISTINCT a.currency) <> 1) x;
    SELECT count(*) INTO stale FROM ledger_accounts a
        LEFT JOIN (SELECT account_id, sum(amount_cents) AS total FROM ledger_entries GROUP BY account_id) s
            ON s.account_id = a.id
        WHERE a.balance_cents <> COALESCE(s.total, 0);
    IF unbalanced > 0 OR stale > 0 THEN
        RAISE EXCEPTION 'seed: the books do not add up: % unbalanced ledger transactions, % accounts whose balance is not the sum of their entries',
            unbalanced, stale USING ERRCODE = 'check_violation';
    END IF;
END $$;
ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_apply, ENABLE TRIGGER ledger_entries_balanced;";

/// The rating aggregates of the seeded (public) reviews, one pass over them for the users
/// and one for the gigs.
const SEED_RATINGS: &str = "
INSERT INTO user_ratings AS u (user_id, role, count, rating_sum, quality_sum, communication_sum, timeliness_sum)
SELECT r.reviewee_id, r.reviewee_role, count(*), sum(r.rating), sum(r.quality), sum(r.communication), sum(r.timeliness)
FROM reviews r JOIN seed_orders o ON o.id = r.order_id GROUP BY r.reviewee_id, r.reviewee_role
ON CONFLICT (user_id, role) DO UPDATE SET count = u.count + excluded.count,
    rating_sum = u.rating_sum + excluded.rating_sum, quality_sum = u.quality_sum + excluded.quality_sum,
    communication_sum = u.communication_sum + excluded.communication_sum,
    timeliness_sum = u.timeliness_sum + excluded.timeliness_sum;
UPDATE gigs g SET rating_sum = g.rating_sum + s.total, rating_count = g.rating_count + s.n,
    rating_average = (g.rating_sum + s.total)::float8 / (g.rating_count + s.n)
FROM (SELECT r.gig_id, sum(r.rating) AS total, count(*)::int AS n
      FROM reviews r JOIN seed_orders o ON o.id = r.order_id WHERE r.gig_id IS NOT NULL GROUP BY r.gig_id) s
WHERE g.id = s.gig_id;";

/// The catalogue's statements, step by step: word lists and row numbers in temporary tables,
/// then users, credentials, gigs, packages and tasks in chunks of `chunk` rows, then fresh
/// statistics.
fn catalogue_steps(size: CatalogueSize, hash: &str, chunk: i64) -> Vec<CatalogueStep> {
    let CatalogueSize { users, gigs, tasks } = size;
    vec![
        CatalogueStep::single("word lists", SEED_WORDS.to_owned()),
        CatalogueStep::single(
            "user numbers",
            format!(
                "CREATE TEMP TABLE seed_users AS
SELECT i, gen_random_uuid() AS id FROM generate_series(0::bigint, {users} - 1) AS i;
ALTER TABLE seed_users ADD PRIMARY KEY (i);
ANALYZE seed_users;"
            ),
        ),
        CatalogueStep::chunked(
            "users",
            users,
            chunk,
            |from, to| {
                format!(
                    r#"
INSERT INTO users (id, email, username, full_name, headline, bio, skills, languages, hourly_rate_cents,
                   is_available, verification_status, created_at, updated_at)
SELECT u.id, 'cat_user_' || u.i || '@catalogue.test', 'cat_user_' || u.i, 'Catalogue User ' || u.i,
       (SELECT word FROM seed_words WHERE kind = 'skill' AND n = u.i % 30) || ' specialist',
       'Seeded profile number ' || u.i || ' for demos and benchmarks.',
       ARRAY(SELECT word FROM seed_words WHERE kind = 'skill' AND n IN (u.i % 30, (u.i * 7 + 3) % 30, (u.i * 13 + 5) % 30)),
       CASE WHEN u.i % 4 = 0 THEN ARRAY['English','German'] ELSE ARRAY['English'] END,
       2000 + (u.i * 37 % 150) * 100,
       u.i % 5 <> 0,
       CASE WHEN u.i % 6 = 0 THEN 'VERIFIED' ELSE 'NONE' END,
       now() - ((u.i % 700) || ' days')::interval, now()
FROM seed_users u WHERE u.i >= {from} AND u.i < {to};"#
                )
            },
            |from, to| to - from,
        ),
        CatalogueStep::chunked(
            "credentials",
            users,
            chunk,
            |from, to| {
                format!(
                    "INSERT INTO credentials (user_id, password_hash)
SELECT id, '{hash}' FROM seed_users WHERE i >= {from} AND i < {to};"
                )
            },
            |from, to| to - from,
        ),
        CatalogueStep::single(
            "gig numbers",
            format!(
                "CREATE TEMP TABLE seed_gigs AS
SELECT g, gen_random_uuid() AS id, (SELECT id FROM seed_users WHERE i = (g * 7919) % {users}) AS owner_id,
       500 * (2 + (g * 31) % 200) AS price, 1 + (g % 14) AS days
FROM generate_series(0::bigint, {gigs} - 1) AS g;
ALTER TABLE seed_gigs ADD PRIMARY KEY (g);
ANALYZE seed_gigs;"
            ),
        ),
        CatalogueStep::chunked(
            "gigs",
            gigs,
            chunk,
            |from, to| {
                format!(
                    r#"
INSERT INTO gigs (id, owner_id, title, description, category, tags, status, min_price_cents, min_delivery_days,
                  views_count, created_at, updated_at, published_at)
SELECT s.id, s.owner_id,
       'I will ' || (SELECT word FROM seed_words WHERE kind = 'verb' AND n = s.g % 10) || ' your ' ||
           (SELECT word FROM seed_words WHERE kind = 'thing' AND n = (s.g / 10) % 15) || ' (#' || s.g || ')',
       'A complete service: I ' || (SELECT word FROM seed_words WHERE kind = 'verb' AND n = s.g % 10) ||
           ' your ' || (SELECT word FROM seed_words WHERE kind = 'thing' AND n = (s.g / 10) % 15) ||
           ' with care, clear communication and on-time delivery. Seeded gig number ' || s.g || '.',
       (SELECT word FROM seed_words WHERE kind = 'category' AND n = s.g % 8),
       ARRAY[(SELECT lower(word) FROM seed_words WHERE kind = 'skill' AND n = s.g % 30)],
       CASE WHEN s.g % 10 = 9 THEN 'DRAFT' ELSE 'ACTIVE' END,
       s.price, s.days, (s.g * 17) % 5000,
       now() - ((s.g % 365) || ' days')::interval - ((s.g % 1440) || ' minutes')::interval, now(),
       CASE WHEN s.g % 10 = 9 THEN NULL
            ELSE now() - ((s.g % 365) || ' days')::interval - ((s.g % 1440) || ' minutes')::interval END
FROM seed_gigs s WHERE s.g >= {from} AND s.g < {to};"#
                )
            },
            |from, to| to - from,
        ),
        CatalogueStep::chunked(
            "gig packages",
            gigs,
            chunk,
            |from, to| {
                let range = format!("g >= {from} AND g < {to}");
                format!(
                    "
INSERT INTO gig_packages (gig_id, tier, title, description, price_cents, delivery_days, revisions)
SELECT id, 'BASIC', 'Basic', 'The essentials.', price, days, 1 FROM seed_gigs WHERE {range}
UNION ALL
SELECT id, 'STANDARD', 'Standard', 'More scope and revisions.', price * 2, days + 2, 3 FROM seed_gigs
    WHERE {range} AND g % 3 <> 2
UNION ALL
SELECT id, 'PREMIUM', 'Premium', 'Everything, fastest support.', price * 4, days + 5, 10 FROM seed_gigs
    WHERE {range} AND g % 3 = 0;"
                )
            },
            // Every gig has a basic package, two in three a standard one, one in three a premium one.
            |from, to| 2 * (to - from) - residues(from, to, 3, 2) + residues(from, to, 3, 0),
        ),
        CatalogueStep::single("order numbers", seed_orders_sql(users)),
        CatalogueStep::chunked(
            "completed orders",
            gigs,
            chunk,
            |from, to| {
                format!(
                    "
INSERT INTO orders (id, client_id, freelancer_id, origin, gig_id, package_tier, title, amount_cents, currency,
                    fee_bps, status, revision_limit, funded_at, settled_at, cleared_at, created_at, updated_at)
SELECT id, client_id, freelancer_id, 'GIG', gig_id, 'BASIC', 'Seeded order #' || g, amount, 'USD', {SEED_FEE_BPS},
       'COMPLETED', 1, done_at - interval '3 days', done_at, done_at + interval '1 day', done_at - interval '4 days', done_at
FROM seed_orders WHERE g >= {from} AND g < {to};
INSERT INTO order_milestones (id, order_id, position, title, amount_cents)
SELECT gen_random_uuid(), id, 0, 'Delivery', amount FROM seed_orders WHERE g >= {from} AND g < {to};"
                )
            },
            move |from, to| if users < 2 { 0 } else { 2 * active_gigs(from, to) },
        ),
        CatalogueStep::chunked("ledger of the orders", gigs, chunk, seed_ledger_sql, move |from, to| {
            if users < 2 {
                0
            } else {
                10 * active_gigs(from, to)
            }
        }),
        CatalogueStep::chunked(
            "reviews",
            gigs,
            chunk,
            |from, to| {
                format!(
                    r#"
INSERT INTO reviews (id, order_id, gig_id, reviewer_id, reviewee_id, reviewee_role, rating, quality, communication,
                     timeliness, comment, created_at, window_closes_at, published_at)
SELECT gen_random_uuid(), id, gig_id, client_id, freelancer_id, 'FREELANCER', 3 + g % 3, 3 + (g / 3) % 3, 4 + g % 2,
       3 + (g / 7) % 3,
       (ARRAY['Great work, delivered as promised.', 'Clear communication and a solid result.',
              'Good value; a few rounds of changes were needed.', 'Fast, friendly and professional.'])[1 + g % 4],
       done_at + interval '2 hours', done_at + interval '14 days', done_at + interval '1 day'
FROM seed_orders WHERE g >= {from} AND g < {to}
UNION ALL
SELECT gen_random_uuid(), id, NULL, freelancer_id, client_id, 'CLIENT', 4 + g % 2, 4 + g % 2, 4 + (g / 2) % 2, 5,
       'A clear brief and prompt payment.', done_at + interval '5 hours', done_at + interval '14 days',
       done_at + interval '1 day'
FROM seed_orders WHERE g >= {from} AND g < {to};"#
                )
            },
            move |from, to| if users < 2 { 0 } else { 2 * active_gigs(from, to) },
        ),
        CatalogueStep::single("balances", seed_balances_sql()),
        CatalogueStep::single("books check", SEED_BOOKS_CHECK.to_owned()),
        CatalogueStep::single("rating aggregates", SEED_RATINGS.to_owned()),
        CatalogueStep::chunked(
            "tasks",
            tasks,
            chunk,
            |from, to| {
                format!(
                    r#"
INSERT INTO tasks (id, poster_id, title, description, category, skills_required, budget_type, budget_min_cents,
                   budget_max_cents, duration, location_type, status, created_at, updated_at, published_at)
SELECT gen_random_uuid(), (SELECT id FROM seed_users WHERE i = (t * 104729) % {users}),
       'Looking for someone to ' || (SELECT word FROM seed_words WHERE kind = 'verb' AND n = t % 10) || ' our ' ||
           (SELECT word FROM seed_words WHERE kind = 'thing' AND n = (t / 10) % 15) || ' (#' || t || ')',
       'We need help to ' || (SELECT word FROM seed_words WHERE kind = 'verb' AND n = t % 10) || ' our ' ||
           (SELECT word FROM seed_words WHERE kind = 'thing' AND n = (t / 10) % 15) ||
           '. Details shared after a short call. Seeded task number ' || t || '.',
       (SELECT word FROM seed_words WHERE kind = 'category' AND n = t % 8),
       ARRAY(SELECT word FROM seed_words WHERE kind = 'skill' AND n IN (t % 30, (t * 11 + 1) % 30)),
       CASE WHEN t % 3 = 0 THEN 'HOURLY' ELSE 'FIXED' END,
       10000 * (1 + t % 50), 10000 * (1 + t % 50) * 3,
       (ARRAY['LESS_THAN_A_WEEK','ONE_TO_FOUR_WEEKS','ONE_TO_THREE_MONTHS','MORE_THAN_THREE_MONTHS'])[1 + t % 4],
       'REMOTE', 'OPEN',
       now() - ((t % 60) || ' days')::interval, now(), now() - ((t % 60) || ' days')::interval
FROM generate_series({from}::bigint, {to} - 1) AS t;"#
                )
            },
            |from, to| to - from,
        ),
        CatalogueStep::single(
            "statistics",
            "DROP TABLE seed_orders;
DROP TABLE seed_gigs;
DROP TABLE seed_users;
DROP TABLE seed_words;
ANALYZE users;
ANALYZE gigs;
ANALYZE gig_packages;
ANALYZE tasks;
ANALYZE orders;
ANALYZE reviews;
ANALYZE user_ratings;
ANALYZE ledger_accounts;
ANALYZE ledger_transactions;
ANALYZE ledger_entries;"
                .to_owned(),
        ),
    ]
}

/// The words titles, skills and categories are made of, in a temporary table.
const SEED_WORDS: &str = r#"
CREATE TEMP TABLE seed_words (kind text, n int, word text);
INSERT INTO seed_words SELECT 'skill', ordinality::int - 1, w FROM unnest(ARRAY[
  'Rust','Go','Python','TypeScript','React','Vue','Node.js','PostgreSQL','GraphQL','Kubernetes','AWS','Docker',
  'Figma','Illustrator','Copywriting','SEO','Video editing','Shopify','WordPress','Flutter','Swift','Kotlin',
  'Data analysis','Machine learning','Prompt engineering','Solidity','Unity','Blender','Translation','Excel'
]) WITH ORDINALITY AS t(w);
INSERT INTO seed_words SELECT 'category', ordinality::int - 1, w FROM unnest(ARRAY[
  'development','design','writing','marketing','video','data','ai','translation'
]) WITH ORDINALITY AS t(w);
INSERT INTO seed_words SELECT 'verb', ordinality::int - 1, w FROM unnest(ARRAY[
  'build','design','fix','optimise','write','translate','automate','review','animate','migrate'
]) WITH ORDINALITY AS t(w);
INSERT INTO seed_words SELECT 'thing', ordinality::int - 1, w FROM unnest(ARRAY[
  'web app','landing page','logo','API','mobile app','blog posts','dashboard','online shop','data pipeline',
  'chatbot','explainer video','brand guide','database','newsletter','game prototype'
]) WITH ORDINALITY AS t(w);
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_range_once() {
        assert_eq!(chunk_bounds(25, 10).collect::<Vec<_>>(), [(0, 10), (10, 20), (20, 25)]);
        assert_eq!(chunk_bounds(10, 10).collect::<Vec<_>>(), [(0, 10)]);
        assert_eq!(chunk_bounds(0, 10).count(), 0);
    }

    #[test]
    fn residues_count_like_a_filter() {
        for (from, to) in [(0, 0), (0, 1), (0, 10), (3, 17), (5, 6), (9, 30)] {
            for remainder in 0..3 {
                let filtered = (from..to).filter(|g| g % 3 == remainder).count() as i64;
                assert_eq!(
                    residues(from, to, 3, remainder),
                    filtered,
                    "{from}..{to} % 3 == {remainder}"
                );
            }
        }
    }

    #[test]
    fn the_catalogue_plan_counts_every_row_it_writes() {
        let size = CatalogueSize {
            users: 40,
            gigs: 205,
            tasks: 60,
        };
        let steps = catalogue_steps(size, "hash", 50);
        let names: Vec<&str> = steps.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "word lists",
                "user numbers",
                "users",
                "credentials",
                "gig numbers",
                "gigs",
                "gig packages",
                "order numbers",
                "completed orders",
                "ledger of the orders",
                "reviews",
                "balances",
                "books check",
                "rating aggregates",
                "tasks",
                "statistics"
            ]
        );
        let rows = |name: &str| steps.iter().find(|s| s.name == name).map(CatalogueStep::rows);
        assert_eq!(rows("users"), Some(40));
        assert_eq!(rows("gigs"), Some(205));
        // 205 basic, 137 standard (g % 3 <> 2), 69 premium (g % 3 = 0).
        assert_eq!(rows("gig packages"), Some(205 + 137 + 69));
        // One completed order (and its milestone) per active gig: 205 less 20 drafts.
        assert_eq!(rows("completed orders"), Some(2 * 185));
        assert_eq!(rows("ledger of the orders"), Some(10 * 185));
        assert_eq!(rows("reviews"), Some(2 * 185));
        assert_eq!(rows("tasks"), Some(60));
        assert_eq!(rows("statistics"), Some(0));
        let gig_statements = &steps[5].statements;
        assert_eq!(gig_statements.len(), 5);
        assert!(gig_statements[4].0.contains("s.g >= 200 AND s.g < 205"));
    }
}
