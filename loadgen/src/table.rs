//! The record at a glance (issue 18): one Markdown table with the columns of BENCHMARKS.md's
//! top table, a row per measured workload, its "met?" cell computed from [`crate::targets`].
//! Pure: the `table` workload (`table_run`) measures, this renders.

use std::fmt::Write as _;

use crate::{
    report::thousands,
    stats::ratio,
    targets::{self, CatalogueTarget},
};

/// The columns, as in BENCHMARKS.md.
pub const HEADER: &str = "| workload | ours | pgbench | PostGraphile | ours / pgbench | ours / PostGraphile | \
p99 ms (ours / peer) | target (issue 18) | met? | commit | date |\n\
|---|---:|---:|---:|---:|---:|---:|---|---|---|---|\n";

/// A rate and its p99, medians of the runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub p99_ms: Option<f64>,
}

/// Which catalogue read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogueRead {
    Feed,
    GigById,
}

impl CatalogueRead {
    fn label(self) -> &'static str {
        match self {
            CatalogueRead::Feed => "feed: 20 gigs + owner + owner's 5 newest reviews",
            CatalogueRead::GigById => "gig by id + owner + packages",
        }
    }

    fn target(self) -> CatalogueTarget {
        match self {
            CatalogueRead::Feed => targets::FEED,
            CatalogueRead::GigById => targets::GIG_BY_ID,
        }
    }
}

/// What one part of the table measured (medians of its runs).
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    Catalogue {
        read: CatalogueRead,
        ours: Rate,
        pgbench_tps: f64,
        /// PostGraphile's, unless the peer was skipped.
        peer: Option<Rate>,
    },
    Nearby {
        tasks: usize,
        ours: Rate,
        pgbench_tps: f64,
    },
    FanOut {
        subscribers: usize,
        messages: usize,
        /// Between two messages of the paced runs.
        interval_ms: u64,
        /// Messages `interval_ms` apart: the latency figure.
        paced: Delivery,
        /// The same messages 1 ms apart: the capacity figure.
        burst: Delivery,
        kib_per_connection: Option<f64>,
    },
    FirstAccept {
        racers: usize,
        rounds: usize,
        /// Rounds with exactly one winner, the rest CONFLICT, one order.
        clean_rounds: usize,
        p99_ms: Option<f64>,
    },
    Startup {
        ready_ms: Option<f64>,
        idle_mib: Option<f64>,
    },
    NearbyFanOut {
        subscribers: usize,
        p99_ms: Option<f64>,
        /// Every run delivered to exactly the subscribers within reach, once.
        exact: bool,
    },
}

/// Medians of fan-out runs of one kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delivery {
    pub deliveries_per_sec: f64,
    pub p99_ms: Option<f64>,
    /// Every run delivered every message exactly once, in order.
    pub exact: bool,
}

impl Delivery {
    pub fn of(point: &crate::curve::CurvePoint) -> Self {
        Self {
            deliveries_per_sec: point.deliveries_per_sec,
            p99_ms: Some(point.p99_ms),
            exact: point.exact,
        }
    }
}

/// One row's cells before the commit and date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub workload: String,
    pub ours: String,
    pub pgbench: String,
    pub peer: String,
    pub to_pgbench: String,
    pub to_peer: String,
    pub p99: String,
    pub target: String,
    pub met: String,
}

const NONE: &str = "–";

fn one(value: Option<f64>) -> String {
    value.map_or(NONE.to_owned(), |v| format!("{v:.1}"))
}

fn times(value: Option<f64>) -> String {
    value.map_or(NONE.to_owned(), |v| format!("{v:.2}"))
}

fn row(workload: String, ours: String, p99: String, target: String, met: String) -> Row {
    Row {
        workload,
        ours,
        pgbench: NONE.to_owned(),
        peer: NONE.to_owned(),
        to_pgbench: NONE.to_owned(),
        to_peer: NONE.to_owned(),
        p99,
        target,
        met,
    }
}

