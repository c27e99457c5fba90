//! What one run measured, and the arithmetic of the report: percentiles, medians, ratios.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Highest latency the histogram resolves, in microseconds; slower requests are recorded at
/// this value (and the client's own timeout is lower anyway).
const MAX_TRACKED_MICROS: u64 = 120_000_000;
/// Significant figures kept by the histogram: 3 means at most 0.1 % error per value.
const SIGNIFICANT_FIGURES: u8 = 3;
/// How much of an error message a tally keeps as its example.
const ERROR_EXAMPLE_CHARS: usize = 300;

/// Successes, failures and the latency of the successes, for one or more concurrent loops.
pub struct Tally {
    pub successes: u64,
    pub errors: u64,
    /// Latency of successful requests, in microseconds.
    pub latency: Histogram<u64>,
    /// The first failure seen, so a failing run says why.
    pub first_error: Option<String>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> anyhow::Result<Self> {
        let latency = Histogram::new_with_bounds(1, MAX_TRACKED_MICROS, SIGNIFICANT_FIGURES)
            .map_err(|e| anyhow::anyhow!("latency histogram: {e}"))?;
        Ok(Self {
            successes: 0,
            errors: 0,
            latency,
            first_error: None,
        })
    }

    /// Counts a success that took `elapsed`.
    pub fn success(&mut self, elapsed: Duration) {
        self.successes += 1;
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency.saturating_record(micros.max(1));
    }

    /// Counts a failure, keeping the first one's description.
    pub fn error(&mut self, why: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(why().chars().take(ERROR_EXAMPLE_CHARS).collect());
        }
    }

    /// Adds another loop's tally to this one.
    pub fn merge(&mut self, other: Tally) -> anyhow::Result<()> {
        self.successes += other.successes;
        self.errors += other.errors;
        self.latency
            .add(&other.latency)
            .map_err(|e| anyhow::anyhow!("merging histograms: {e}"))?;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        Ok(())
    }

    /// The figures of a run that took `elapsed` from start until its last request finished.
    pub fn figures(&self, elapsed: Duration) -> RunFigures {
        let seconds = elapsed.as_secs_f64();
        RunFigures {
            requests_per_sec: if seconds > 0.0 {
                self.successes as f64 / seconds
            } else {
                0.0
            },
            mean_ms: (!self.latency.is_empty()).then(|| self.latency.mean() / 1000.0),
            percentiles: Percentiles::of(&self.latency),
            successes: self.successes,
            errors: self.errors,
        }
    }
}

/// Latency percentiles and maximum, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of microseconds; `None` when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Some(Self {
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            max_ms: ms(histogram.max()),
        })
    }
}

/// One row of a report. Baselines that report only a mean (pgbench) have no percentiles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunFigures {
    /// Successful requests (or transactions, or verifications) per second.
    pub requests_per_sec: f64,
    pub mean_ms: Option<f64>,
    pub percentiles: Option<Percentiles>,
    pub successes: u64,
    pub errors: u64,
}

impl RunFigures {
    /// The median of each column across runs (counts are summed, not medians). A latency
    /// column is present only when every run has it.
    pub fn median_of(runs: &[RunFigures]) -> Option<RunFigures> {
        let column = |f: fn(&RunFigures) -> Option<f64>| -> Option<f64> {
            median(&runs.iter().map(f).collect::<Option<Vec<f64>>>()?)
        };
        Some(RunFigures {
            requests_per_sec: column(|r| Some(r.requests_per_sec))?,
            mean_ms: column(|r| r.mean_ms),
            percentiles: (|| {
                Some(Percentiles {
                    p50_ms: column(|r| r.percentiles.map(|p| p.p50_ms))?,
                    p90_ms: column(|r| r.percentiles.map(|p| p.p90_ms))?,
                    p99_ms: column(|r| r.percentiles.map(|p| p.p99_ms))?,
                    max_ms: column(|r| r.percentiles.map(|p| p.max_ms))?,
                })
            })(),
            successes: runs.iter().map(|r| r.successes).sum(),
            errors: runs.iter().map(|r| r.errors).sum(),
        })
    }

    /// Failures as a fraction of all attempts (0 when there were none).
    pub fn error_rate(&self) -> f64 {
        error_rate(self.successes, self.errors)
    }
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty
/// or when a value is NaN.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    })
}

/// Failures as a fraction of all attempts (0 when there were none).
pub fn error_rate(successes: u64, errors: u64) -> f64 {
    let total = successes + errors;
    if total == 0 {
        0.0
    } else {
        errors as f64 / total as f64
    }
}

