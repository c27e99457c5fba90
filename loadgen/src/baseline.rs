//! The baselines each server figure is compared with, measured in the same invocation:
//! - `userByUsername` against pgbench running the very `SELECT` the server runs, on the same
//!   database with the same number of connections: the rate PostgreSQL alone reaches on
//!   this machine, with no HTTP, GraphQL or pool in between;
//! - `signIn` against in-process argon2id verification with the server's own `Passwords`,
//!   one task per core (the server's hashing concurrency): roughly the ceiling for any
//!   endpoint that verifies one password per request. Roughly, because this process's
//!   allocator can hand argon2 fresh pages more often than the busy server's does: on the
//!   2-core test machine its verifications took more minor page faults and CPU each than a
//!   whole sign-in in the server (see BENCHMARKS.md).

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use gigmarket::auth::password::Passwords;

use crate::stats::{RunFigures, Tally};

/// The statement diesel builds for `profile::model::find_by_username`, as seen in
/// `pg_stat_activity` under load: the same columns, `WHERE (lower("users"."username") = $1)
/// LIMIT $2`, the parameter lowercased in Rust. pgbench cannot build strings in `\set`, so the
/// username is assembled and lowercased in SQL; `:i` becomes a parameter under `-M prepared`.
const FIND_BY_USERNAME_SQL: &str = "SELECT id, email, username, full_name, avatar_url, bio, \
headline, skills, ai_tools, languages, hourly_rate_cents, currency, portfolio_urls, \
location_text, latitude, longitude, timezone, travel_radius_km, is_available, \
verification_status, commission_bps, is_admin, banned_at, ban_reason, created_at, updated_at \
FROM users WHERE lower(username) = lower('{prefix}' || :i) LIMIT 1;";

/// How often a pgbench run refused for want of connection slots is retried, and after how long.
const CONNECT_RETRIES: usize = 10;
const CONNECT_RETRY_PAUSE: Duration = Duration::from_secs(3);

/// Whether pgbench's error output says the server had no connection slot left.
fn out_of_slots(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).contains("too many clients already")
}

/// Where Debian and Ubuntu install pgbench when it is not on `PATH`.
const PGBENCH_FALLBACK: &str = "/usr/lib/postgresql/15/bin/pgbench";

/// The pgbench script: a random seeded user, then the server's lookup.
pub fn pgbench_script(prefix: &str, users: usize) -> String {
    let upper = users.saturating_sub(1);
    let prefix = prefix.replace('\'', "''");
    format!(
        "\\set i random(0, {upper})\n{}\n",
        FIND_BY_USERNAME_SQL.replace("{prefix}", &prefix)
    )
}

/// What a pgbench run reported.
#[derive(Debug, Clone, PartialEq)]
pub struct PgbenchSummary {
    /// Transactions per second without the initial connection time.
    pub tps: f64,
    pub latency_avg_ms: Option<f64>,
    pub processed: u64,
    pub failed: u64,
}

impl PgbenchSummary {
    /// As a report row (pgbench reports a mean latency, no percentiles).
    pub fn figures(&self) -> RunFigures {
        RunFigures {
            requests_per_sec: self.tps,
            mean_ms: self.latency_avg_ms,
            percentiles: None,
            successes: self.processed,
            errors: self.failed,
        }
    }
}

/// The number after `label` on the first line that starts with it, e.g. `42` in
/// `number of failed transactions: 42 (0.1%)`.
fn number_after<T: std::str::FromStr>(output: &str, label: &str) -> Option<T> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix(label)?.split_whitespace().next()?.parse().ok())
}

/// Reads pgbench's summary. PostgreSQL 14+ prints one `tps = … (without initial connection
/// time)` line; older versions print `including` and `excluding connections establishing`
/// lines, of which the `excluding` one is comparable.
pub fn parse_pgbench(output: &str) -> anyhow::Result<PgbenchSummary> {
    let tps_lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("tps = "))
        .collect();
    let tps_line = tps_lines
        .iter()
        .find(|l| l.contains("without initial connection time") || l.contains("excluding"))
        .or(tps_lines.first())
        .with_context(|| format!("no `tps = ` line in pgbench's output:\n{output}"))?;
    let tps = number_after(tps_line, "tps = ").with_context(|| format!("unreadable pgbench line {tps_line:?}"))?;
    Ok(PgbenchSummary {
        tps,
        latency_avg_ms: number_after(output, "latency average = "),
        processed: number_after(output, "number of transactions actually processed: ").unwrap_or(0),
        failed: number_after(output, "number of failed transactions: ").unwrap_or(0),
    })
}

