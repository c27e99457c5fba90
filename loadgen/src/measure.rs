//! Measuring a request rate against its baseline, run by run interleaved: the catalogue,
//! nearby, user-by-username and sign-in workloads. Each function takes its settings
//! explicitly ([`RateSettings`]), so the command line and the `table` workload (which starts
//! its own server) call the same code.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use gigmarket::{
    auth::password::Passwords,
    progress::{Progress, Unit},
};

use crate::{
    baseline::{self, Pgbench, QueryMode},
    catalogue, fanout, nearby,
    peer::PeerReport,
    peer_run::{self, PeerSettings},
    places,
    report::WorkloadReport,
    stats::RunFigures,
    subscribers,
    workload::{HttpLoad, Operation},
    USER_PASSWORD, USER_PREFIX,
};

/// How long and how often a workload is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Measured runs (each a baseline run then a server run).
    pub runs: usize,
    /// Seconds per run.
    pub duration: u64,
    /// Seconds of unmeasured load before the runs; 0 skips it.
    pub warmup: u64,
}

/// Where and how a rate workload measures: the server at `url` on `database_url`.
#[derive(Debug, Clone)]
pub struct RateSettings {
    pub url: String,
    pub database_url: String,
    /// The pgbench program.
    pub pgbench: PathBuf,
    pub pgbench_mode: QueryMode,
    /// HTTP connections and pgbench clients.
    pub connections: usize,
    /// Load users seeded (`load_user_0` …).
    pub users: usize,
    pub timing: Timing,
}

/// A catalogue workload's figures: against pgbench alone, or beside the peer as well.
pub enum CatalogueReport {
    Plain(WorkloadReport),
    WithPeer(PeerReport),
}

impl CatalogueReport {
    pub fn render(&self) -> String {
        match self {
            CatalogueReport::Plain(report) => report.render(),
            CatalogueReport::WithPeer(report) => report.render(),
        }
    }

    /// The larger share of failed requests of gigmarket (and the peer).
    pub fn error_rate(&self) -> f64 {
        match self {
            CatalogueReport::Plain(report) => report.server_error_rate(),
            CatalogueReport::WithPeer(report) => report.error_rate(),
        }
    }
}

/// Measures a catalogue workload (feed, feed-without-reviews, gig-by-id) against pgbench,
/// and beside the peer when `peer` is given.
pub async fn catalogue(
    settings: &RateSettings,
    operation: Operation,
    peer: Option<&PeerSettings>,
) -> anyhow::Result<CatalogueReport> {
    let (load, pgbench, ids) = catalogue::prepare(
        operation,
        &settings.url,
        &settings.database_url,
        &settings.pgbench,
        settings.connections,
    )
    .await?;
    let pgbench = pgbench.in_mode(settings.pgbench_mode);
    let Some(peer) = peer else {
        return Ok(CatalogueReport::Plain(
            measure(&settings.timing, &load, Baseline::Pgbench(pgbench)).await?,
        ));
    };
    let Timing { runs, duration, warmup } = settings.timing;
    let report = peer_run::side_by_side(
        peer,
        &settings.url,
        operation,
        (&load, &pgbench),
        &ids,
        (runs, duration, warmup),
    )
    .await?;
    Ok(CatalogueReport::WithPeer(report))
}

/// What a workload's server figures are compared with.
pub enum Baseline {
    Pgbench(Pgbench),
    Argon2 {
        passwords: Passwords,
        hash: String,
        tasks: usize,
    },
}

impl Baseline {
    fn describe(&self) -> String {
        match self {
            Baseline::Pgbench(pgbench) => format!(
                "pgbench running the statements the server runs for one request ({})",
                pgbench.version
            ),
            Baseline::Argon2 { tasks, .. } => format!(
                "argon2id verifications per second in-process with gigmarket's Passwords, \
                 {tasks} parallel tasks"
            ),
        }
    }

    fn command(&self, duration: Duration) -> String {
        match self {
            Baseline::Pgbench(pgbench) => pgbench.command_line(duration),
            Baseline::Argon2 { tasks, .. } => format!(
                "{tasks} × loop {{ Passwords::verify(\"{USER_PASSWORD}\", Some(hash)) }} for {} s",
                duration.as_secs()
            ),
        }
    }

    async fn run(&self, duration: Duration) -> anyhow::Result<RunFigures> {
        match self {
            Baseline::Pgbench(pgbench) => Ok(pgbench.run(duration).await?.figures()),
            Baseline::Argon2 { passwords, hash, tasks } => {
                let (tally, elapsed) = baseline::argon2_run(passwords, USER_PASSWORD, hash, *tasks, duration).await?;
                if let Some(error) = &tally.first_error {
                    anyhow::bail!("the argon2id baseline failed: {error}");
                }
                Ok(tally.figures(elapsed))
            }
        }
    }
}

