//! Running Node.js scripts (real JavaScript clients, a headless browser) from the tests.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::Duration,
};

use tokio::process::Command;

const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);

/// Exit status and both streams, for assertion messages.
pub fn report(output: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `program args…` in `dir`, with a time limit and a clear message when the program is
/// not installed.
pub async fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir).kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output();
    match tokio::time::timeout(limit, output).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "`{program}` is not installed or not on PATH: this test needs Node.js 20+ and npm \
             (Debian: apt-get install nodejs npm; `bash .ci/run` installs them)"
        ),
        Ok(Err(e)) => panic!("could not run `{program} {}`: {e}", args.join(" ")),
        Err(_) => panic!("`{program} {}` did not finish within {limit:?}", args.join(" ")),
    }
}

/// Installs the locked packages of `dir` unless its `node_modules` already matches the
/// lockfile (npm rewrites `node_modules/.package-lock.json` on every install).
pub async fn ensure_installed(dir: &Path) {
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    if matches!((installed, locked), (Some(installed), Some(locked)) if installed >= locked) {
        return;
    }
    let output = run(dir, "npm", &["ci", "--no-audit", "--no-fund"], &[], INSTALL_TIMEOUT).await;
    assert!(
        output.status.success(),
        "`npm ci` in {} failed (is the npm registry reachable?): {}",
        dir.display(),
        report(&output)
    );
}

/// Runs `node <script>` in `dir`, which prints one line per check and ends with
/// "N passed, 0 failed": asserts the exit status and that summary, echoes the lines (for
/// `--nocapture`) and returns N.
pub async fn run_checks(dir: &Path, script: &str, env: &[(&str, &str)], limit: Duration) -> usize {
    let output = run(dir, "node", &[script], env, limit).await;
    assert!(output.status.success(), "{script} failed: {}", report(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed = stdout
        .lines()
        .last()
        .and_then(|line| line.strip_suffix(" passed, 0 failed"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line: {}", report(&output)));
    print!("{stdout}");
    passed
}