/// pgbench, ready to run the lookup script against the server's database.
pub struct Pgbench {
    program: PathBuf,
    database_url: String,
    /// One script, or several of which pgbench picks one at random per transaction.
    scripts: Vec<PathBuf>,
    connections: usize,
    /// pgbench's first output line, e.g. `pgbench (15.20 (Debian …))`.
    pub version: String,
    mode: QueryMode,
}

/// How pgbench sends statements (`-M`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum QueryMode {
    /// Prepared once per connection, plan reused: the server's cached statements.
    #[default]
    Prepared,
    /// Parsed and planned at every execution: the server's uncached statements.
    Simple,
}

impl QueryMode {
    fn flag(self) -> &'static str {
        match self {
            QueryMode::Prepared => "prepared",
            QueryMode::Simple => "simple",
        }
    }
}

impl Pgbench {
    /// Finds pgbench (`program`, else the Debian location), writes the script to a
    /// temporary file and checks that pgbench runs.
    pub async fn prepare(
        program: &Path,
        database_url: &str,
        prefix: &str,
        users: usize,
        connections: usize,
    ) -> anyhow::Result<Self> {
        Self::with_script(
            program,
            database_url,
            "user-by-username",
            &pgbench_script(prefix, users),
            connections,
        )
        .await
    }

    /// Like `prepare`, with any script; `label` names its temporary file.
    pub async fn with_script(
        program: &Path,
        database_url: &str,
        label: &str,
        script_text: &str,
        connections: usize,
    ) -> anyhow::Result<Self> {
        Self::with_scripts(program, database_url, label, &[script_text.to_owned()], connections).await
    }

    /// Like `with_script` with several scripts; pgbench runs one of them, picked at random
    /// with equal weights, per transaction.
    pub async fn with_scripts(
        program: &Path,
        database_url: &str,
        label: &str,
        script_texts: &[String],
        connections: usize,
    ) -> anyhow::Result<Self> {
        if script_texts.is_empty() {
            bail!("no pgbench script for {label}");
        }
        let program = match version_of(program).await {
            Ok(_) => program.to_path_buf(),
            Err(_) if version_of(Path::new(PGBENCH_FALLBACK)).await.is_ok() => PathBuf::from(PGBENCH_FALLBACK),
            Err(e) => return Err(e.context("pgbench is needed for the baselines")),
        };
        let version = version_of(&program).await?;
        let mut scripts = Vec::with_capacity(script_texts.len());
        for (i, text) in script_texts.iter().enumerate() {
            let suffix = if script_texts.len() == 1 {
                String::new()
            } else {
                format!("-{}", i + 1)
            };
            let script =
                std::env::temp_dir().join(format!("gigmarket-loadgen-{}-{label}{suffix}.sql", std::process::id()));
            tokio::fs::write(&script, text)
                .await
                .with_context(|| format!("writing {}", script.display()))?;
            scripts.push(script);
        }
        Ok(Self {
            program,
            database_url: database_url.to_owned(),
            scripts,
            connections,
            version,
            mode: QueryMode::default(),
        })
    }