/// `server / baseline`, when the baseline is positive.
pub fn ratio(server: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| server / baseline)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(actual: f64, expected: f64, tolerance: f64) -> bool {
        (actual - expected).abs() <= tolerance
    }

    #[test]
    fn median_of_odd_and_even_counts_ignores_order() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[7.5]), Some(7.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN, 2.0]), None);
    }

    #[test]
    fn percentiles_of_a_uniform_spread_are_within_the_histogram_precision() {
        let mut tally = Tally::new().unwrap();
        // 1 ms .. 1000 ms, one request each.
        for ms in 1..=1000u64 {
            tally.success(Duration::from_millis(ms));
        }
        let p = Percentiles::of(&tally.latency).unwrap();
        // 3 significant figures: each value is within 0.1 % of the true one.
        assert!(approx(p.p50_ms, 500.0, 0.5), "{p:?}");
        assert!(approx(p.p90_ms, 900.0, 0.9), "{p:?}");
        assert!(approx(p.p99_ms, 990.0, 1.0), "{p:?}");
        assert!(approx(p.max_ms, 1000.0, 1.0), "{p:?}");
    }

    #[test]
    fn an_empty_histogram_has_no_percentiles() {
        let tally = Tally::new().unwrap();
        assert_eq!(Percentiles::of(&tally.latency), None);
        let figures = tally.figures(Duration::from_secs(1));
        assert_eq!(figures.mean_ms, None);
        assert_eq!(figures.requests_per_sec, 0.0);
    }

    #[test]
    fn figures_count_successes_per_second_of_wall_time() {
        let mut tally = Tally::new().unwrap();
        for _ in 0..300 {
            tally.success(Duration::from_millis(2));
        }
        tally.error(|| "HTTP 500".into());
        tally.error(|| "HTTP 502".into());
        let figures = tally.figures(Duration::from_millis(1500));
        assert!(approx(figures.requests_per_sec, 200.0, 1e-9));
        assert!(approx(figures.mean_ms.unwrap(), 2.0, 0.002));
        assert_eq!(figures.errors, 2);
        assert_eq!(tally.first_error.as_deref(), Some("HTTP 500"));
    }

    #[test]
    fn merging_adds_counts_and_keeps_the_first_error() {
        let mut a = Tally::new().unwrap();
        a.success(Duration::from_millis(1));
        let mut b = Tally::new().unwrap();
        b.success(Duration::from_millis(100));
        b.error(|| "timeout".into());
        a.merge(b).unwrap();
        assert_eq!((a.successes, a.errors), (2, 1));
        assert_eq!(a.first_error.as_deref(), Some("timeout"));
        assert!(approx(Percentiles::of(&a.latency).unwrap().max_ms, 100.0, 0.1));
    }

    #[test]
    fn medians_across_runs_are_per_column_and_counts_are_summed() {
        let run = |rps: f64, p50: f64, errors: u64| RunFigures {
            requests_per_sec: rps,
            mean_ms: Some(p50 + 1.0),
            percentiles: Some(Percentiles {
                p50_ms: p50,
                p90_ms: p50 * 2.0,
                p99_ms: p50 * 3.0,
                max_ms: p50 * 10.0,
            }),
            successes: 1000,
            errors,
        };
        let runs = [run(100.0, 5.0, 0), run(300.0, 1.0, 3), run(200.0, 9.0, 0)];
        let median = RunFigures::median_of(&runs).unwrap();
        assert_eq!(median.requests_per_sec, 200.0);
        assert_eq!(median.mean_ms, Some(6.0));
        assert_eq!(median.percentiles.unwrap().p50_ms, 5.0);
        assert_eq!(median.percentiles.unwrap().max_ms, 50.0);
        assert_eq!((median.successes, median.errors), (3000, 3));
        assert!(approx(median.error_rate(), 3.0 / 3003.0, 1e-12));
    }

    #[test]
    fn a_mean_only_baseline_has_no_median_percentiles() {
        let run = |rps: f64| RunFigures {
            requests_per_sec: rps,
            mean_ms: Some(1.0),
            percentiles: None,
            successes: 10,
            errors: 0,
        };
        let median = RunFigures::median_of(&[run(1.0), run(2.0)]).unwrap();
        assert_eq!(median.requests_per_sec, 1.5);
        assert_eq!(median.percentiles, None);
        assert_eq!(RunFigures::median_of(&[]), None);
    }

    #[test]
    fn error_rate_and_ratio_handle_zero() {
        assert_eq!(error_rate(0, 0), 0.0);
        assert_eq!(error_rate(99, 1), 0.01);
        assert_eq!(ratio(50.0, 200.0), Some(0.25));
        assert_eq!(ratio(50.0, 0.0), None);
    }
}
