//! The `table` workload: BENCHMARKS.md's top table in one command, and the `fan-out-curve`
//! workload (also part of the table).
//!
//! With only PostgreSQL and Redis running: `--server-bin migrate` (creates the database when
//! missing), `--server-bin seed --catalogue` when the catalogue is not there yet (its first
//! user is looked up), then every part on servers this process starts and stops itself
//! ([`startup::spawn_ready`]: a free loopback port, a random `JWT_SECRET` shared with the
//! workloads that mint tokens, `WS_MAX_CONNECTIONS=20000`): the catalogue reads and nearby on
//! one server, each fan-out and nearby fan-out run on a fresh one (their memory figures read
//! the server's RSS), first accept on one, startup its own. A server is killed when its part
//! ends, fails, or this process is interrupted (the children are killed on drop).

use std::{
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};
use clap::ValueEnum;
use rand::distr::{Alphanumeric, SampleString};

use crate::{
    curve::{self, CurvePoint},
    fanout::{self, FanOutReport},
    first_accept,
    measure::{self, CatalogueReport, RateSettings},
    nearby_fanout,
    peer_run::PeerSettings,
    startup::{self, Running},
    stats::median,
    table::{self, CatalogueRead, Delivery, Measured, Rate},
    workload::Operation,
    Cli, MAX_ERROR_RATE,
};

/// Rounds of each first-accept invocation (BENCHMARKS: 3 invocations of 5 rounds).
const FIRST_ACCEPT_ROUNDS: usize = 5;
/// Open files this process needs beyond one per subscriber (database, HTTP, the runtime).
const SPARE_FILES: u64 = 256;

/// A part of the table that `--skip` leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// PostGraphile beside feed and gig-by-id (its columns show `–`).
    Peer,
    Feed,
    GigById,
    Nearby,
    FanOut,
    /// The fan-out curve (table and SVG).
    Curve,
    FirstAccept,
    Startup,
    NearbyFanout,
}

/// What the table's parts share.
struct Shared {
    secret: String,
    client: reqwest::Client,
}

