//! The runners of the workloads that are not a request rate against a baseline (fan-out,
//! nearby fan-out, first accept) and of `--compare`: each reads the command line, runs its
//! module and prints its table.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;

use crate::{
    catalogue,
    fanout::{self, FanOutSettings},
    first_accept,
    measure::{measure, Baseline},
    nearby_fanout,
    report::WorkloadReport,
    startup, stats,
    workload::Operation,
    Cli,
};

/// Runs the fan-out workload and prints its table; fails when a delivery went missing.
pub(crate) async fn fan_out(cli: &Cli) -> anyhow::Result<ExitCode> {
    let report = fanout::run(&fan_out_settings(cli, "fan-out")?).await?;
    println!("{}", report.render());
    Ok(verdict(report.clean()))
}

/// The fan-out settings of the command line, for `workload` (which needs --jwt-secret).
fn fan_out_settings(cli: &Cli, workload: &str) -> anyhow::Result<FanOutSettings> {
    let jwt_secret = cli
        .jwt_secret
        .clone()
        .with_context(|| format!("{workload} needs --jwt-secret (the server's JWT_SECRET)"))?;
    Ok(FanOutSettings {
        url: cli.url.clone(),
        database_url: cli.database_url.clone(),
        subscribers: cli.subscribers,
        messages: cli.messages,
        interval: Duration::from_millis(cli.interval_ms),
        jwt_secret,
        server_pid: cli.server_pid,
    })
}

/// Success when the run's checks held.
fn verdict(clean: bool) -> ExitCode {
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `--compare`: each build started fresh per round and measured against pgbench in turn
/// (see the flag); prints every measurement's table and a summary per build.
pub(crate) async fn compare_builds(cli: &Cli, operation: Operation) -> anyhow::Result<()> {
    let builds = cli
        .compare
        .iter()
        .map(|spec| {
            let (name, path) = spec
                .split_once('=')
                .with_context(|| format!("--compare {spec:?}: expected NAME=PATH"))?;
            Ok((name.to_owned(), PathBuf::from(path)))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let secret = cli
        .jwt_secret
        .clone()
        .unwrap_or_else(|| "loadgen-compare-secret-loadgen-compare".to_owned());
    let client = startup::poll_client()?;
    let mut by_build: Vec<Vec<WorkloadReport>> = builds.iter().map(|_| Vec::new()).collect();
    for round in 1..=cli.rounds {
        for ((name, path), reports) in builds.iter().zip(by_build.iter_mut()) {
            eprintln!("{} round {round}/{}: {name}", operation.name(), cli.rounds);
            let running = startup::spawn_ready(&client, path, &cli.database_url, &secret).await?;
            let (load, pgbench, _) = catalogue::prepare(
                operation,
                &running.url,
                &cli.database_url,
                &cli.pgbench,
                cli.connections,
            )
            .await?;
            let timing = cli.rate_settings().timing;
            let report = measure(&timing, &load, Baseline::Pgbench(pgbench.in_mode(cli.pgbench_mode))).await;
            running.stop().await?;
            let report = report?;
            println!("#### {name}, round {round}\n\n{}", report.render());
            reports.push(report);
        }
    }
    println!(
        "### {}: builds compared ({} rounds, each a fresh server)\n\n| build | ratio to pgbench per round | median ratio | median p99 ms |\n|---|---|---:|---:|",
        operation.name(),
        cli.rounds
    );
    for ((name, _), reports) in builds.iter().zip(&by_build) {
        let ratios: Vec<f64> = reports.iter().filter_map(WorkloadReport::ratio).collect();
        let p99s: Vec<f64> = reports
            .iter()
            .filter_map(|r| r.server_median()?.percentiles.map(|p| p.p99_ms))
            .collect();
        let each = ratios.iter().map(|r| format!("{r:.3}")).collect::<Vec<_>>().join(", ");
        println!(
            "| {name} | {each} | {} | {} |",
            stats::median(&ratios).map_or("–".into(), |r| format!("{r:.3}")),
            stats::median(&p99s).map_or("–".into(), |p| format!("{p:.1}")),
        );
    }
    Ok(())
}

/// Runs the first-accept race and prints its table; fails unless every round had exactly
/// one winner.
pub(crate) async fn first_accept(cli: &Cli) -> anyhow::Result<ExitCode> {
    let jwt_secret = cli
        .jwt_secret
        .clone()
        .context("first-accept needs --jwt-secret (the server's JWT_SECRET)")?;
    let settings = first_accept::FirstAcceptSettings {
        url: cli.url.clone(),
        database_url: cli.database_url.clone(),
        racers: cli.racers,
        rounds: cli.runs,
        jwt_secret,
    };
    let report = first_accept::run(&settings).await?;
    println!("{}", report.render());
    Ok(verdict(report.clean()))
}

/// Runs the nearby fan-out and prints its table; fails when a delivery went astray.
pub(crate) async fn nearby_fan_out(cli: &Cli) -> anyhow::Result<ExitCode> {
    let report = nearby_fanout::run(&fan_out_settings(cli, "nearby-fanout")?).await?;
    println!("{}", report.render());
    Ok(verdict(report.clean()))
}