impl Measured {
    /// The table's rows for this part (the fan-out has two: delivery and memory).
    pub fn rows(&self) -> Vec<Row> {
        match self {
            Measured::Catalogue {
                read,
                ours,
                pgbench_tps,
                peer,
            } => {
                let to_pgbench = ratio(ours.per_sec, *pgbench_tps);
                let to_peer = peer.and_then(|p| ratio(ours.per_sec, p.per_sec));
                let p99 = match peer {
                    Some(peer) => format!("{} / {}", one(ours.p99_ms), one(peer.p99_ms)),
                    None => one(ours.p99_ms),
                };
                vec![Row {
                    workload: read.label().to_owned(),
                    ours: format!("{} req/s", thousands(ours.per_sec, 1)),
                    pgbench: thousands(*pgbench_tps, 1),
                    peer: peer.map_or(NONE.to_owned(), |p| thousands(p.per_sec, 1)),
                    to_pgbench: times(to_pgbench),
                    to_peer: times(to_peer),
                    p99,
                    target: read.target().describe(),
                    met: read.target().met(to_pgbench, to_peer, ours.p99_ms),
                }]
            }
            Measured::Nearby {
                tasks,
                ours,
                pgbench_tps,
            } => {
                let to_pgbench = ratio(ours.per_sec, *pgbench_tps);
                vec![Row {
                    pgbench: thousands(*pgbench_tps, 1),
                    to_pgbench: times(to_pgbench),
                    ..row(
                        format!("nearbyTasks, {} tasks, 5 km", thousands(*tasks as f64, 0)),
                        format!("{} req/s", thousands(ours.per_sec, 1)),
                        one(ours.p99_ms),
                        targets::NEARBY.describe(),
                        targets::NEARBY.met(to_pgbench, ours.p99_ms),
                    )
                }]
            }
            Measured::FanOut {
                subscribers,
                messages,
                interval_ms,
                paced,
                burst,
                kib_per_connection,
            } => {
                let subscribers = thousands(*subscribers as f64, 0);
                let rate = |d: &Delivery| format!("{} deliveries/s", thousands(d.deliveries_per_sec, 0));
                vec![
                    row(
                        format!("messageAdded, {subscribers} subscribers, {messages} messages {interval_ms} ms apart"),
                        rate(paced),
                        one(paced.p99_ms),
                        targets::FAN_OUT.describe_latency(),
                        targets::FAN_OUT.met_latency(paced.p99_ms, paced.exact),
                    ),
                    row(
                        format!("messageAdded capacity: {subscribers} subscribers, {messages} messages 1 ms apart"),
                        rate(burst),
                        one(burst.p99_ms),
                        targets::FAN_OUT.describe_rate(),
                        targets::FAN_OUT.met_rate(burst.deliveries_per_sec, burst.exact),
                    ),
                    row(
                        format!("server RSS per subscribed WebSocket ({subscribers})"),
                        kib_per_connection.map_or(NONE.to_owned(), |k| format!("{k:.1} KiB")),
                        NONE.to_owned(),
                        targets::FAN_OUT.describe_memory(),
                        targets::FAN_OUT.met_memory(*kib_per_connection),
                    ),
                ]
            }
            Measured::FirstAccept {
                racers,
                rounds,
                clean_rounds,
                p99_ms,
            } => vec![row(
                format!("first accept: {racers} concurrent `acceptTask`, one task"),
                format!("1 winner in {clean_rounds} of {rounds} rounds"),
                one(*p99_ms),
                format!("exactly one winner, p99 ≤ {} ms", targets::FIRST_ACCEPT_MAX_P99_MS),
                targets::summary(&[
                    ("winner", (clean_rounds == rounds && *rounds > 0).into()),
                    (
                        "p99",
                        targets::Verdict::at_most(*p99_ms, targets::FIRST_ACCEPT_MAX_P99_MS),
                    ),
                ]),
            )],
            Measured::Startup { ready_ms, idle_mib } => vec![row(
                "start to ready (migrated database) / idle RSS".to_owned(),
                format!("{} ms / {} MiB", one(*ready_ms), one(*idle_mib)),
                NONE.to_owned(),
                targets::STARTUP.describe(),
                targets::STARTUP.met(*ready_ms, *idle_mib),
            )],
            Measured::NearbyFanOut {
                subscribers,
                p99_ms,
                exact,
            } => vec![row(
                format!("nearbyTaskPosted, {} subscribers", thousands(*subscribers as f64, 0)),
                NONE.to_owned(),
                one(*p99_ms),
                format!("p99 ≤ {} ms", targets::NEARBY_FANOUT_MAX_P99_MS),
                if *exact {
                    targets::Verdict::at_most(*p99_ms, targets::NEARBY_FANOUT_MAX_P99_MS).to_string()
                } else {
                    "no: deliveries astray".to_owned()
                },
            )],
        }
    }
}

