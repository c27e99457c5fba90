//! The `startup` workload: how long the server takes from `exec` to ready on a migrated
//! database, and how much memory it holds idle (issue 18: start to ready ≤ 1 s, idle RSS
//! ≤ 30 MB).
//!
//! Per run: starts `--server-bin serve` on a free loopback port with the database of
//! `--database-url` (migrated by the first run; the runs after it find nothing to migrate),
//! polls `GET /readyz` every 2 ms until it answers 200 (the pool reaches the database), waits
//! `IDLE` for start-up allocations to settle, reads the process's VmRSS, then stops it.

use std::{
    net::TcpListener,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

use crate::{
    fanout::read_rss_kib,
    report::{figure_table, one_decimal},
    stats::median,
};

/// How long the server may take before a run counts as failed.
const READY_WAIT: Duration = Duration::from_secs(30);
/// How long the server idles before its memory is read.
const IDLE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(2);

/// The figures of one start.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub ready_ms: f64,
    pub idle_rss_kib: u64,
}

/// The figures of all runs.
#[derive(Debug)]
pub struct StartupReport {
    pub starts: Vec<Start>,
}

impl StartupReport {
    pub fn median_ready_ms(&self) -> Option<f64> {
        median(&self.starts.iter().map(|s| s.ready_ms).collect::<Vec<_>>())
    }

    pub fn median_idle_mib(&self) -> Option<f64> {
        median(
            &self
                .starts
                .iter()
                .map(|s| s.idle_rss_kib as f64 / 1024.0)
                .collect::<Vec<_>>(),
        )
    }

    pub fn render(&self) -> String {
        let runs = self
            .starts
            .iter()
            .map(|s| format!("{:.1} ms / {:.1} MiB", s.ready_ms, s.idle_rss_kib as f64 / 1024.0))
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = format!("### startup ({} runs)\n\n", self.starts.len());
        out.push_str(&figure_table(&[
            ("start to ready ms (median)", one_decimal(self.median_ready_ms())),
            ("idle RSS MiB (median)", one_decimal(self.median_idle_mib())),
            ("each run: ready / idle RSS", runs),
        ]));
        out
    }
}

/// Starts the server `runs` times; see the module documentation.
pub async fn run(
    server_bin: &Path,
    database_url: &str,
    jwt_secret: &str,
    runs: usize,
) -> anyhow::Result<StartupReport> {
    let client = poll_client()?;
    let mut starts = Vec::with_capacity(runs);
    for _ in 0..runs {
        starts.push(start_once(&client, server_bin, database_url, jwt_secret).await?);
    }
    Ok(StartupReport { starts })
}

/// A server this tool started, ready; stopped when dropped.
pub struct Running {
    child: tokio::process::Child,
    pub pid: u32,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// From `exec` to the first 200 of `/readyz`.
    pub ready_ms: f64,
}

impl Running {
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("stopping the server")
    }
}

/// Starts `server_bin serve` on a free loopback port with `database_url` and waits until
/// `/readyz` answers 200.
pub async fn spawn_ready(
    client: &reqwest::Client,
    server_bin: &Path,
    database_url: &str,
    jwt_secret: &str,
) -> anyhow::Result<Running> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("http://127.0.0.1:{port}");
    let ready_url = format!("{url}/readyz");
    let started = Instant::now();
    let mut command = tokio::process::Command::new(server_bin);
    let mut child = server_env(&mut command, database_url)
        .arg("serve")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", jwt_secret)
        // As BENCHMARKS runs every server: room for the largest fan-out (the default,
        // 15,000, is below the curve's 20,000 subscribers).
        .env("WS_MAX_CONNECTIONS", "20000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", server_bin.display()))?;
    let pid = child.id().context("the server exited at once")?;
    let ready_ms = loop {
        if let Some(status) = child.try_wait()? {
            bail!("{} exited before it was ready: {status}", server_bin.display());
        }
        if started.elapsed() > READY_WAIT {
            bail!("{} was not ready within {READY_WAIT:?}", server_bin.display());
        }
        if let Ok(response) = client.get(&ready_url).send().await {
            if response.status().is_success() {
                break started.elapsed().as_secs_f64() * 1000.0;
            }
        }
        tokio::time::sleep(POLL).await;
    };
    Ok(Running {
        child,
        pid,
        url,
        ready_ms,
    })
}

/// The environment of every server command this tool runs: `database_url`, development
/// mode, warnings only, and upload folders in the system's temporary directory (not in the
/// working directory).
pub fn server_env<'a>(command: &'a mut tokio::process::Command, database_url: &str) -> &'a mut tokio::process::Command {
    let temp = std::env::temp_dir();
    command
        .env("DATABASE_URL", database_url)
        .env("APP_ENV", "development")
        .env("RUST_LOG", "warn")
        .env("UPLOAD_DIR", temp.join("gigmarket-loadgen-uploads"))
        .env("PRIVATE_UPLOAD_DIR", temp.join("gigmarket-loadgen-private-uploads"))
}

/// A client for the readiness polls.
pub fn poll_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()?)
}

async fn start_once(
    client: &reqwest::Client,
    server_bin: &Path,
    database_url: &str,
    jwt_secret: &str,
) -> anyhow::Result<Start> {
    let running = spawn_ready(client, server_bin, database_url, jwt_secret).await?;
    tokio::time::sleep(IDLE).await;
    let idle_rss_kib = read_rss_kib(running.pid)?;
    let ready_ms = running.ready_ms;
    running.stop().await?;
    Ok(Start { ready_ms, idle_rss_kib })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_takes_medians_of_the_runs() {
        let report = StartupReport {
            starts: vec![
                Start {
                    ready_ms: 300.0,
                    idle_rss_kib: 20 * 1024,
                },
                Start {
                    ready_ms: 100.0,
                    idle_rss_kib: 30 * 1024,
                },
                Start {
                    ready_ms: 200.0,
                    idle_rss_kib: 25 * 1024,
                },
            ],
        };
        assert_eq!(report.median_ready_ms(), Some(200.0));
        assert_eq!(report.median_idle_mib(), Some(25.0));
        assert!(
            report.render().contains("| start to ready ms (median) | 200.0 |"),
            "{}",
            report.render()
        );
    }
}