/// Runs the whole table (see the module documentation), prints it, writes `--out` and the
/// curve's SVG; fails when a check failed (deliveries not exact, a round without exactly
/// one winner, more than 1 % failed requests), after printing everything measured.
pub(crate) async fn table(cli: &Cli) -> anyhow::Result<ExitCode> {
    let wanted = |part: Part| !cli.skip.contains(&part);
    let biggest = cli.curve.iter().copied().chain([cli.subscribers]).max().unwrap_or(0);
    let open_files = raise_open_files(biggest as u64 + SPARE_FILES);
    let catalogue = wanted(Part::Feed) || wanted(Part::GigById);
    prepare_database(cli, catalogue).await?;
    let ctx = Shared {
        secret: random_secret(),
        client: startup::poll_client()?,
    };
    let mut measured = Vec::new();
    let mut failures = Vec::new();

    if catalogue || wanted(Part::Nearby) {
        let server = spawn(cli, &ctx).await?;
        let settings = RateSettings {
            url: server.url.clone(),
            ..cli.rate_settings()
        };
        let peer = wanted(Part::Peer).then(|| cli.peer_settings());
        for (part, read) in [
            (Part::Feed, CatalogueRead::Feed),
            (Part::GigById, CatalogueRead::GigById),
        ] {
            if wanted(part) {
                measured.push(catalogue_part(&settings, read, peer.as_ref(), &mut failures).await?);
            }
        }
        if wanted(Part::Nearby) {
            measure::seed_users(&cli.database_url, cli.users).await?;
            let report = measure::nearby(&settings, cli.tasks).await?;
            println!("{}", report.render());
            check_errors("nearbyTasks", report.server_error_rate(), &mut failures);
            let (ours, base) = (report.server_median(), report.baseline_median());
            measured.push(Measured::Nearby {
                tasks: cli.tasks,
                ours: Rate {
                    per_sec: ours.map_or(0.0, |m| m.requests_per_sec),
                    p99_ms: ours.and_then(|m| m.percentiles).map(|p| p.p99_ms),
                },
                pgbench_tps: base.map_or(0.0, |m| m.requests_per_sec),
            });
        }
        server.stop().await?;
    }

    let mut fan_out_runs = Vec::new();
    if wanted(Part::FanOut) {
        for run in 1..=cli.runs {
            eprintln!("fan-out run {run}/{}: {} subscribers", cli.runs, cli.subscribers);
            fan_out_runs.push(fan_out_once(cli, &ctx, cli.subscribers, cli.interval_ms).await?);
        }
        let point = CurvePoint::of(&fan_out_runs).context("the fan-out measured no delivery")?;
        // The paced runs offer at most subscribers x 1000 / interval deliveries a second (50,000
        // at 10,000 and 200 ms); the capacity is what a burst of the same messages gets.
        let mut burst_runs = Vec::new();
        for run in 1..=cli.runs {
            eprintln!(
                "fan-out burst run {run}/{}: {} subscribers, messages {BURST_INTERVAL_MS} ms apart",
                cli.runs, cli.subscribers
            );
            burst_runs.push(fan_out_once(cli, &ctx, cli.subscribers, BURST_INTERVAL_MS).await?);
        }
        let burst = CurvePoint::of(&burst_runs).context("the fan-out burst measured no delivery")?;
        for (what, point) in [("fan-out", &point), ("fan-out burst", &burst)] {
            if !point.exact {
                failures.push(format!(
                    "{what} at {}: not every message exactly once, in order",
                    cli.subscribers
                ));
            }
        }
        measured.push(Measured::FanOut {
            subscribers: cli.subscribers,
            messages: cli.messages,
            interval_ms: cli.interval_ms,
            paced: Delivery::of(&point),
            burst: Delivery::of(&burst),
            kib_per_connection: point.kib_per_connection,
        });
    }
    let curve = if wanted(Part::Curve) {
        Some(curve_points(cli, &ctx, &fan_out_runs, open_files, &mut failures).await?)
    } else {
        None
    };

    if wanted(Part::FirstAccept) {
        measured.push(first_accept_part(cli, &ctx, &mut failures).await?);
    }
    if wanted(Part::Startup) {
        let report = startup::run(&cli.server_bin, &cli.database_url, &ctx.secret, cli.runs).await?;
        println!("{}", report.render());
        measured.push(Measured::Startup {
            ready_ms: report.median_ready_ms(),
            idle_mib: report.median_idle_mib(),
        });
    }
    if wanted(Part::NearbyFanout) {
        measured.push(nearby_fan_out_part(cli, &ctx, &mut failures).await?);
    }

    let (commit, date) = (commit(cli), chrono::Utc::now().format("%Y-%m-%d").to_string());
    let mut record = table::render(&measured, &commit, &date);
    if let Some(points) = &curve {
        let plot = cli.plot_path();
        write_plot(&plot, points, &plot_caption(&commit, &date))?;
        record.push_str(&format!(
            "\nFan-out curve ({} messages every {} ms; plot: `{}`):\n\n{}",
            cli.messages,
            cli.interval_ms,
            plot.display(),
            curve::render_table(points)
        ));
    }
    println!("## The record\n\n{record}");
    if let Some(out) = &cli.out {
        std::fs::write(out, &record).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(verdict(&failures))
}

/// The `fan-out-curve` workload alone: the curve's table and SVG.
pub(crate) async fn fan_out_curve(cli: &Cli) -> anyhow::Result<ExitCode> {
    let open_files = raise_open_files(cli.curve.iter().copied().max().unwrap_or(0) as u64 + SPARE_FILES);
    prepare_database(cli, false).await?;
    let ctx = Shared {
        secret: random_secret(),
        client: startup::poll_client()?,
    };
    let mut failures = Vec::new();
    let points = curve_points(cli, &ctx, &[], open_files, &mut failures).await?;
    let plot = cli.plot_path();
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    write_plot(&plot, &points, &plot_caption(&commit(cli), &date))?;
    println!("{}", curve::render_table(&points));
    Ok(verdict(&failures))
}

/// Prints the failures; the exit status.
fn verdict(failures: &[String]) -> ExitCode {
    for failure in failures {
        eprintln!("FAIL: {failure}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_errors(name: &str, rate: f64, failures: &mut Vec<String>) {
    if rate > MAX_ERROR_RATE {
        failures.push(format!(
            "{:.2} % of {name}'s requests failed (limit {:.0} %)",
            rate * 100.0,
            MAX_ERROR_RATE * 100.0
        ));
    }
}

/// A catalogue read against pgbench (and the peer): the report printed, the row's figures.
async fn catalogue_part(
    settings: &RateSettings,
    read: CatalogueRead,
    peer: Option<&PeerSettings>,
    failures: &mut Vec<String>,
) -> anyhow::Result<Measured> {
    let operation = match read {
        CatalogueRead::Feed => Operation::Feed,
        CatalogueRead::GigById => Operation::GigById,
    };
    let report = measure::catalogue(settings, operation, peer).await?;
    println!("{}", report.render());
    check_errors(operation.name(), report.error_rate(), failures);
    let rate = |f: crate::stats::RunFigures| Rate {
        per_sec: f.requests_per_sec,
        p99_ms: f.percentiles.map(|p| p.p99_ms),
    };
    let (ours, pgbench, peer) = match &report {
        CatalogueReport::Plain(report) => (report.server_median(), report.baseline_median(), None),
        CatalogueReport::WithPeer(report) => match report.medians() {
            Some([ours, peer, pgbench]) => (Some(ours), Some(pgbench), Some(rate(peer))),
            None => (None, None, None),
        },
    };
    Ok(Measured::Catalogue {
        read,
        ours: rate(ours.context("no measured run")?),
        pgbench_tps: pgbench.map_or(0.0, |b| b.requests_per_sec),
        peer,
    })
}

/// One fan-out run at `subscribers` on a fresh server (its RSS is read before and after
/// connecting), its report printed.
/// Milliseconds between the messages of the fan-out's burst runs (the capacity figure).
const BURST_INTERVAL_MS: u64 = 1;

async fn fan_out_once(cli: &Cli, ctx: &Shared, subscribers: usize, interval_ms: u64) -> anyhow::Result<FanOutReport> {
    let server = spawn(cli, ctx).await?;
    let mut settings = fan_out_settings(cli, ctx, &server, subscribers);
    settings.interval = Duration::from_millis(interval_ms);
    let report = fanout::run(&settings).await;
    server.stop().await?;
    let report = report?;
    println!("{}", report.render());
    Ok(report)
}

/// The curve's points: `--curve`'s counts, each one fan-out run on a fresh server, except a
/// count the table's fan-out measured already (`measured`), whose runs are reused. A count
/// that does not fit in the open-files limit is skipped with a warning.
async fn curve_points(
    cli: &Cli,
    ctx: &Shared,
    measured: &[FanOutReport],
    open_files: Option<u64>,
    failures: &mut Vec<String>,
) -> anyhow::Result<Vec<CurvePoint>> {
    let mut points = Vec::with_capacity(cli.curve.len());
    for &subscribers in &cli.curve {
        if !fits(subscribers, open_files) {
            eprintln!(
                "fan-out curve: {subscribers} subscribers skipped: the open files limit ({}) leaves no \
                 room for them",
                open_files.unwrap_or_default()
            );
            continue;
        }
        let reused = measured.first().is_some_and(|r| r.subscribers == subscribers);
        let point = if reused {
            CurvePoint::of(measured)
        } else {
            eprintln!("fan-out curve: {subscribers} subscribers");
            CurvePoint::of(&[fan_out_once(cli, ctx, subscribers, cli.interval_ms).await?])
        }
        .with_context(|| format!("the fan-out at {subscribers} measured no delivery"))?;
        if !point.exact {
            failures.push(format!(
                "fan-out curve at {subscribers} subscribers: not every message exactly once, in order \
                 (its report above says which)"
            ));
        }
        points.push(point);
    }
    Ok(points)
}

/// `--runs` first-accept invocations of [`FIRST_ACCEPT_ROUNDS`] rounds on one server.
async fn first_accept_part(cli: &Cli, ctx: &Shared, failures: &mut Vec<String>) -> anyhow::Result<Measured> {
    let server = spawn(cli, ctx).await?;
    let settings = first_accept::FirstAcceptSettings {
        url: server.url.clone(),
        database_url: cli.database_url.clone(),
        racers: cli.racers,
        rounds: FIRST_ACCEPT_ROUNDS,
        jwt_secret: ctx.secret.clone(),
    };
    let mut reports = Vec::with_capacity(cli.runs);
    for _ in 0..cli.runs {
        match first_accept::run(&settings).await {
            Ok(report) => {
                println!("{}", report.render());
                reports.push(report);
            }
            Err(e) => {
                server.stop().await?;
                return Err(e);
            }
        }
    }
    server.stop().await?;
    let (rounds, clean_rounds) = reports
        .iter()
        .fold((0, 0), |(r, c), report| (r + report.rounds, c + report.clean_rounds));
    if clean_rounds != rounds {
        failures.push(format!(
            "first accept: {} of {rounds} rounds without exactly one winner",
            rounds - clean_rounds
        ));
    }
    let p99s: Vec<f64> = reports.iter().filter_map(|r| r.latency.map(|p| p.p99_ms)).collect();
    Ok(Measured::FirstAccept {
        racers: cli.racers,
        rounds,
        clean_rounds,
        p99_ms: median(&p99s),
    })
}

/// `--runs` nearby fan-out runs at `--subscribers`, each on a fresh server.
async fn nearby_fan_out_part(cli: &Cli, ctx: &Shared, failures: &mut Vec<String>) -> anyhow::Result<Measured> {
    let mut p99s = Vec::with_capacity(cli.runs);
    let mut exact = true;
    for run in 1..=cli.runs {
        eprintln!("nearby fan-out run {run}/{}: {} subscribers", cli.runs, cli.subscribers);
        let server = spawn(cli, ctx).await?;
        let report = nearby_fanout::run(&fan_out_settings(cli, ctx, &server, cli.subscribers)).await;
        server.stop().await?;
        let report = report?;
        println!("{}", report.render());
        exact &= report.clean();
        p99s.extend(report.latency.map(|p| p.p99_ms));
    }
    if !exact {
        failures.push("nearby fan-out: a delivery went astray (see its report above)".to_owned());
    }
    Ok(Measured::NearbyFanOut {
        subscribers: cli.subscribers,
        p99_ms: median(&p99s),
        exact,
    })
}

/// A fresh server, ready.
/// A fan-out (or nearby fan-out) of `subscribers` against `server`, as the command line
/// says otherwise.
fn fan_out_settings(cli: &Cli, ctx: &Shared, server: &Running, subscribers: usize) -> fanout::FanOutSettings {
    fanout::FanOutSettings {
        url: server.url.clone(),
        database_url: cli.database_url.clone(),
        subscribers,
        messages: cli.messages,
        interval: Duration::from_millis(cli.interval_ms),
        jwt_secret: ctx.secret.clone(),
        server_pid: Some(server.pid),
    }
}

async fn spawn(cli: &Cli, ctx: &Shared) -> anyhow::Result<Running> {
    startup::spawn_ready(&ctx.client, &cli.server_bin, &cli.database_url, &ctx.secret).await
}

/// Creates and migrates the database (`SERVER_BIN migrate`) and, when `catalogue` and no
/// catalogue is there yet, seeds it (`SERVER_BIN seed --catalogue`).
async fn prepare_database(cli: &Cli, catalogue: bool) -> anyhow::Result<()> {
    server_tool(cli, &["migrate".to_owned()]).await?;
    if !catalogue {
        return Ok(());
    }
    let db = fanout::connect(&cli.database_url).await?;
    let seeded: bool = db
        .query_one("SELECT EXISTS (SELECT 1 FROM users WHERE username = 'cat_user_0')", &[])
        .await
        .context("looking for the catalogue")?
        .try_get(0)?;
    if seeded {
        eprintln!("catalogue: already seeded");
        return Ok(());
    }
    let mut args = vec!["seed".to_owned(), "--catalogue".to_owned()];
    if let Some([users, gigs, tasks]) = cli.catalogue_size {
        for (flag, n) in [("--users", users), ("--gigs", gigs), ("--tasks", tasks)] {
            args.extend([flag.to_owned(), n.to_string()]);
        }
    }
    server_tool(cli, &args).await
}

/// Runs `SERVER_BIN args…` on the database to the end; its progress goes to our stderr.
async fn server_tool(cli: &Cli, args: &[String]) -> anyhow::Result<()> {
    eprintln!("{} {}", cli.server_bin.display(), args.join(" "));
    let mut command = tokio::process::Command::new(&cli.server_bin);
    let status = startup::server_env(&mut command, &cli.database_url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .with_context(|| format!("running {}", cli.server_bin.display()))?;
    if !status.success() {
        bail!("{} {} failed: {status}", cli.server_bin.display(), args.join(" "));
    }
    Ok(())
}

/// Raises the soft limit of open files to the hard one, for this process and the servers it
/// starts (children inherit it); warns when that is below `wanted`. Returns the limit now in
/// force (`None` when it could not be read).
fn raise_open_files(wanted: u64) -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            if limit < wanted {
                eprintln!(
                    "warning: open files limited to {limit} (the hard limit), {wanted} wanted: curve \
                     points beyond it are skipped"
                );
            } else {
                eprintln!("open files limit: {limit}");
            }
            Some(limit)
        }
        Err(e) => {
            eprintln!("warning: could not raise the open files limit: {e}");
            None
        }
    }
}

/// Whether `subscribers` connections fit in `open_files` (each side of the loopback holds
/// one descriptor per subscriber: the client here, the server in its own process, both
/// under the same limit), with [`SPARE_FILES`] to spare. A fan-out past the limit would
/// leave handshakes the server never accepts.
fn fits(subscribers: usize, open_files: Option<u64>) -> bool {
    open_files.is_none_or(|limit| subscribers as u64 + SPARE_FILES <= limit)
}

/// A JWT secret for this invocation's servers (48 alphanumerics, 285 bits).
fn random_secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

/// `--commit`, else `git rev-parse --short HEAD` here, else `unknown`.
fn commit(cli: &Cli) -> String {
    if let Some(commit) = &cli.commit {
        return commit.clone();
    }
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The plot's title.
fn plot_caption(commit: &str, date: &str) -> String {
    format!("messageAdded delivery latency against subscribers, {commit}, {date}")
}

/// Writes the curve's SVG to `path`, creating its folder.
fn write_plot(path: &Path, points: &[CurvePoint], caption: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, curve::render_svg(points, caption)?).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// Where the plot goes without `--plot`: beside `--out`, else `bench/` here.
pub fn default_plot_path(out: Option<&Path>) -> PathBuf {
    let name = "fanout-latency.svg";
    match out.and_then(Path::parent) {
        Some(dir) => dir.join(name),
        None => Path::new("bench").join(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plot_goes_beside_the_record_or_under_bench() {
        assert_eq!(default_plot_path(None), PathBuf::from("bench/fanout-latency.svg"));
        assert_eq!(
            default_plot_path(Some(Path::new("/tmp/r/table.md"))),
            PathBuf::from("/tmp/r/fanout-latency.svg")
        );
        // A bare file name: its parent is the empty path, i.e. here.
        assert_eq!(
            default_plot_path(Some(Path::new("table.md"))),
            PathBuf::from("fanout-latency.svg")
        );
    }

    #[test]
    fn a_curve_point_fits_when_both_sides_have_room_under_the_limit() {
        assert!(fits(10_000, Some(20_000)));
        assert!(fits(20_000 - SPARE_FILES as usize, Some(20_000)));
        assert!(!fits(20_000, Some(20_000)));
        assert!(fits(1_000_000, None));
    }

    #[test]
    fn secrets_are_long_and_differ() {
        let (a, b) = (random_secret(), random_secret());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }
}
