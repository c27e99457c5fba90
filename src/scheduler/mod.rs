//! The scheduler: every periodic job of the server, named, in one registry
//! ([`jobs::JOBS`]); [`spawn`] runs each on its cadence inside the process, and
//! `POST /internal/cron/cleanup` runs them all once for an external cron ([`run_all`]).
//!
//! Every job is idempotent and safe with several instances running:
//! - a run holds a session advisory lock named after its job (`pg_try_advisory_lock` on
//!   `hashtext(name)`, in a key space of the scheduler's own) on a connection of
//!   `locks_db`, for as long as the run lasts; a run that finds the lock taken (the job is
//!   running on another instance, or in this instance's loop while the route asks) does
//!   nothing and reports `skipped`;
//! - underneath, the work is safe without the lock: rows are claimed with `SKIP LOCKED`,
//!   money moves under unique ledger keys and purges are plain `DELETE`s. The lock saves
//!   doing the same work twice at once; it is not what makes the work correct.
//!
//! A run reports a few counts (released, expired, deleted …); a failure is logged with the
//! job's name and cause, and reported with its public message only. This module is wiring
//! (like `lib.rs`): it calls into the domains, no domain calls it.

pub mod jobs;

use std::{collections::BTreeMap, time::Duration};

use diesel::{sql_types, QueryableByName};
use diesel_async::{pooled_connection::deadpool::Object, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde_json::{json, Value};

use crate::{
    db::DbConn,
    error::{AppError, AppResult},
    state::AppState,
    task,
};

/// The first key of the scheduler's advisory locks (the two-key form; the one-key locks of
/// migrations, the relay and the single-instance claim live in another key space).
const LOCK_SPACE: i32 = 7_264_100;

/// A job's work: one run, answering what it did.
pub type Run = for<'a> fn(&'a AppState) -> BoxFuture<'a, AppResult<Counts>>;

/// A named periodic job.
pub struct Job {
    /// Its name in logs and in the route's report; also the name of its lock.
    pub name: &'static str,
    /// How often the in-process scheduler runs it (the first run comes one period after
    /// start-up).
    pub every: Duration,
    run: Run,
}

impl Job {
    /// A job called `name` that the scheduler runs `every` so often.
    pub const fn new(name: &'static str, every: Duration, run: Run) -> Self {
        Self { name, every, run }
    }
}

/// What a run did, as named counts (`{"released": 2, "transfersQueued": 1}`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts(Vec<(&'static str, usize)>);

impl Counts {
    /// One count.
    pub fn of(name: &'static str, count: usize) -> Self {
        Self(vec![(name, count)])
    }

    /// These counts and one more.
    pub fn and(mut self, name: &'static str, count: usize) -> Self {
        self.0.push((name, count));
        self
    }

    /// The count called `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// Whether the run did anything at all.
    pub fn any(&self) -> bool {
        self.0.iter().any(|(_, c)| *c > 0)
    }
}

/// How one run of a job ended.
#[derive(Debug)]
pub enum Outcome {
    Done(Counts),
    /// The job was already running (on another instance, or in another loop of this one).
    Skipped,
    Failed(AppError),
}

impl Outcome {
    /// The report entry: `{"ok": true, …counts}`, `{"ok": true, "skipped": true}` or
    /// `{"ok": false, "error": "<public message>"}`.
    pub fn to_json(&self) -> Value {
        match self {
            Outcome::Done(counts) => {
                let mut entry = serde_json::Map::from_iter([("ok".to_owned(), json!(true))]);
                entry.extend(counts.0.iter().map(|(name, count)| ((*name).to_owned(), json!(count))));
                Value::Object(entry)
            }
            Outcome::Skipped => json!({ "ok": true, "skipped": true }),
            Outcome::Failed(e) => json!({ "ok": false, "error": e.public_message() }),
        }
    }

    /// Whether the run failed (a skipped run did not).
    pub fn failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
    }
}