    fn args(&self, duration: Duration) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-n".into(),
            "-M".into(),
            self.mode.flag().into(),
            "-c".into(),
            self.connections.to_string(),
            "-j".into(),
            // pgbench refuses more threads than clients.
            self.connections.clamp(1, 2).to_string(),
            "-T".into(),
            duration.as_secs().max(1).to_string(),
        ];
        for script in &self.scripts {
            args.push("-f".into());
            args.push(script.display().to_string());
        }
        args.push(self.database_url.clone());
        args
    }

    /// The same pgbench with statements sent in `mode`.
    pub fn in_mode(mut self, mode: QueryMode) -> Self {
        self.mode = mode;
        self
    }

    /// The command line of a run, for the report.
    pub fn command_line(&self, duration: Duration) -> String {
        let mut words = vec![self.program.display().to_string()];
        words.extend(self.args(duration));
        let line = crate::report::shell_words(&words);
        match (self.scripts.first(), self.scripts.last()) {
            (Some(first), Some(last)) if self.scripts.len() > 2 => {
                // A hundred temporary file names say nothing more than the first and the last.
                let (first, last) = (first.display().to_string(), last.display().to_string());
                let (Some(start), Some(end)) = (line.find(&first), line.find(&last)) else {
                    return line;
                };
                format!(
                    "{}{first} … -f {last} ({} scripts){}",
                    &line[..start],
                    self.scripts.len(),
                    &line[end + last.len()..]
                )
            }
            _ => line,
        }
    }

    /// Runs pgbench for `duration` (whole seconds) and reads its summary.
    /// A run refused at connection time because the (shared) PostgreSQL server had no
    /// connection slot left is retried after a pause, up to `CONNECT_RETRIES` times.
    pub async fn run(&self, duration: Duration) -> anyhow::Result<PgbenchSummary> {
        let mut attempt = 0;
        let output = loop {
            let output = tokio::process::Command::new(&self.program)
                .args(self.args(duration))
                .output()
                .await
                .with_context(|| format!("running {}", self.program.display()))?;
            attempt += 1;
            if output.status.success() || attempt > CONNECT_RETRIES || !out_of_slots(&output.stderr) {
                break output;
            }
            eprintln!("pgbench: PostgreSQL has no connection slot left; retrying in {CONNECT_RETRY_PAUSE:?}");
            tokio::time::sleep(CONNECT_RETRY_PAUSE).await;
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            bail!(
                "pgbench failed ({}):\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        parse_pgbench(&stdout)
    }
}

impl Drop for Pgbench {
    fn drop(&mut self) {
        // A leftover script in the temp directory is harmless; nothing to report.
        for script in &self.scripts {
            let _ = std::fs::remove_file(script);
        }
    }
}

/// `program --version`'s output line, or why it could not run.
async fn version_of(program: &Path) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(program)
        .arg("--version")
        .output()
        .await
        .with_context(|| format!("running {} --version", program.display()))?;
    if !output.status.success() {
        bail!("{} --version failed: {}", program.display(), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// argon2id verification in this process: `tasks` loops verify `password` against `hash`
/// until `duration` has passed. A verification that answers "no match" is an error.
pub async fn argon2_run(
    passwords: &Passwords,
    password: &str,
    hash: &str,
    tasks: usize,
    duration: Duration,
) -> anyhow::Result<(Tally, Duration)> {
    let started = Instant::now();
    let deadline = started + duration;
    let loops = (0..tasks)
        .map(|_| {
            let passwords = passwords.clone();
            let password = password.to_owned();
            let hash = hash.to_owned();
            tokio::spawn(async move {
                let mut tally = Tally::new()?;
                while Instant::now() < deadline {
                    let began = Instant::now();
                    match passwords.verify(password.clone(), Some(hash.clone())).await {
                        Ok(true) => tally.success(began.elapsed()),
                        Ok(false) => tally.error(|| "the password did not verify".into()),
                        Err(e) => tally.error(|| format!("{e:#}")),
                    }
                }
                anyhow::Ok(tally)
            })
        })
        .collect::<Vec<_>>();
    let mut total = Tally::new()?;
    for handle in loops {
        total.merge(handle.await.context("a verification loop panicked")??)?;
    }
    Ok((total, started.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Verbatim output of `pgbench -n -M prepared -c 4 -j 2 -T 2 -f …` (PostgreSQL 15.20).
    const PG15_OUTPUT: &str = "pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: /tmp/pgb.sql
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 64444
number of failed transactions: 0 (0.000%)
latency average = 0.123 ms
initial connection time = 16.221 ms
tps = 32435.523048 (without initial connection time)
";

    /// The summary shape of PostgreSQL 13 and older.
    const PG13_OUTPUT: &str = "transaction type: script.sql
scaling factor: 1
query mode: prepared
number of clients: 8
number of threads: 2
duration: 10 s
number of transactions actually processed: 81234
latency average = 0.985 ms
tps = 8110.123456 (including connections establishing)
tps = 8125.654321 (excluding connections establishing)
";

    #[test]
    fn reads_a_postgresql_15_summary() {
        let summary = parse_pgbench(PG15_OUTPUT).unwrap();
        assert_eq!(
            summary,
            PgbenchSummary {
                tps: 32435.523048,
                latency_avg_ms: Some(0.123),
                processed: 64444,
                failed: 0,
            }
        );
    }

    #[test]
    fn prefers_the_rate_without_connection_setup_in_old_output() {
        let summary = parse_pgbench(PG13_OUTPUT).unwrap();
        assert_eq!(summary.tps, 8125.654321);
        assert_eq!(summary.latency_avg_ms, Some(0.985));
        assert_eq!(summary.failed, 0);
    }

    #[test]
    fn reads_failed_transactions() {
        let output = PG15_OUTPUT.replace(
            "number of failed transactions: 0 (0.000%)",
            "number of failed transactions: 17 (0.026%)",
        );
        let summary = parse_pgbench(&output).unwrap();
        assert_eq!(summary.failed, 17);
        assert_eq!(summary.figures().errors, 17);
        assert_eq!(summary.figures().percentiles, None);
    }

    #[test]
    fn a_full_server_is_recognised() {
        let stderr = b"pgbench: error: connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  sorry, too many clients already\n";
        assert!(out_of_slots(stderr));
        assert!(!out_of_slots(b"pgbench: error: relation \"tasks\" does not exist"));
    }

    #[test]
    fn output_without_a_rate_is_an_error() {
        let err = parse_pgbench("pgbench: error: connection to server failed").unwrap_err();
        assert!(err.to_string().contains("no `tps = ` line"), "{err}");
        assert!(parse_pgbench("tps = fast (without initial connection time)").is_err());
    }

    #[tokio::test]
    async fn several_scripts_are_picked_at_random_and_shown_briefly() {
        let texts: Vec<String> = (0..5).map(|i| format!("SELECT {i};\n")).collect();
        let Ok(pgbench) = Pgbench::with_scripts(Path::new("pgbench"), "postgres://x/db", "t", &texts, 4).await else {
            return; // no pgbench on this machine: nothing to check
        };
        let args = pgbench.args(Duration::from_secs(3));
        assert_eq!(args.iter().filter(|a| *a == "-f").count(), 5);
        assert_eq!(args[..3], ["-n", "-M", "prepared"]);
        assert_eq!(args.last().map(String::as_str), Some("postgres://x/db"));
        let line = pgbench.command_line(Duration::from_secs(3));
        assert!(line.contains("-t-1.sql … -f "), "{line}");
        assert!(line.contains("-t-5.sql (5 scripts) postgres://x/db"), "{line}");
        let written = std::fs::read_to_string(&pgbench.scripts[2]).unwrap();
        assert_eq!(written, "SELECT 2;\n");
        assert!(Pgbench::with_scripts(Path::new("pgbench"), "x", "t", &[], 1)
            .await
            .is_err());
        let simple = pgbench.in_mode(QueryMode::Simple);
        assert_eq!(simple.args(Duration::from_secs(3))[..3], ["-n", "-M", "simple"]);
    }

    #[test]
    fn the_script_picks_a_seeded_user_and_runs_the_servers_select() {
        let script = pgbench_script("load_user_", 2000);
        let mut lines = script.lines();
        assert_eq!(lines.next(), Some("\\set i random(0, 1999)"));
        let sql = lines.next().unwrap();
        assert!(sql.starts_with("SELECT id, email, username, full_name,"));
        assert!(sql.contains("updated_at FROM users"));
        assert!(sql.ends_with("WHERE lower(username) = lower('load_user_' || :i) LIMIT 1;"));
        assert_eq!(lines.next(), None);
        assert!(pgbench_script("o'k_", 1).contains("lower('o''k_' || :i)"));
    }
}
