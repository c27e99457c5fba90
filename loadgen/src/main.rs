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

mod baseline;
mod catalogue;
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
mod workload;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, ValueEnum};

use crate::{
    baseline::QueryMode,
    machine::Machine,
    measure::{CatalogueReport, RateSettings, Timing},
    peer_run::PeerSettings,
    report::shell_words,
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

    /// The database the server uses: users are seeded here and pgbench queries it.
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

    /// fan-out, nearby-fanout: WebSocket subscribers (users fan_0 … fan_{N-1}, fan_{N} writes;
    /// near_0 … near_{N-1}, near_{N} posts).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = positive)]
    subscribers: usize,

    /// fan-out, nearby-fanout: messages (tasks) the writer sends after the unmeasured probe.
    #[arg(long, value_name = "M", default_value_t = 20, value_parser = positive)]
    messages: usize,

    /// fan-out, nearby-fanout: milliseconds between two messages (tasks).
    #[arg(long, value_name = "MS", default_value_t = 200)]
    interval_ms: u64,

    /// startup: the server binary to start.
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
            | WorkloadChoice::Startup => Vec::new(),
        }
    }
}

impl Cli {
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
    let cli = Cli::parse();
    let machine = Machine::read();
    println!("# gigmarket load test\n");
    println!(
        "command: `{}`  ",
        shell_words(&redact_secret(std::env::args().collect()))
    );
    println!("machine: {machine}  ");
    println!("date: {}  ", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"));
    println!(
        "settings: {} users, {} s per run, {} runs, {} s warm-up, server {}\n",
        cli.users, cli.duration, cli.runs, cli.warmup, cli.url
    );

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
