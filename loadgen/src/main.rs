//! `loadgen`: drives a running gigmarket server with concurrent GraphQL requests and
//! compares each figure with a baseline measured in the same invocation, interleaved run by
//! run (baseline, server, baseline, server, …) so the noise of a shared machine falls on
//! both alike.
//!
//! Crates, and why:
//! - `tokio`: the runtime the server uses; a multi-thread runtime with two workers, like
//!   `pgbench -j 2`, so client and baseline take the same share of the cores.
//! - `clap` (derive): `--help` comes from the documented fields below.
//! - `reqwest` 0.12 with default features off (`rustls-tls` only): the version the workspace
//!   already has for the server's tests, so one hyper/http stack in the tree; no HTTP/2, no
//!   OpenSSL. It pools and times out for us; hyper-util's client would save a little client
//!   CPU for more code, and the client's cost is visible anyway in the latency figures.
//! - `hdrhistogram` (default features off: no serialisation or sync extras): percentiles with
//!   bounded error (3 significant figures) in constant memory, one per connection, merged.
//! - `rand`, `bytes`, `serde`/`serde_json`, `anyhow`, `chrono`: already in the tree; a random
//!   user per request, bodies rendered once and shared, responses checked without building a
//!   JSON tree, errors with context, the report's date.
//! - `gigmarket` itself: users are seeded by the server's own code (`seed::load_users`), and
//!   the sign-in baseline uses the server's own `Passwords`; the location workloads place
//!   tasks with its `geocell` (`fuzz`, `cell_of`), and build the nearby baseline's
//!   statements with its `task::model::nearby_query`; its `progress` shows the seeding and
//!   measuring phases (a bar on a terminal, plain lines otherwise).
//! - `diesel` (the version the server uses, `postgres_backend` only): `debug_query` renders
//!   those statements with their binds for pgbench.
//! - `plotters` (default features off; `svg_backend` and `line_series` only): the fan-out
//!   curve's SVG. No bitmap backends, no font loading or rasterising (the SVG's text is
//!   plain `<text>`), none of the other series or the colour-map extras: a few pure-Rust
//!   crates.
//! - `rlimit`: raising the open-files limit for the table's fan-outs (and the servers it
//!   starts, which inherit it) without unsafe `libc` calls here.

mod baseline;
mod catalogue;
mod curve;
mod fanout;
mod first_accept;
mod machine;
mod measure;
mod nearby;
mod nearby_fanout;
mod peer;
mod peer_run;
mod places;
mod report;
mod runners;
mod startup;
mod stats;
mod subscribers;
mod table;
mod table_run;
mod targets;
mod workload;

use std::{path::PathBuf, process::ExitCode};

use clap::{parser::ValueSource, CommandFactory, FromArgMatches, Parser, ValueEnum};

use crate::{
    baseline::QueryMode,
    machine::Machine,
    measure::{CatalogueReport, RateSettings, Timing},
    peer_run::PeerSettings,
    report::shell_words,
    table_run::Part,
    workload::Operation,
};

/// Seeded usernames are `{USER_PREFIX}{i}`, emails `{USER_PREFIX}{i}@load.test`.
const USER_PREFIX: &str = "load_user_";
/// Every seeded user's password.
const USER_PASSWORD: &str = "password";
/// Above this share of failed server requests the exit status is non-zero.
const MAX_ERROR_RATE: f64 = 0.01;

