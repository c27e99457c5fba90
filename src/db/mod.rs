//! PostgreSQL plumbing: the connection pool, embedded migrations, creating the database
//! when it is missing, and a statement counter that tests use to prove query budgets;
//! keyset paging ([`page`]) and enums stored as text ([`text_enum`]) for every domain; SQL
//! that stays prepared ([`fixed`], [`prerendered`]).

pub mod fixed;
pub mod page;
pub mod prerendered;
pub mod schema;
pub mod text_enum;

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::Context;
use diesel::{connection::InstrumentationEvent, ConnectionError};
use diesel_async::{
    async_connection_wrapper::AsyncConnectionWrapper,
    pooled_connection::{deadpool, AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod},
    AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use crate::progress::Progress;

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PgPool = deadpool::Pool<AsyncPgConnection>;
pub type DbConn = deadpool::Object<AsyncPgConnection>;
pub type PoolError = deadpool::PoolError;

/// A statement that runs longer than this is cancelled by PostgreSQL.
const STATEMENT_TIMEOUT_MS: u64 = 15_000;

/// The pool plus a count of statements it has run.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    statements: Arc<AtomicU64>,
}

impl Db {
    /// Opens a pool of `size` connections to `url`. Connections are made lazily.
    pub fn connect(url: &str, size: usize) -> anyhow::Result<Self> {
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        let mut manager_config = ManagerConfig::default();
        // The default ("verified") recycling runs `SELECT 1` on every checkout: a round trip
        // per request for a check the first real query makes anyway.
        manager_config.recycling_method = RecyclingMethod::Fast;
        manager_config.custom_setup = Box::new(move |url| {
            let counter = counter.clone();
            async move {
                let mut conn = AsyncPgConnection::establish(url).await?;
                conn.batch_execute(&format!(
                    "SET statement_timeout = {STATEMENT_TIMEOUT_MS}; SET TIME ZONE 'UTC'"
                ))
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                // Statements in flight on this connection, oldest first (diesel-async may
                // pipeline several); each has a span while tracing is on.
                let mut open: VecDeque<tracing::Span> = VecDeque::new();
                conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
                    InstrumentationEvent::StartQuery { query, .. } => {
                        counter.fetch_add(1, Ordering::Relaxed);
                        // RUST_LOG=gigmarket::sql=trace shows every statement (for replaying
                        // them in pgbench baselines); formatting only happens when enabled.
                        tracing::trace!(target: "gigmarket::sql", sql = %query);
                        // A disabled span keeps the queue aligned with the statements.
                        open.push_back(if crate::telemetry::spans_enabled() {
                            tracing::info_span!(
                                "db.statement",
                                otel.name = "db.statement",
                                otel.kind = "client",
                                db.system = "postgresql",
                                db.statement = %query,
                                error = tracing::field::Empty,
                            )
                        } else {
                            tracing::Span::none()
                        });
                    }
                    InstrumentationEvent::FinishQuery { error, .. } => {
                        if let Some(span) = open.pop_front() {
                            if let Some(error) = error {
                                span.record("error", tracing::field::display(error));
                            }
                        }
                    }
                    _ => {}
                });
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
        let pool = deadpool::Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(::deadpool::Runtime::Tokio1)
            .build()
            .context("building the database pool")?;
        Ok(Self { pool, statements })
    }

    /// A pooled connection.
    pub async fn conn(&self) -> Result<DbConn, PoolError> {
        self.pool.get().await
    }

    /// Statements run through this pool so far (all connections, all requests).
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Pool size, idle connections and waiting callers, for metrics.
    pub fn status(&self) -> ::deadpool::Status {
        self.pool.status()
    }
}

/// Creates the database named in `url` when it does not exist yet. Only the "does not exist"
/// case triggers a connection to the server's maintenance database.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    match AsyncPgConnection::establish(url).await {
        Ok(_) => Ok(()),
        Err(e) if e.to_string().contains("does not exist") => {
            let parsed = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
            let name = parsed.path().trim_start_matches('/').to_owned();
            anyhow::ensure!(!name.is_empty(), "DATABASE_URL names no database");
            let mut admin_url = parsed.clone();
            admin_url.set_path("/postgres");
            let mut admin = AsyncPgConnection::establish(admin_url.as_str())
                .await
                .context("connecting to the maintenance database to create the app database")?;
            tracing::info!(database = %name, "database does not exist; creating it");
            match admin
                .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
                .await
            {
                Ok(()) => Ok(()),
                // Another instance created it between our check and now.
                Err(e) if e.to_string().contains("already exists") => Ok(()),
                Err(e) => Err(e).context("CREATE DATABASE"),
            }
        }
        Err(e) => Err(e).context("connecting to the database"),
    }
}

/// Runs pending migrations, logging each one. Several instances starting together
/// serialise on an advisory lock, so each migration runs once.
pub async fn run_migrations(url: &str) -> anyhow::Result<()> {
    migrate(url, None).await.map(|_| ())
}