/// Seeds the located tasks (posted by the load users), replays the server's statements for
/// each search centre into pgbench scripts, measures, then counts the server's statements
/// per request from its `/metrics`.
pub async fn nearby(settings: &RateSettings, tasks: usize) -> anyhow::Result<WorkloadReport> {
    let db = fanout::connect(&settings.database_url).await?;
    let names: Vec<String> = (0..settings.users).map(|i| format!("{USER_PREFIX}{i}")).collect();
    let posters = db
        .query("SELECT id::text FROM users WHERE username = ANY($1)", &[&names])
        .await
        .context("reading the load users")?
        .iter()
        .map(|row| Ok(row.try_get::<_, String>(0)?.parse()?))
        .collect::<anyhow::Result<Vec<uuid::Uuid>>>()?;
    nearby::seed(&settings.database_url, tasks, &posters).await?;
    let open: i64 = db
        .query_one(
            "SELECT count(*) FROM tasks WHERE status = 'OPEN' AND geohash IS NOT NULL",
            &[],
        )
        .await?
        .try_get(0)?;
    eprintln!("nearbyTasks: {open} open located tasks");
    let mut replays = Vec::with_capacity(nearby::SEARCH_POINTS);
    let progress = Progress::new("nearbyTasks: replaying searches", Unit::Items("centres"));
    progress.set_length(nearby::SEARCH_POINTS as u64);
    for (point, origin) in nearby::search_points() {
        replays.push(nearby::replay(&db, point, origin).await?);
        progress.inc(1);
    }
    progress.finish(format_args!("{} centres replayed", replays.len()));
    let summary = nearby::ReplaySummary::of(&replays);
    let bodies = replays.iter().map(|r| nearby::body(r.point)).collect();
    let load = HttpLoad::from_bodies(Operation::Nearby, &settings.url, bodies, settings.connections)?;
    let scripts: Vec<String> = replays.iter().map(nearby::pgbench_script).collect();
    let pgbench = Pgbench::with_scripts(
        &settings.pgbench,
        &settings.database_url,
        "nearby",
        &scripts,
        settings.connections,
    )
    .await?
    .in_mode(settings.pgbench_mode);
    let report = measure(&settings.timing, &load, Baseline::Pgbench(pgbench)).await?;

    // Statements per request: the counter's growth over a short extra run, less what the
    // idle server (relay, jobs) runs in the same time.
    let client = reqwest::Client::builder().no_proxy().build()?;
    let window = Duration::from_secs(3);
    let idle_start = nearby::read_statements(&client, &settings.url).await?;
    tokio::time::sleep(window).await;
    let idle = (nearby::read_statements(&client, &settings.url).await? - idle_start) / window.as_secs_f64();
    let before = nearby::read_statements(&client, &settings.url).await?;
    let (tally, elapsed) = load.run(window).await?;
    let after = nearby::read_statements(&client, &settings.url).await?;
    let per_request = nearby::per_request(after - before, idle, elapsed, tally.successes + tally.errors);
    let areas: Vec<&str> = places::METROS.iter().map(|m| m.name).collect();
    println!(
        "nearbyTasks: {open} open located tasks, seeded in {} metropolitan areas ({}) and around them  ",
        areas.len(),
        areas.join(", ")
    );
    println!("{}", summary.render());
    println!(
        "server statements per request (from /metrics over an extra {} s run of {} requests, idle rate \
         {idle:.1}/s subtracted): {}\n",
        window.as_secs(),
        tally.successes + tally.errors,
        per_request.map_or("n/a".to_owned(), |p| format!("{p:.2}"))
    );
    Ok(report)
}

/// Seeds the load users with the server's own code, checks that every one of them exists,
/// and returns the server's password hasher for the sign-in baseline.
pub async fn seed_users(database_url: &str, users: usize) -> anyhow::Result<Passwords> {
    let app = subscribers::tools_app(database_url).await?;
    let progress = Progress::new("seeding users", Unit::Items("users"));
    let created = gigmarket::seed::load_users_with_progress(&app, USER_PREFIX, users, USER_PASSWORD, &progress)
        .await
        .context("seeding users")?;
    let mut missing = Vec::new();
    for i in 0..users {
        let username = format!("{USER_PREFIX}{i}");
        let found = gigmarket::profile::service::find_by_username(&app.db, &username)
            .await
            .map_err(|e| anyhow::anyhow!("looking up {username}: {e:?}"))?;
        if found.is_none() {
            missing.push(username);
        }
    }
    if let Some(first) = missing.first() {
        anyhow::bail!(
            "{} of the {} load users are missing after seeding (first: {first}); every request \
             for them would fail",
            missing.len(),
            users
        );
    }
    progress.finish(format_args!(
        "seeded {created} new users; {} users {USER_PREFIX}0…{} present",
        users,
        users - 1
    ));
    Ok(app.passwords.clone())
}