/// Load generator for the gigmarket GraphQL server.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator for the gigmarket GraphQL server, with same-run baselines",
    long_about = "Load generator for the gigmarket GraphQL server, with same-run baselines.\n\n\
Seeds --users users (load_user_0 … load_user_{N-1}, email load_user_{i}@load.test, password \
`password`) in --database-url, then, per workload, warms up and runs R times: a baseline run, \
then a server run, and so on, so the noise of a shared machine falls on both alike. Each server \
run keeps C keep-alive HTTP/1.1 connections busy for the duration, every request as a random \
seeded user.",
    after_help = "Workloads:
  table             BENCHMARKS.md's top table in one command, on servers it starts itself from
                    --server-bin (no --url, no --jwt-secret): creates and migrates --database-url
                    [default: …/gigmarket_bench] (`SERVER_BIN migrate`), seeds the catalogue unless
                    cat_user_0 exists (`SERVER_BIN seed --catalogue`, --catalogue-size), then feed
                    and gig-by-id beside PostGraphile, nearby (--tasks), fan-out (--subscribers
                    [default here: 10000] × --messages, a fresh server per run), the fan-out curve,
                    first-accept (--racers, --runs invocations of 5 rounds), startup and
                    nearby-fanout, medians of --runs runs each. Prints every report, then the
                    table (workload, ours, pgbench, PostGraphile, ratios, p99, target, met?,
                    commit, date) and the curve's figures; --out writes them, the curve's SVG goes
                    to --plot. --skip leaves parts out. Fails (after printing) when deliveries were
                    not exactly once in order, a round had not exactly one winner, or more than
                    1 % of requests failed. Every server gets a random JWT_SECRET, a free loopback
                    BIND_ADDR, WS_MAX_CONNECTIONS=20000, and the raised open-files limit.
  fan-out-curve     the fan-out at each --curve count (a fresh server each, from --server-bin),
                    exactly once and in order checked at each; the curve's table and SVG (--plot).
  user-by-username  POST /graphql `query UserByUsername($u: String!) { userByUsername(username: $u)
                    { id username fullName headline skills avatarUrl isAvailable } }`; a success is
                    HTTP 200, no `errors`, and a non-null user.
                    Baseline: pgbench -n -M prepared -c C -j 2 -T D on the same database, running
                    the SELECT the server runs for a random seeded user; its tps is compared.
  nearby            POST /graphql `nearbyTasks(lat, lng, radiusMeters: 5000, first: 20) { edges { node
                    { distanceMeters task { id title budgetMaxCents poster { username } } } } }` around
                    one of 100 fixed centres (90 % in metropolitan areas, 10 % rural) per request,
                    over --tasks located OPEN tasks seeded first (idempotent, COPY). Baseline:
                    pgbench with one script per centre holding the statement the server runs for
                    it (built with the server's own query builder).
  first-accept      --racers users send acceptTask on one IMMEDIATE task at once, --runs rounds
                    (needs --jwt-secret); checks each round has exactly one winner, every other
                    answer CONFLICT and one order in the database; reports acceptTask p50/p99.
  startup           starts --server-bin serve --runs times on --database-url (migrated by the
                    first run), times exec to the first 200 of GET /readyz and reads the idle
                    server's VmRSS 3 s later; reports the medians.
  nearby-fanout     --subscribers WebSocket subscribers over one 30 km city on nearbyTaskPosted
                    (5 km each); --messages IMMEDIATE tasks posted one every --interval-ms; checks
                    that exactly the subscribers within 5 km of each task got it, once.
  sign-in           POST /graphql `mutation SignIn($i: SignInInput!) { signIn(input: $i)
                    { accessToken expiresAt } }`; a success is HTTP 200, no `errors`, and a token.
                    Baseline: argon2id verification in this process with the server's own
                    Passwords, one task per CPU: roughly the ceiling of an endpoint that
                    verifies one password per request.

Peer (--peer postgraphile, with feed, feed-without-reviews or gig-by-id): installs PostGraphile
5.1.5 and a Node 22 binary from npm (`npm ci` of loadgen/peer's lock, into --peer-dir), creates
the views of loadgen/peer/views.sql (the rows gigmarket shows), starts it on 127.0.0.1:--peer-port,
fails unless both servers answer the same ids, then runs gigmarket, the peer and pgbench in turn.

Output: per workload, a Markdown table of each run's requests/s, mean, p50, p90, p99 and max
latency (ms) and errors for baseline and server, the medians across runs and the ratio of the
median rates server/baseline; before that, the machine (nproc, CPU model, memory) and the command.
Request rates count successful requests over the wall time until the last one finished.

Exit status: 1 when more than 1 % of any workload's server requests failed, or on any error."
)]
struct Cli {
    /// Base URL of the server; requests go to /graphql on it.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,