/// `gigmarket migrate`: runs pending migrations as [`run_migrations`] does, reporting each on
/// `progress` ("applying 3/11 …") instead of the log. Returns how many were applied.
pub async fn run_migrations_with_progress(url: &str, progress: &Progress) -> anyhow::Result<usize> {
    migrate(url, Some(progress.clone())).await
}

/// Applies the pending migrations one by one under the migration lock; each is reported on
/// `progress` when there is one, logged otherwise.
async fn migrate(url: &str, progress: Option<Progress>) -> anyhow::Result<usize> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        use diesel::{Connection, RunQueryDsl};
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
            .context("connecting to run migrations")?;
        diesel::sql_query("SELECT pg_advisory_lock(7264001)").execute(&mut conn)?;
        let result = apply_pending(&mut conn, progress.as_ref());
        diesel::sql_query("SELECT pg_advisory_unlock(7264001)").execute(&mut conn)?;
        result
    })
    .await
    .context("migration task")?
}

fn apply_pending(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
    progress: Option<&Progress>,
) -> anyhow::Result<usize> {
    let pending = conn
        .pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("listing pending migrations: {e}"))?;
    let total = pending.len();
    if let Some(progress) = progress {
        progress.set_length(total as u64);
    }
    for (index, migration) in pending.iter().enumerate() {
        let name = migration.name().to_string();
        if let Some(progress) = progress {
            progress.set_message(format!("applying {}/{total} {name}", index + 1));
        }
        let version = conn
            .run_migration(migration.as_ref())
            .map_err(|e| anyhow::anyhow!("running migration {name}: {e}"))?;
        match progress {
            Some(progress) => progress.inc(1),
            None => tracing::info!(%version, "applied migration"),
        }
    }
    Ok(total)
}

/// Quotes a PostgreSQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The constraint a unique violation hit, if `e` is one.
pub fn unique_violation(e: &diesel::result::Error) -> Option<String> {
    match e {
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, info) => {
            Some(info.constraint_name().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

/// Runs `SELECT 1` on a pooled connection.
pub async fn ping(db: &Db) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let mut conn = db.conn().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}

/// Key of the lock held by the one instance allowed to serve a database without Redis.
const IN_PROCESS_BUS_LOCK: i64 = 7_264_020;

/// Without Redis, events fan out inside one process, so a second instance on the same
/// database would publish some events into its own hub and mark them sent: subscribers of
/// the first would silently miss them. This takes a session-level advisory lock on a
/// dedicated connection, held for as long as the returned connection lives.
pub async fn claim_single_instance(url: &str) -> anyhow::Result<AsyncPgConnection> {
    #[derive(diesel::QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        claimed: bool,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting for the single-instance lock")?;
    let claimed = diesel::sql_query(format!("SELECT pg_try_advisory_lock({IN_PROCESS_BUS_LOCK}) AS claimed"))
        .get_result::<Claimed>(&mut conn)
        .await?
        .claimed;
    anyhow::ensure!(
        claimed,
        "another gigmarket instance already serves this database without REDIS_URL; \
         run several instances only with REDIS_URL set (events would be lost otherwise)"
    );
    Ok(conn)
}

/// Model functions that read rows of `$table` by primary key, named by the caller: `find:`
/// the row as it is, `lock:` the row locked until the transaction ends, `many:` the rows with
/// any of these keys (in no particular order). The key is a `Uuid` unless `key:` says
/// otherwise. Like [`status_listing!`], it uses the caller's imports: the table's module,
/// `AsyncPgConnection`, `QueryResult` and diesel's query traits.
macro_rules! by_id {
    ($row:ty, $table:ident, key: $key:ty $(, find: $find:ident)? $(, lock: $lock:ident)? $(, many: $many:ident)?) => {
        $(
            /// The row with this key, if any.
            pub async fn $find(conn: &mut AsyncPgConnection, id: $key) -> QueryResult<Option<$row>> {
                $table::table.find(id).select(<$row>::as_select()).first(conn).await.optional()
            }
        )?
        $(
            /// The row with this key, if any, locked until the transaction ends.
            pub async fn $lock(conn: &mut AsyncPgConnection, id: $key) -> QueryResult<Option<$row>> {
                $table::table
                    .find(id)
                    .select(<$row>::as_select())
                    .for_update()
                    .first(conn)
                    .await
                    .optional()
            }
        )?
        $(
            /// The rows with these keys, in no particular order.
            pub async fn $many(conn: &mut AsyncPgConnection, ids: &[$key]) -> QueryResult<Vec<$row>> {
                $table::table
                    .filter($table::id.eq_any(ids))
                    .select(<$row>::as_select())
                    .load(conn)
                    .await
            }
        )?
    };
    ($row:ty, $table:ident $(, find: $find:ident)? $(, lock: $lock:ident)? $(, many: $many:ident)?) => {
        $crate::db::by_id!($row, $table, key: Uuid $(, find: $find)? $(, lock: $lock)? $(, many: $many)?);
    };
}
pub(crate) use by_id;

/// Model functions for a table listed newest first (by its time-ordered `id`) and narrowed
/// by an optional `status` column of enum type `$status`: `page_query(status, before, limit)`
/// (public so that tests can EXPLAIN it), `count(conn, status)` and `listing(conn, status,
/// request)` (a [`page::Page`] for a [`page::PageRequest`] keyed by id).
macro_rules! status_listing {
    ($table:ident, $row:ty, $status:ty) => {
        fn filtered(status: Option<$status>) -> $table::BoxedQuery<'static, diesel::pg::Pg> {
            let mut query = $table::table.into_boxed();
            if let Some(status) = status {
                query = query.filter($table::status.eq(status));
            }
            query
        }

        /// The statement of a page (public so that tests can EXPLAIN it).
        pub fn page_query(
            status: Option<$status>,
            before: Option<Uuid>,
            limit: i64,
        ) -> $table::BoxedQuery<
            'static,
            diesel::pg::Pg,
            diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<$row, diesel::pg::Pg>>,
        > {
            let mut query = filtered(status)
                .select(<$row>::as_select())
                .order($table::id.desc())
                .limit(limit);
            if let Some(before) = before {
                query = query.filter($table::id.lt(before));
            }
            query
        }

        /// How many rows, optionally in one status.
        pub async fn count(conn: &mut AsyncPgConnection, status: Option<$status>) -> QueryResult<i64> {
            filtered(status).count().get_result(conn).await
        }

        /// A page, newest first, optionally in one status.
        pub async fn listing(
            conn: &mut AsyncPgConnection,
            status: Option<$status>,
            request: &$crate::db::page::PageRequest<Uuid>,
        ) -> QueryResult<$crate::db::page::Page<$row>> {
            request
                .fetch(
                    conn,
                    async |c, before, limit| page_query(status, before.copied(), limit).load(c).await,
                    async |c| count(c, status).await,
                )
                .await
        }
    };
}
pub(crate) use status_listing;

/// Rows of a one-to-many relation grouped by their owner's id, in the order they were read,
/// with an empty list for every requested owner that has none.
pub fn group_by_owner<R>(
    owners: &[uuid::Uuid],
    rows: Vec<R>,
    owner_of: impl Fn(&R) -> uuid::Uuid,
) -> std::collections::HashMap<uuid::Uuid, Vec<R>> {
    let mut grouped: std::collections::HashMap<uuid::Uuid, Vec<R>> =
        owners.iter().map(|id| (*id, Vec::new())).collect();
    for row in rows {
        grouped.entry(owner_of(&row)).or_default().push(row);
    }
    grouped
}

/// What one run of a claiming job did: the rows it claimed (a full batch means more may be
/// waiting) and what it counts toward the job's total (the rows, what it sent for them, or a
/// tally of several counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch<T = usize> {
    pub claimed: usize,
    pub counted: T,
}