pub async fn user_by_username(settings: &RateSettings) -> anyhow::Result<WorkloadReport> {
    let load = HttpLoad::new(
        Operation::UserByUsername,
        &settings.url,
        USER_PREFIX,
        settings.users,
        USER_PASSWORD,
        settings.connections,
    )?;
    let pgbench = Pgbench::prepare(
        &settings.pgbench,
        &settings.database_url,
        USER_PREFIX,
        settings.users,
        settings.connections,
    )
    .await?
    .in_mode(settings.pgbench_mode);
    measure(&settings.timing, &load, Baseline::Pgbench(pgbench)).await
}

pub async fn sign_in(
    settings: &RateSettings,
    connections: Option<usize>,
    cpus: usize,
    passwords: &Passwords,
) -> anyhow::Result<WorkloadReport> {
    let connections = connections.unwrap_or_else(|| (2 * cpus).min(settings.connections));
    let load = HttpLoad::new(
        Operation::SignIn,
        &settings.url,
        USER_PREFIX,
        settings.users,
        USER_PASSWORD,
        connections,
    )?;
    let hash = passwords.hash(USER_PASSWORD.to_owned()).await?;
    let baseline = Baseline::Argon2 {
        passwords: passwords.clone(),
        hash,
        tasks: cpus,
    };
    measure(&settings.timing, &load, baseline).await
}

/// Probes, warms up, then alternates baseline and server runs. The progress counts the
/// seconds of load planned (warm-ups and runs, baseline and server); a clock moves it, so no
/// request ever touches it.
pub async fn measure(timing: &Timing, load: &HttpLoad, baseline: Baseline) -> anyhow::Result<WorkloadReport> {
    let name = load.operation().name();
    load.probe().await?;
    let duration = Duration::from_secs(timing.duration);
    let progress = Progress::new(name, Unit::Items("s"));
    progress.set_length(2 * timing.warmup + 2 * timing.runs as u64 * timing.duration);
    let mut clock = PhaseClock::default();
    if timing.warmup > 0 {
        let warmup = Duration::from_secs(timing.warmup);
        clock
            .phase(&progress, "warm-up, baseline", timing.warmup, baseline.run(warmup))
            .await?;
        clock
            .phase(&progress, "warm-up, server", timing.warmup, load.run(warmup))
            .await?;
    }
    let mut runs = Vec::with_capacity(timing.runs);
    let mut first_error = None;
    for run in 1..=timing.runs {
        let message = format!("run {run}/{}, baseline", timing.runs);
        let base = clock
            .phase(&progress, message, timing.duration, baseline.run(duration))
            .await?;
        progress.println(format!(
            "{name} run {run}/{}: baseline {:.1}/s",
            timing.runs, base.requests_per_sec
        ));
        let message = format!("run {run}/{}, server", timing.runs);
        let (tally, elapsed) = clock
            .phase(&progress, message, timing.duration, load.run(duration))
            .await?;
        let server = tally.figures(elapsed);
        progress.println(format!(
            "{name} run {run}/{}: server {:.1}/s, {} errors",
            timing.runs, server.requests_per_sec, server.errors
        ));
        first_error = first_error.or(tally.first_error);
        runs.push((base, server));
    }
    progress.finish(format_args!(
        "measured {} run{}",
        timing.runs,
        if timing.runs == 1 { "" } else { "s" }
    ));
    Ok(WorkloadReport {
        name,
        connections: load.connections(),
        baseline: baseline.describe(),
        baseline_command: baseline.command(duration),
        runs,
        first_error,
    })
}

/// Where a workload's timed phases are in its planned seconds.
#[derive(Default)]
struct PhaseClock {
    at: u64,
}

impl PhaseClock {
    /// Runs `work`, a phase planned to last `seconds`, under `message`, the clock moving the
    /// progress meanwhile.
    async fn phase<T>(
        &mut self,
        progress: &Progress,
        message: impl Into<String>,
        seconds: u64,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        progress.set_message(message);
        let clock = progress.follow_clock(self.at, seconds);
        let done = work.await;
        drop(clock);
        self.at += seconds;
        done
    }
}