    /// The database the server uses: users are seeded here and pgbench queries it; for table
    /// and fan-out-curve, when not given, postgres://postgres@localhost:5432/gigmarket_bench.
    #[arg(long, default_value = "postgres://postgres@localhost:5432/gigmarket")]
    database_url: String,

    /// Users seeded before measuring (idempotent); each request picks one at random.
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = positive)]
    users: usize,

    /// Concurrent connections (HTTP connections, pgbench clients) per workload.
    #[arg(long, value_name = "C", default_value_t = 32, value_parser = positive)]
    connections: usize,

    /// Connections for sign-in only [default: 2 × nproc, at most C]. argon2id is CPU-bound
    /// and the server verifies at most one password per CPU at a time, so more connections
    /// only lengthen the queue (latency), not the rate.
    #[arg(long, value_name = "C", value_parser = positive)]
    sign_in_connections: Option<usize>,

    /// Seconds per measured run, server and baseline alike.
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    duration: u64,

    /// Measured runs per workload (each a baseline run then a server run).
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = positive)]
    runs: usize,

    /// Seconds of unmeasured load (server and baseline) before a workload's runs; 0 skips it.
    #[arg(long, value_name = "SECS", default_value_t = 2)]
    warmup: u64,

    /// Which workloads to run.
    #[arg(long, value_enum, default_value_t = WorkloadChoice::All)]
    workload: WorkloadChoice,

    /// The pgbench program [falls back to /usr/lib/postgresql/15/bin/pgbench].
    #[arg(long, value_name = "PATH", default_value = "pgbench")]
    pgbench: PathBuf,

    /// fan-out, nearby-fanout, table: WebSocket subscribers (users fan_0 … fan_{N-1}, fan_{N}
    /// writes; near_0 … near_{N-1}, near_{N} posts); 10000 for table and fan-out-curve when
    /// not given.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = positive)]
    subscribers: usize,

    /// fan-out, nearby-fanout: messages (tasks) the writer sends after the unmeasured probe.
    #[arg(long, value_name = "M", default_value_t = 20, value_parser = positive)]
    messages: usize,

    /// fan-out, nearby-fanout: milliseconds between two messages (tasks); at least 1.
    #[arg(long, value_name = "MS", default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,

    /// startup, table, fan-out-curve, --compare: the server binary to start.
    #[arg(long, value_name = "PATH", default_value = "target/release/gigmarket")]
    server_bin: PathBuf,

    /// feed, feed-without-reviews, gig-by-id: instead of the server at --url, compare server
    /// binaries (`name=path`, repeated): per round (--rounds), each is started fresh on
    /// --database-url and measured against pgbench in turn, so every build meets the same
    /// machine; the summary gives each build's median ratio to pgbench. Issue 14's before and
    /// after, or a bisect.
    #[arg(long, value_name = "NAME=PATH")]
    compare: Vec<String>,

    /// --compare: rounds (each build once per round, in the order given).
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = positive)]
    rounds: usize,

    /// first-accept: users racing for each task (race_0 … race_{N-1}; race_{N} posts).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = positive)]
    racers: usize,

    /// fan-out, nearby-fanout, first-accept: the server's JWT_SECRET, to mint the users' access tokens.
    #[arg(long, value_name = "SECRET")]
    jwt_secret: Option<String>,

    /// fan-out, nearby-fanout: the server's process id, to read its VmRSS before and after
    /// connecting.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,

    /// pgbench's query mode for the baselines: `prepared` plans once per connection (like the
    /// server's cached statements), `simple` plans every execution (like statements the
    /// server cannot cache, e.g. nearby search's).
    #[arg(long, value_enum, default_value_t = QueryMode::Prepared)]
    pgbench_mode: QueryMode,

    /// nearby: located OPEN tasks to seed (skipped when already seeded).
    #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = positive)]
    tasks: usize,

    /// feed, feed-without-reviews, gig-by-id: also measure this peer on the same database,
    /// interleaved (gigmarket, peer, pgbench), after checking both answer with the same ids.
    #[arg(long, value_enum)]
    peer: Option<PeerChoice>,

    /// --peer: where the peer's packages are installed with `npm ci` (reused when the lock
    /// matches) [default: gigmarket-loadgen-peer in the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    peer_dir: Option<PathBuf>,

    /// --peer: the loopback port the peer listens on.
    #[arg(long, value_name = "PORT", default_value_t = 5679)]
    peer_port: u16,

    /// --peer: PostgreSQL connections the peer pools; keep it equal to the server's
    /// DATABASE_POOL_SIZE (whose default is 16).
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = positive)]
    peer_pool_size: usize,

    /// --peer: the npm program that installs the peer.
    #[arg(long, value_name = "PATH", default_value = "npm")]
    npm: PathBuf,

    /// table: parts to leave out, comma-separated (e.g. `peer,fan-out`).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "PART,…")]
    skip: Vec<Part>,

    /// table, fan-out-curve: the subscriber counts of the fan-out curve.
    #[arg(long, value_name = "N,…", value_delimiter = ',', value_parser = positive,
          default_values_t = [1000, 5000, 10_000, 20_000])]
    curve: Vec<usize>,

    /// table: also write the table and the curve's figures (Markdown) to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// table, fan-out-curve: where the curve's SVG goes [default: fanout-latency.svg beside
    /// --out, else bench/fanout-latency.svg].
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,

    /// table: the commit the table names [default: `git rev-parse --short HEAD` here].
    #[arg(long, value_name = "REV")]
    commit: Option<String>,

    /// table: the catalogue to seed when there is none, as USERS,GIGS,TASKS [default:
    /// `seed --catalogue`'s, 10000,100000,100000].
    #[arg(long, value_name = "U,G,T", value_parser = catalogue_size)]
    catalogue_size: Option<[u64; 3]>,
}