impl Batch {
    /// A run that counts the rows it claimed.
    pub fn of(claimed: usize) -> Self {
        Self {
            claimed,
            counted: claimed,
        }
    }
}

/// Runs `batch` (claim at most `size` rows with `SKIP LOCKED` and deal with them, in a
/// transaction of its own) until a run claims fewer than `size`; returns the sum of what the
/// runs counted. The scheduled and start-up jobs drain their backlogs this way, a batch at a
/// time, so a long backlog holds no one transaction or connection throughout, and several
/// instances share it.
pub async fn drain<T, E, Run>(size: i64, mut batch: impl FnMut() -> Run) -> Result<T, E>
where
    T: Default + std::ops::AddAssign,
    Run: std::future::Future<Output = Result<Batch<T>, E>>,
{
    let full = usize::try_from(size).unwrap_or(usize::MAX);
    let mut total = T::default();
    loop {
        let run = batch().await?;
        total += run.counted;
        if run.claimed < full {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(super::quote_ident("gig\"market"), "\"gig\"\"market\"");
    }

    #[tokio::test]
    async fn drain_stops_at_the_first_short_batch_and_sums_what_runs_counted() {
        use super::{drain, Batch};
        // Claims 3, 3, 1 (short: stop), never reaching the fourth run; counts twice the claims.
        let mut claims = [3, 3, 1, 3].into_iter();
        let mut runs = 0;
        let total = drain::<usize, (), _>(3, || {
            runs += 1;
            let claimed = claims.next().unwrap_or(0);
            async move {
                Ok(Batch {
                    claimed,
                    counted: claimed * 2,
                })
            }
        })
        .await;
        assert_eq!(total, Ok(14));
        assert_eq!(runs, 3);
        // An empty first batch ends at once; an error ends it with the error.
        assert_eq!(drain::<usize, (), _>(3, || async { Ok(Batch::of(0)) }).await, Ok(0));
        assert_eq!(drain::<usize, &str, _>(3, || async { Err("down") }).await, Err("down"));
    }
}