/// The whole table: the header, then every part's rows with `commit` and `date`.
pub fn render(parts: &[Measured], commit: &str, date: &str) -> String {
    let mut out = String::from(HEADER);
    for r in parts.iter().flat_map(Measured::rows) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | `{commit}` | {date} |",
            r.workload, r.ours, r.pgbench, r.peer, r.to_pgbench, r.to_peer, r.p99, r.target, r.met
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures of BENCHMARKS.md's table at 6b80e65.
    fn parts() -> Vec<Measured> {
        vec![
            Measured::Catalogue {
                read: CatalogueRead::Feed,
                ours: Rate {
                    per_sec: 1538.8,
                    p99_ms: Some(30.7),
                },
                pgbench_tps: 3153.7,
                peer: Some(Rate {
                    per_sec: 1400.3,
                    p99_ms: Some(53.4),
                }),
            },
            Measured::Nearby {
                tasks: 1_000_000,
                ours: Rate {
                    per_sec: 1694.2,
                    p99_ms: Some(30.1),
                },
                pgbench_tps: 4288.8,
            },
            Measured::FanOut {
                subscribers: 10_000,
                messages: 20,
                interval_ms: 200,
                paced: Delivery {
                    deliveries_per_sec: 49_099.0,
                    p99_ms: Some(190.8),
                    exact: true,
                },
                burst: Delivery {
                    deliveries_per_sec: 61_234.0,
                    p99_ms: Some(2_345.6),
                    exact: true,
                },
                kib_per_connection: Some(38.3),
            },
            Measured::FirstAccept {
                racers: 500,
                rounds: 15,
                clean_rounds: 15,
                p99_ms: Some(143.9),
            },
            Measured::Startup {
                ready_ms: Some(45.6),
                idle_mib: Some(51.8),
            },
            Measured::NearbyFanOut {
                subscribers: 10_000,
                p99_ms: Some(52.8),
                exact: true,
            },
        ]
    }

    #[test]
    fn the_table_renders_the_benchmarks_rows() {
        let text = render(&parts(), "6b80e65", "2026-12-07");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], HEADER.lines().next().unwrap());
        assert_eq!(lines.len(), 2 + 8, "{text}");
        let expected = [
            "| feed: 20 gigs + owner + owner's 5 newest reviews | 1,538.8 req/s | 3,153.7 | 1,400.3 | 0.49 | 1.10 | 30.7 / 53.4 | ≥ 0.65× pgbench, ≥ 2.5× peer, p99 ≤ 15 ms | no | `6b80e65` | 2026-12-07 |",
            "| nearbyTasks, 1,000,000 tasks, 5 km | 1,694.2 req/s | 4,288.8 | – | 0.40 | – | 30.1 | ≥ 0.9× pgbench, p99 ≤ 10 ms | no | `6b80e65` | 2026-12-07 |",
            "| messageAdded, 10,000 subscribers, 20 messages 200 ms apart | 49,099 deliveries/s | – | – | – | – | 190.8 | p99 ≤ 100 ms | no | `6b80e65` | 2026-12-07 |",
            "| messageAdded capacity: 10,000 subscribers, 20 messages 1 ms apart | 61,234 deliveries/s | – | – | – | – | 2345.6 | ≥ 100,000/s | no | `6b80e65` | 2026-12-07 |",
            "| server RSS per subscribed WebSocket (10,000) | 38.3 KiB | – | – | – | – | – | ≤ 30 KiB | no | `6b80e65` | 2026-12-07 |",
            "| first accept: 500 concurrent `acceptTask`, one task | 1 winner in 15 of 15 rounds | – | – | – | – | 143.9 | exactly one winner, p99 ≤ 100 ms | winner yes, p99 no | `6b80e65` | 2026-12-07 |",
            "| start to ready (migrated database) / idle RSS | 45.6 ms / 51.8 MiB | – | – | – | – | – | ≤ 1 s / ≤ 30 MB | yes / no | `6b80e65` | 2026-12-07 |",
            "| nearbyTaskPosted, 10,000 subscribers | – | – | – | – | – | 52.8 | p99 ≤ 100 ms | yes | `6b80e65` | 2026-12-07 |",
        ];
        assert_eq!(&lines[2..], &expected[..]);
    }

    #[test]
    fn every_row_has_the_eleven_columns() {
        let text = render(&parts(), "abc1234", "2026-12-07");
        for line in text.lines() {
            // 11 cells between 12 pipes; no cell holds a pipe.
            assert_eq!(line.matches('|').count(), 12, "{line}");
        }
    }

    #[test]
    fn a_skipped_peer_and_inexact_deliveries_show() {
        let gig = Measured::Catalogue {
            read: CatalogueRead::GigById,
            ours: Rate {
                per_sec: 8000.0,
                p99_ms: Some(4.0),
            },
            pgbench_tps: 10_000.0,
            peer: None,
        };
        let row = &gig.rows()[0];
        assert_eq!((row.peer.as_str(), row.to_peer.as_str()), ("–", "–"));
        assert_eq!(row.p99, "4.0");
        assert_eq!(row.met, "pgbench yes, peer –, p99 yes");
        let lost = Measured::NearbyFanOut {
            subscribers: 100,
            p99_ms: Some(1.0),
            exact: false,
        };
        assert_eq!(lost.rows()[0].met, "no: deliveries astray");
        let no_rounds = Measured::FirstAccept {
            racers: 5,
            rounds: 0,
            clean_rounds: 0,
            p99_ms: None,
        };
        assert_eq!(no_rounds.rows()[0].met, "winner no, p99 –");
    }
}