/// A server measured side by side with gigmarket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PeerChoice {
    /// PostGraphile 5.1.5 (Amber preset) on Node 22, over the views of loadgen/peer/views.sql.
    Postgraphile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadChoice {
    /// user-by-username, then sign-in.
    All,
    SignIn,
    UserByUsername,
    /// The gig catalogue's first page with the owners' newest reviews (needs `gigmarket seed
    /// --catalogue`).
    Feed,
    /// The feed without the owners' reviews, as it was before reviews existed: to compare
    /// with servers that have none.
    FeedWithoutReviews,
    /// One active gig by id (needs `gigmarket seed --catalogue`).
    GigById,
    /// One writer, N WebSocket subscribers (needs --jwt-secret).
    FanOut,
    /// nearbyTasks over --tasks seeded located tasks.
    Nearby,
    /// N subscribers over a city on nearbyTaskPosted, one poster (needs --jwt-secret).
    NearbyFanout,
    /// N users race for one IMMEDIATE task per round (needs --jwt-secret).
    FirstAccept,
    /// Start to ready and idle memory of --server-bin.
    Startup,
    /// BENCHMARKS.md's top table, every part on servers started from --server-bin.
    Table,
    /// The fan-out at each --curve count, and its plot.
    FanOutCurve,
}

impl WorkloadChoice {
    fn operations(self) -> Vec<Operation> {
        match self {
            WorkloadChoice::All => vec![Operation::UserByUsername, Operation::SignIn],
            WorkloadChoice::SignIn => vec![Operation::SignIn],
            WorkloadChoice::UserByUsername => vec![Operation::UserByUsername],
            WorkloadChoice::Feed => vec![Operation::Feed],
            WorkloadChoice::FeedWithoutReviews => vec![Operation::FeedWithoutReviews],
            WorkloadChoice::GigById => vec![Operation::GigById],
            WorkloadChoice::Nearby => vec![Operation::Nearby],
            WorkloadChoice::FanOut
            | WorkloadChoice::NearbyFanout
            | WorkloadChoice::FirstAccept
            | WorkloadChoice::Startup
            | WorkloadChoice::Table
            | WorkloadChoice::FanOutCurve => Vec::new(),
        }
    }
}