/// What [`run_all`] did: each job's outcome, in registry order, and the time it took.
#[derive(Debug)]
pub struct Report {
    pub jobs: Vec<(&'static str, Outcome)>,
    pub took: Duration,
}

impl Report {
    /// The outcome of the job called `name`.
    pub fn outcome(&self, name: &str) -> Option<&Outcome> {
        self.jobs.iter().find(|(n, _)| *n == name).map(|(_, o)| o)
    }
}

/// Runs `job` once under its lock (see the module documentation).
pub async fn run(app: &AppState, job: &Job) -> Outcome {
    let lock = match JobLock::try_take(app, job.name).await {
        Ok(Some(lock)) => lock,
        Ok(None) => return Outcome::Skipped,
        Err(e) => return failed(job, e),
    };
    let result = (job.run)(app).await;
    lock.release().await;
    match result {
        Ok(counts) => Outcome::Done(counts),
        Err(e) => failed(job, e),
    }
}

fn failed(job: &Job, e: AppError) -> Outcome {
    tracing::warn!(job = job.name, error = e.log_text(), "scheduled job failed");
    Outcome::Failed(e)
}

/// Runs every job once, one after the other, in registry order.
pub async fn run_all(app: &AppState) -> Report {
    let started = std::time::Instant::now();
    let mut report = Vec::with_capacity(jobs::JOBS.len());
    for job in jobs::JOBS {
        report.push((job.name, run(app, job).await));
    }
    Report {
        jobs: report,
        took: started.elapsed(),
    }
}

/// Runs the job called `name` once; `None` when there is no such job.
pub async fn run_named(app: &AppState, name: &str) -> Option<Outcome> {
    let job = jobs::JOBS.iter().find(|job| job.name == name)?;
    Some(run(app, job).await)
}

/// Starts the in-process scheduler: one loop per cadence, each running its jobs one after
/// the other every period (so that the ten-minute purges do not all take a connection at
/// once). Tasks written before public locations existed get theirs first.
pub fn spawn(app: AppState) {
    let backfill = app.clone();
    tokio::spawn(async move {
        match task::service::backfill_public_points(&backfill).await {
            Ok(0) => {}
            Ok(placed) => tracing::info!(placed, "public task locations filled in"),
            Err(e) => tracing::warn!(error = e.log_text(), "filling in public task locations failed"),
        }
    });
    let mut cadences: BTreeMap<Duration, Vec<&'static Job>> = BTreeMap::new();
    for job in jobs::JOBS {
        cadences.entry(job.every).or_default().push(job);
    }
    for (every, due) in cadences {
        let app = app.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                for job in &due {
                    if let Outcome::Done(counts) = run(&app, job).await {
                        if counts.any() {
                            tracing::info!(job = job.name, ?counts, "scheduled job did work");
                        }
                    }
                }
            }
        });
    }
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = sql_types::Bool)]
    locked: bool,
}

/// A job's advisory lock, held by a connection of `locks_db` until [`JobLock::release`].
struct JobLock {
    conn: Option<DbConn>,
    name: &'static str,
}

impl JobLock {
    /// The lock of the job called `name`, or `None` when someone holds it.
    async fn try_take(app: &AppState, name: &'static str) -> AppResult<Option<Self>> {
        let mut conn = app.locks_db.conn().await?;
        let locked = lock_query("pg_try_advisory_lock", name, &mut conn).await?;
        Ok(locked.then_some(Self { conn: Some(conn), name }))
    }

    /// Gives the lock back; the connection returns to the pool only when the unlock is
    /// confirmed.
    async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        match lock_query("pg_advisory_unlock", self.name, &mut conn).await {
            Ok(true) => {}
            outcome => {
                tracing::warn!(
                    job = self.name,
                    ?outcome,
                    "a job lock was not released; closing its connection"
                );
                discard(conn);
            }
        }
    }
}

impl Drop for JobLock {
    // A run cut short (its task cancelled) never reached `release`: closing the connection
    // is what gives the lock back; a pooled connection would keep holding it.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            discard(conn);
        }
    }
}

/// Takes `conn` out of its pool and closes it (PostgreSQL then drops its session locks).
fn discard(conn: DbConn) {
    drop(Object::take(conn));
}

async fn lock_query(function: &str, name: &str, conn: &mut AsyncPgConnection) -> diesel::QueryResult<bool> {
    diesel::sql_query(format!("SELECT {function}($1, hashtext($2)) AS locked"))
        .bind::<sql_types::Int4, _>(LOCK_SPACE)
        .bind::<sql_types::Text, _>(name)
        .get_result::<Locked>(conn)
        .await
        .map(|row| row.locked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_entry_carries_its_counts_or_only_a_public_message() {
        let done = Outcome::Done(Counts::of("released", 2).and("transfersQueued", 1));
        assert_eq!(
            done.to_json(),
            json!({ "ok": true, "released": 2, "transfersQueued": 1 })
        );
        assert_eq!(Outcome::Skipped.to_json(), json!({ "ok": true, "skipped": true }));
        let failed = Outcome::Failed(AppError::internal(anyhow::anyhow!("connection refused at 10.0.0.7")));
        let entry = failed.to_json();
        assert_eq!(entry["ok"], json!(false));
        assert!(!entry.to_string().contains("10.0.0.7"), "{entry}");
    }

    #[test]
    fn job_names_are_unique_and_cadences_positive() {
        for (i, job) in jobs::JOBS.iter().enumerate() {
            assert!(!job.every.is_zero(), "{}", job.name);
            assert!(
                jobs::JOBS[i + 1..].iter().all(|other| other.name != job.name),
                "{} twice",
                job.name
            );
        }
    }
}
