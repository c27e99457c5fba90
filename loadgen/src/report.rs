//! The printed report: one Markdown table per workload (so it pastes into BENCHMARKS.md
//! as is), then the medians and the server/baseline ratio.

use std::fmt::Write as _;

use crate::stats::{ratio, RunFigures};

/// A value with one decimal, or `-` when there is none.
pub fn one_decimal(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.1}"))
}

/// `a / b`, each with one decimal (or `-`).
pub fn pair(a: Option<f64>, b: Option<f64>) -> String {
    format!("{} / {}", one_decimal(a), one_decimal(b))
}

/// A two-column Markdown table of named figures.
pub fn figure_table(rows: &[(&str, String)]) -> String {
    let mut out = String::from("| figure | value |\n|---|---:|\n");
    for (name, value) in rows {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    out
}

/// Everything measured for one workload.
pub struct WorkloadReport {
    /// The GraphQL operation, e.g. `userByUsername`.
    pub name: &'static str,
    pub connections: usize,
    /// What the baseline is, in a few words.
    pub baseline: String,
    /// The baseline's command line (or a description of the in-process loop).
    pub baseline_command: String,
    /// `(baseline, server)` per run, in the order they ran.
    pub runs: Vec<(RunFigures, RunFigures)>,
    /// The server's first failure, if any.
    pub first_error: Option<String>,
}

impl WorkloadReport {
    /// Medians of the server runs.
    pub fn server_median(&self) -> Option<RunFigures> {
        RunFigures::median_of(&self.runs.iter().map(|(_, s)| *s).collect::<Vec<_>>())
    }

    /// Medians of the baseline runs.
    pub fn baseline_median(&self) -> Option<RunFigures> {
        RunFigures::median_of(&self.runs.iter().map(|(b, _)| *b).collect::<Vec<_>>())
    }

    /// Median server rate over median baseline rate.
    pub fn ratio(&self) -> Option<f64> {
        ratio(
            self.server_median()?.requests_per_sec,
            self.baseline_median()?.requests_per_sec,
        )
    }

    /// The server's failures over all its requests, across runs.
    pub fn server_error_rate(&self) -> f64 {
        self.server_median().map_or(0.0, |m| m.error_rate())
    }

    /// The table, medians, ratio and error summary.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### {} ({} connections)\n\nbaseline: {}\n`{}`\n",
            self.name, self.connections, self.baseline, self.baseline_command
        );
        out.push_str("| run | target | req/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | errors |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (i, (baseline, server)) in self.runs.iter().enumerate() {
            let run = (i + 1).to_string();
            out.push_str(&row(&run, "baseline", baseline));
            out.push_str(&row(&run, "server", server));
        }
        if let Some(median) = self.baseline_median() {
            out.push_str(&row("median", "baseline", &median));
        }
        if let Some(median) = self.server_median() {
            out.push_str(&row("median", "server", &median));
        }
        let _ = writeln!(
            out,
            "\nserver/baseline (median req/s): {}",
            self.ratio().map_or("n/a".to_owned(), |r| format!("{r:.3}"))
        );
        if let Some(median) = self.server_median() {
            let _ = writeln!(
                out,
                "server errors: {} of {} requests ({:.2} %)",
                median.errors,
                median.errors + median.successes,
                median.error_rate() * 100.0
            );
        }
        if let Some(error) = &self.first_error {
            let _ = writeln!(out, "first server error: {error}");
        }
        out
    }
}

/// One table row; columns a baseline does not measure show `-`.
pub fn row(run: &str, target: &str, figures: &RunFigures) -> String {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
    let p = figures.percentiles;
    format!(
        "| {run} | {target} | {:.1} | {} | {} | {} | {} | {} | {} |\n",
        figures.requests_per_sec,
        ms(figures.mean_ms),
        ms(p.map(|p| p.p50_ms)),
        ms(p.map(|p| p.p90_ms)),
        ms(p.map(|p| p.p99_ms)),
        ms(p.map(|p| p.max_ms)),
        figures.errors,
    )
}

/// Words joined into a line a POSIX shell reads back as the same words.
pub fn shell_words<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|word| {
            let word = word.as_ref();
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
            if plain {
                word.to_owned()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `value` with `decimals` decimals and a comma every three digits: `1,538.8`.
pub fn thousands(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_group_the_whole_part() {
        assert_eq!(thousands(1538.84, 1), "1,538.8");
        assert_eq!(thousands(49_099.4, 0), "49,099");
        assert_eq!(thousands(1_000_000.0, 0), "1,000,000");
        assert_eq!(thousands(999.96, 1), "1,000.0");
        assert_eq!(thousands(12.0, 0), "12");
        assert_eq!(thousands(-1234.5, 1), "-1,234.5");
        assert_eq!(thousands(-0.01, 1), "0.0");
    }

    #[test]
    fn figure_tables_and_pairs() {
        assert_eq!(pair(Some(1.25), None), "1.2 / -");
        assert_eq!(one_decimal(Some(3.0)), "3.0");
        assert_eq!(
            figure_table(&[("a", "1".to_owned()), ("b", "x / y".to_owned())]),
            "| figure | value |\n|---|---:|\n| a | 1 |\n| b | x / y |\n"
        );
    }
    use crate::stats::Percentiles;

    fn server(rps: f64, errors: u64) -> RunFigures {
        RunFigures {
            requests_per_sec: rps,
            mean_ms: Some(2.0),
            percentiles: Some(Percentiles {
                p50_ms: 1.5,
                p90_ms: 3.0,
                p99_ms: 6.0,
                max_ms: 20.0,
            }),
            successes: 1000,
            errors,
        }
    }

    fn baseline(tps: f64) -> RunFigures {
        RunFigures {
            requests_per_sec: tps,
            mean_ms: Some(0.5),
            percentiles: None,
            successes: 5000,
            errors: 0,
        }
    }

    fn report() -> WorkloadReport {
        WorkloadReport {
            name: "userByUsername",
            connections: 32,
            baseline: "pgbench".into(),
            baseline_command: "pgbench -n".into(),
            runs: vec![
                (baseline(1000.0), server(100.0, 0)),
                (baseline(3000.0), server(300.0, 30)),
                (baseline(2000.0), server(200.0, 0)),
            ],
            first_error: Some("HTTP 500".into()),
        }
    }

    #[test]
    fn ratio_is_of_the_medians() {
        let report = report();
        assert_eq!(report.server_median().unwrap().requests_per_sec, 200.0);
        assert_eq!(report.baseline_median().unwrap().requests_per_sec, 2000.0);
        assert_eq!(report.ratio(), Some(0.1));
        assert!((report.server_error_rate() - 30.0 / 3030.0).abs() < 1e-12);
    }

    #[test]
    fn the_table_has_a_row_per_run_and_target_and_the_medians() {
        let text = report().render();
        assert!(text.contains("| 1 | baseline | 1000.0 | 0.500 | - | - | - | - | 0 |"));
        assert!(text.contains("| 2 | server | 300.0 | 2.000 | 1.500 | 3.000 | 6.000 | 20.000 | 30 |"));
        assert!(text.contains("| median | server | 200.0 |"));
        assert!(text.contains("server/baseline (median req/s): 0.100"));
        assert!(text.contains("server errors: 30 of 3030 requests (0.99 %)"));
        assert!(text.contains("first server error: HTTP 500"));
    }

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(
            shell_words(&["loadgen", "--url", "http://127.0.0.1:8080"]),
            "loadgen --url http://127.0.0.1:8080"
        );
        assert_eq!(shell_words(&["a b", "it's", ""]), r"'a b' 'it'\''s' ''");
    }
}