/// `--database-url`'s default for the workloads that seed a whole benchmark catalogue, so
/// that the development database is never filled with a million tasks by accident.
const BENCH_DATABASE_URL: &str = "postgres://postgres@localhost:5432/gigmarket_bench";
/// `--subscribers`' default for the table (BENCHMARKS: 10,000).
const TABLE_SUBSCRIBERS: usize = 10_000;

impl Cli {
    /// Parses `args`, then applies the defaults that depend on the workload (`table` and
    /// `fan-out-curve`: --database-url, --subscribers) where the option was not given.
    fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let defaulted = |id: &str| matches.value_source(id) == Some(ValueSource::DefaultValue);
        if matches!(cli.workload, WorkloadChoice::Table | WorkloadChoice::FanOutCurve) {
            if defaulted("database_url") {
                cli.database_url = BENCH_DATABASE_URL.to_owned();
            }
            if defaulted("subscribers") {
                cli.subscribers = TABLE_SUBSCRIBERS;
            }
        }
        Ok(cli)
    }

    /// Where the curve's SVG goes.
    fn plot_path(&self) -> PathBuf {
        self.plot
            .clone()
            .unwrap_or_else(|| table_run::default_plot_path(self.out.as_deref()))
    }

    /// The measuring settings of the rate workloads, from the command line.
    fn rate_settings(&self) -> RateSettings {
        RateSettings {
            url: self.url.clone(),
            database_url: self.database_url.clone(),
            pgbench: self.pgbench.clone(),
            pgbench_mode: self.pgbench_mode,
            connections: self.connections,
            users: self.users,
            timing: Timing {
                runs: self.runs,
                duration: self.duration,
                warmup: self.warmup,
            },
        }
    }

    /// Where and how the peer runs, from the command line.
    fn peer_settings(&self) -> PeerSettings {
        PeerSettings {
            dir: self
                .peer_dir
                .clone()
                .unwrap_or_else(|| std::env::temp_dir().join("gigmarket-loadgen-peer")),
            npm: self.npm.clone(),
            port: self.peer_port,
            pool_size: self.peer_pool_size,
            database_url: self.database_url.clone(),
        }
    }
}

/// `USERS,GIGS,TASKS`, each a whole number above zero.
fn catalogue_size(raw: &str) -> Result<[u64; 3], String> {
    let numbers = raw
        .split(',')
        .map(|n| match n.trim().parse::<u64>() {
            Ok(0) => Err("each must be at least 1".to_owned()),
            Ok(n) => Ok(n),
            Err(e) => Err(format!("{n:?}: {e}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    <[u64; 3]>::try_from(numbers).map_err(|n| format!("expected USERS,GIGS,TASKS, got {} numbers", n.len()))
}

/// A whole number above zero.
fn positive(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::from_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let machine = Machine::read();
    println!("# gigmarket load test\n");
    println!(
        "command: `{}`  ",
        shell_words(&redact_secret(std::env::args().collect()))
    );
    println!("machine: {machine}  ");
    println!("date: {}  ", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    let server = match cli.workload {
        WorkloadChoice::Table | WorkloadChoice::FanOutCurve => {
            format!("servers started from {}", cli.server_bin.display())
        }
        _ => format!("server {}", cli.url),
    };
    println!(
        "settings: {} users, {} s per run, {} runs, {} s warm-up, {server}\n",
        cli.users, cli.duration, cli.runs, cli.warmup
    );

    if matches!(cli.workload, WorkloadChoice::Table | WorkloadChoice::FanOutCurve) {
        // Interrupted, the table's future is dropped, and with it the servers it started
        // (killed on drop).
        let run = async {
            match cli.workload {
                WorkloadChoice::Table => table_run::table(&cli).await,
                _ => table_run::fan_out_curve(&cli).await,
            }
        };
        return tokio::select! {
            result = run => result,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted; the servers it started are stopped"),
        };
    }
    if cli.workload == WorkloadChoice::FanOut {
        return runners::fan_out(&cli).await;
    }
    if cli.workload == WorkloadChoice::NearbyFanout {
        return runners::nearby_fan_out(&cli).await;
    }
    if cli.workload == WorkloadChoice::FirstAccept {
        return runners::first_accept(&cli).await;
    }
    if cli.workload == WorkloadChoice::Startup {
        // Any secret of the right length: nothing is signed in this workload.
        let secret = cli
            .jwt_secret
            .clone()
            .unwrap_or_else(|| "loadgen-startup-secret-loadgen-startup".to_owned());
        let report = startup::run(&cli.server_bin, &cli.database_url, &secret, cli.runs).await?;
        println!("{}", report.render());
        return Ok(ExitCode::SUCCESS);
    }
    let operations = cli.workload.operations();
    if cli.peer.is_some()
        && !matches!(
            cli.workload,
            WorkloadChoice::Feed | WorkloadChoice::FeedWithoutReviews | WorkloadChoice::GigById
        )
    {
        anyhow::bail!("--peer measures the feed, feed-without-reviews and gig-by-id workloads only");
    }
    let settings = cli.rate_settings();
    let needs_users = operations
        .iter()
        .any(|o| matches!(o, Operation::UserByUsername | Operation::SignIn | Operation::Nearby));
    let passwords = if needs_users {
        Some(measure::seed_users(&cli.database_url, cli.users).await?)
    } else {
        None
    };
    let mut reports = Vec::new();
    for operation in operations {
        let report = match (operation, &passwords) {
            (Operation::UserByUsername, _) => measure::user_by_username(&settings).await?,
            (Operation::SignIn, Some(passwords)) => {
                measure::sign_in(&settings, cli.sign_in_connections, machine.cpus, passwords).await?
            }
            (Operation::SignIn, None) => anyhow::bail!("sign-in needs seeded users"),
            (Operation::Feed | Operation::FeedWithoutReviews | Operation::GigById, _) if !cli.compare.is_empty() => {
                runners::compare_builds(&cli, operation).await?;
                continue;
            }
            (Operation::Feed | Operation::FeedWithoutReviews | Operation::GigById, _) => {
                let peer = cli.peer.map(|_| cli.peer_settings());
                match measure::catalogue(&settings, operation, peer.as_ref()).await? {
                    CatalogueReport::Plain(report) => report,
                    with_peer @ CatalogueReport::WithPeer(_) => {
                        println!("{}", with_peer.render());
                        if with_peer.error_rate() > MAX_ERROR_RATE {
                            eprintln!("FAIL: more than 1 % of {}'s requests failed", operation.name());
                            return Ok(ExitCode::FAILURE);
                        }
                        continue;
                    }
                }
            }
            (Operation::Nearby, _) => measure::nearby(&settings, cli.tasks).await?,
        };
        println!("{}", report.render());
        reports.push(report);
    }

    let failing: Vec<_> = reports
        .iter()
        .filter(|r| r.server_error_rate() > MAX_ERROR_RATE)
        .collect();
    for report in &failing {
        eprintln!(
            "FAIL: {:.2} % of {} requests failed (limit {:.0} %)",
            report.server_error_rate() * 100.0,
            report.name,
            MAX_ERROR_RATE * 100.0
        );
    }
    Ok(if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent_and_has_the_documented_defaults() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["loadgen"]).unwrap();
        assert_eq!(cli.url, "http://127.0.0.1:8080");
        assert_eq!(cli.database_url, "postgres://postgres@localhost:5432/gigmarket");
        assert_eq!(
            (cli.users, cli.connections, cli.duration, cli.runs, cli.warmup),
            (2000, 32, 10, 3, 2)
        );
        assert_eq!(cli.workload, WorkloadChoice::All);
        assert_eq!(cli.sign_in_connections, None);
        assert_eq!(cli.pgbench_mode, QueryMode::Prepared);
        let cli = Cli::try_parse_from(["loadgen", "--pgbench-mode", "simple"]).unwrap();
        assert_eq!(cli.pgbench_mode, QueryMode::Simple);
    }

    #[test]
    fn workload_names_and_bounds() {
        let cli = Cli::try_parse_from(["loadgen", "--workload", "sign-in"]).unwrap();
        assert_eq!(cli.workload.operations(), vec![Operation::SignIn]);
        let cli = Cli::try_parse_from(["loadgen", "--workload", "user-by-username"]).unwrap();
        assert_eq!(cli.workload.operations(), vec![Operation::UserByUsername]);
        assert!(Cli::try_parse_from(["loadgen", "--connections", "0"]).is_err());
        assert!(Cli::try_parse_from(["loadgen", "--interval-ms", "0"]).is_err());
        assert!(Cli::try_parse_from(["loadgen", "--duration", "0"]).is_err());
        assert!(Cli::try_parse_from(["loadgen", "--workload", "everything"]).is_err());
        let cli = Cli::try_parse_from(["loadgen", "--workload", "gig-by-id"]).unwrap();
        assert_eq!(cli.workload.operations(), vec![Operation::GigById]);
        let cli = Cli::try_parse_from(["loadgen", "--workload", "feed-without-reviews"]).unwrap();
        assert_eq!(cli.workload.operations(), vec![Operation::FeedWithoutReviews]);
        let cli = Cli::try_parse_from([
            "loadgen",
            "--workload",
            "fan-out",
            "--subscribers",
            "10",
            "--jwt-secret",
            "s",
        ])
        .unwrap();
        assert_eq!((cli.subscribers, cli.messages, cli.interval_ms), (10, 20, 200));
        assert_eq!(cli.jwt_secret.as_deref(), Some("s"));
        assert!(Cli::try_parse_from(["loadgen", "--subscribers", "0"]).is_err());
        let cli = Cli::try_parse_from(["loadgen", "--workload", "nearby"]).unwrap();
        assert_eq!(cli.workload.operations(), vec![Operation::Nearby]);
        assert_eq!(cli.tasks, 1_000_000);
        let cli = Cli::try_parse_from(["loadgen", "--workload", "nearby-fanout", "--tasks", "5"]).unwrap();
        assert_eq!((cli.workload, cli.tasks), (WorkloadChoice::NearbyFanout, 5));
        assert!(Cli::try_parse_from(["loadgen", "--tasks", "0"]).is_err());
    }

    #[test]
    fn the_peer_options() {
        let cli = Cli::try_parse_from(["loadgen", "--workload", "feed"]).unwrap();
        assert_eq!((cli.peer, cli.peer_port, cli.peer_pool_size), (None, 5679, 16));
        assert_eq!((cli.peer_dir, cli.npm), (None, PathBuf::from("npm")));
        let cli = Cli::try_parse_from([
            "loadgen",
            "--workload",
            "gig-by-id",
            "--peer",
            "postgraphile",
            "--peer-dir",
            "/tmp/p",
            "--peer-port",
            "6000",
            "--peer-pool-size",
            "8",
        ])
        .unwrap();
        assert_eq!(cli.peer, Some(PeerChoice::Postgraphile));
        assert_eq!(cli.peer_dir, Some(PathBuf::from("/tmp/p")));
        assert_eq!((cli.peer_port, cli.peer_pool_size), (6000, 8));
        assert!(Cli::try_parse_from(["loadgen", "--peer", "hasura"]).is_err());
        assert!(Cli::try_parse_from(["loadgen", "--peer-pool-size", "0"]).is_err());
    }
}

#[cfg(test)]
mod table_cli_tests {
    use super::*;

    #[test]
    fn the_table_has_its_own_defaults() {
        let cli = Cli::from_args(["loadgen", "--workload", "table"]).unwrap();
        assert_eq!(cli.workload, WorkloadChoice::Table);
        assert_eq!(cli.database_url, BENCH_DATABASE_URL);
        assert_eq!(cli.subscribers, 10_000);
        assert_eq!(cli.curve, vec![1000, 5000, 10_000, 20_000]);
        assert_eq!(
            (cli.skip.clone(), cli.out.clone(), cli.commit.clone()),
            (vec![], None, None)
        );
        assert_eq!(cli.catalogue_size, None);
        assert_eq!(cli.plot_path(), PathBuf::from("bench/fanout-latency.svg"));
        // Other workloads keep theirs.
        let cli = Cli::from_args(["loadgen", "--workload", "fan-out"]).unwrap();
        assert_eq!(cli.database_url, "postgres://postgres@localhost:5432/gigmarket");
        assert_eq!(cli.subscribers, 1000);
        let cli = Cli::from_args(["loadgen", "--workload", "fan-out-curve"]).unwrap();
        assert_eq!(
            (cli.workload, cli.database_url.as_str()),
            (WorkloadChoice::FanOutCurve, BENCH_DATABASE_URL)
        );
    }

    #[test]
    fn given_options_win_over_the_table_defaults() {
        let cli = Cli::from_args([
            "loadgen",
            "--workload",
            "table",
            "--server-bin",
            "target/debug/gigmarket",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/gigmarket_bt_smoke",
            "--subscribers",
            "100",
            "--curve",
            "100,200",
            "--skip",
            "peer,fan-out",
            "--skip",
            "startup",
            "--out",
            "/tmp/record/table.md",
            "--commit",
            "abc1234",
            "--catalogue-size",
            "200,1000,1000",
        ])
        .unwrap();
        assert_eq!(cli.server_bin, PathBuf::from("target/debug/gigmarket"));
        assert!(cli.database_url.ends_with("/gigmarket_bt_smoke"));
        assert_eq!((cli.subscribers, cli.curve.clone()), (100, vec![100, 200]));
        assert_eq!(cli.skip, vec![Part::Peer, Part::FanOut, Part::Startup]);
        assert_eq!(cli.plot_path(), PathBuf::from("/tmp/record/fanout-latency.svg"));
        assert_eq!(cli.commit.as_deref(), Some("abc1234"));
        assert_eq!(cli.catalogue_size, Some([200, 1000, 1000]));
        let cli = Cli::from_args(["loadgen", "--workload", "table", "--plot", "p.svg", "--out", "o/t.md"]).unwrap();
        assert_eq!(cli.plot_path(), PathBuf::from("p.svg"));
    }

    #[test]
    fn bad_table_options_are_refused() {
        for args in [
            &["--skip", "everything"][..],
            &["--curve", "100,0"],
            &["--curve", "ten"],
            &["--catalogue-size", "1,2"],
            &["--catalogue-size", "1,2,0"],
            &["--catalogue-size", "1,2,3,4"],
        ] {
            let all = ["loadgen", "--workload", "table"].iter().chain(args);
            assert!(Cli::from_args(all).is_err(), "{args:?}");
        }
        assert_eq!(catalogue_size("10, 20,30"), Ok([10, 20, 30]));
    }
}

/// The arguments with the value of `--jwt-secret` replaced, so reports never carry it.
fn redact_secret(args: Vec<String>) -> Vec<String> {
    let mut redact_next = false;
    args.into_iter()
        .map(|arg| {
            if std::mem::take(&mut redact_next) {
                "***".to_owned()
            } else if arg == "--jwt-secret" {
                redact_next = true;
                arg
            } else if arg.starts_with("--jwt-secret=") {
                "--jwt-secret=***".to_owned()
            } else {
                arg
            }
        })
        .collect()
}

#[cfg(test)]
mod redaction_tests {
    #[test]
    fn the_jwt_secret_never_reaches_a_report() {
        let args = [
            "loadgen",
            "--jwt-secret",
            "hunter2",
            "--jwt-secret=hunter3",
            "--runs",
            "3",
        ]
        .map(String::from)
        .to_vec();
        let shown = super::redact_secret(args).join(" ");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(shown.contains("--runs 3"));
    }
}
