//! The `nearby-fanout` workload: N WebSocket subscribers spread over one city, each on
//! `nearbyTaskPosted` within 5 km of its own point, and one poster posting IMMEDIATE tasks.
//!
//! 1. Seeds N + 1 users with the server's `seed::load_users` (`near_0` … `near_{N}`;
//!    `near_{N}` posts) and puts the poster on the `pro` plan (`user_plans`), whose monthly
//!    post limit is unlimited: the free plan allows 3 posts a month.
//! 2. Places subscriber i uniformly in the city's disc (`places::FANOUT_CITY`, 15 km radius)
//!    with a fixed seed, mints its token with the server's `TokenKeys`, opens its
//!    `graphql-transport-ws` connection and subscribes
//!    `nearbyTaskPosted(lat, lng, radiusMeters: 5000)` at its point.
//! 3. Probes: posts a task at every point of a 6 km grid over the city (every point of the
//!    disc lies within 4.3 km of one, 4.6 km of its public point) and waits until each
//!    subscriber has every probe it should get, so that every subscription is live before
//!    anything is measured. Probes are not measured.
//! 4. Posts M tasks at uniformly random points of the city, one every `--interval-ms`, over
//!    HTTP. For each, the expected receivers are the subscribers whose point lies within
//!    5 km of the task's public point (`geocell::fuzz` of the returned id and the posted
//!    point; distance by `geocell::distance_m`, as the server filters). A delivery's latency
//!    runs from the `postTask` response to the frame's arrival.
//! 5. Checks that every expected subscriber received each task exactly once and that no other
//!    subscriber received it. Deliveries of tasks this run did not post (another client of
//!    the same Redis posting in the city) are counted apart.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use gigmarket::{
    auth::jwt::TokenKeys,
    geocell,
    progress::{Progress, Unit},
};
use rand::{rngs::StdRng, SeedableRng};
use serde_json::json;
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use crate::{
    fanout::{self, FanOutSettings, DELIVERY_WAIT},
    places::{self, FANOUT_CITY, FANOUT_CITY_RADIUS_M},
    report::{figure_table, one_decimal, pair},
    stats::Percentiles,
    subscribers::{connect_all, read_frame, seed_users, writer_client, Frame, SeededUser},
};

/// Seeded usernames are `{NEAR_PREFIX}{i}`.
pub const NEAR_PREFIX: &str = "near_";
/// Every subscriber's radius.
pub const RADIUS_M: f64 = 5_000.0;
/// Spacing of the probe grid.
const PROBE_SPACING_M: f64 = 6_000.0;
const SUBSCRIPTION: &str = "subscription Near($lat: Float!, $lng: Float!) { nearbyTaskPosted(lat: $lat, lng: $lng, \
radiusMeters: 5000) { distanceMeters task { id title } } }";
const POST_TASK: &str = "mutation Post($i: PostTaskInput!) { postTask(input: $i) { id status } }";
/// Seeds the subscribers' and the tasks' points.
const SEED: u64 = 0x6c79_6f6e;

/// The subscribers whose point lies within `radius_m` of `public` (as the server filters:
/// `geocell::distance_m(subscriber, public) <= radius`), in index order.
pub fn expected_receivers(subscribers: &[(f64, f64)], public: (f64, f64), radius_m: f64) -> Vec<usize> {
    subscribers
        .iter()
        .enumerate()
        .filter(|(_, point)| geocell::distance_m(**point, public) <= radius_m)
        .map(|(i, _)| i)
        .collect()
}

/// How one task's deliveries compare with its expected receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeliveryCheck {
    pub expected: usize,
    /// Expected receivers that got it (once or more).
    pub delivered: usize,
    pub missing: usize,
    /// Copies beyond the first at one receiver.
    pub duplicates: usize,
    /// Deliveries to subscribers that should not have got it.
    pub unexpected: usize,
}

impl DeliveryCheck {
    /// `expected` in increasing order; `received` the receiving subscribers, one entry per
    /// delivery, any order.
    pub fn of(expected: &[usize], received: &[usize]) -> Self {
        let mut counts: HashMap<usize, usize> = HashMap::new();
        for &r in received {
            *counts.entry(r).or_default() += 1;
        }
        let mut check = DeliveryCheck {
            expected: expected.len(),
            ..Default::default()
        };
        for &e in expected {
            match counts.remove(&e) {
                Some(n) => {
                    check.delivered += 1;
                    check.duplicates += n - 1;
                }
                None => check.missing += 1,
            }
        }
        check.unexpected = counts.values().sum();
        check
    }

    fn add(&mut self, other: DeliveryCheck) {
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.missing += other.missing;
        self.duplicates += other.duplicates;
        self.unexpected += other.unexpected;
    }
}

/// Reads one server frame of `graphql-transport-ws`: a delivery is the task's id.
pub fn classify(text: &str) -> Frame<String> {
    read_frame(text, |data| {
        data["nearbyTaskPosted"]["task"]["id"].as_str().map(str::to_owned)
    })
}

/// Min, median and max of a list of counts.
pub fn spread(values: &[usize]) -> Option<(usize, usize, usize)> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    Some((*sorted.first()?, sorted[sorted.len() / 2], *sorted.last()?))
}

/// The figures of one run.
pub struct NearbyFanOutReport {
    pub subscribers: usize,
    pub connected: usize,
    pub connect_errors: usize,
    pub first_connect_error: Option<String>,
    pub connect_secs: f64,
    pub probes: usize,
    /// Subscribers still missing one of their probes when the wait ended.
    pub probe_incomplete: usize,
    pub probe_secs: f64,
    pub tasks: usize,
    pub interval: Duration,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub latency: Option<Percentiles>,
    /// From the `postTask` request's start instead of its response: an upper bound.
    pub latency_from_send: Option<Percentiles>,
    /// Expected deliveries per task: min, median, max.
    pub per_task: Option<(usize, usize, usize)>,
    pub check: DeliveryCheck,
    pub clamped: u64,
    pub foreign: usize,
    pub subscription_errors: usize,
    pub first_subscription_error: Option<String>,
    pub post_ms: Option<Percentiles>,
}

impl NearbyFanOutReport {
    /// Whether every expected delivery arrived once and nothing else did.
    pub fn clean(&self) -> bool {
        self.connected == self.subscribers
            && self.check.missing == 0
            && self.check.duplicates == 0
            && self.check.unexpected == 0
            && self.subscription_errors == 0
    }

    /// A Markdown table.
    pub fn render(&self) -> String {
        let opt = one_decimal;
        let p = self.latency;
        let mut out = format!(
            "### nearby-fanout ({} subscribers over a {:.0} km city, {} tasks every {} ms)\n\n",
            self.subscribers,
            2.0 * FANOUT_CITY_RADIUS_M / 1000.0,
            self.tasks,
            self.interval.as_millis()
        );
        let per_task = self
            .per_task
            .map_or("-".to_owned(), |(lo, mid, hi)| format!("{lo} / {mid} / {hi}"));
        let rows = [
            ("connected", format!("{} of {}", self.connected, self.subscribers)),
            ("connect errors", self.connect_errors.to_string()),
            ("connect + subscribe time s", format!("{:.1}", self.connect_secs)),
            (
                "probe tasks / subscribers missing a probe",
                format!("{} / {}", self.probes, self.probe_incomplete),
            ),
            ("probe wait s", format!("{:.1}", self.probe_secs)),
            (
                "server RSS before / after MiB",
                pair(
                    self.rss_before_kib.map(|k| k as f64 / 1024.0),
                    self.rss_after_kib.map(|k| k as f64 / 1024.0),
                ),
            ),
            ("expected deliveries per task min / median / max", per_task),
            ("expected deliveries", self.check.expected.to_string()),
            ("delivered", self.check.delivered.to_string()),
            ("delivery p50 ms", opt(p.map(|p| p.p50_ms))),
            ("delivery p90 ms", opt(p.map(|p| p.p90_ms))),
            ("delivery p99 ms", opt(p.map(|p| p.p99_ms))),
            ("delivery max ms", opt(p.map(|p| p.max_ms))),
            (
                "negative latencies clamped to 0 (frame before the postTask response)",
                self.clamped.to_string(),
            ),
            (
                "from the postTask request p50 / p99 ms",
                pair(
                    self.latency_from_send.map(|p| p.p50_ms),
                    self.latency_from_send.map(|p| p.p99_ms),
                ),
            ),
            ("missing", self.check.missing.to_string()),
            ("duplicates", self.check.duplicates.to_string()),
            ("unexpected (outside 5 km)", self.check.unexpected.to_string()),
            ("deliveries of tasks not posted here", self.foreign.to_string()),
            ("subscription errors", self.subscription_errors.to_string()),
            (
                "postTask p50 / max ms",
                pair(self.post_ms.map(|p| p.p50_ms), self.post_ms.map(|p| p.max_ms)),
            ),
        ];
        out.push_str(&figure_table(&rows));
        if let Some(e) = &self.first_connect_error {
            out.push_str(&format!("\nfirst connect error: {e}\n"));
        }
        if let Some(e) = &self.first_subscription_error {
            out.push_str(&format!("\nfirst subscription error: {e}\n"));
        }
        out
    }
}

/// A task this run posted.
struct Posted {
    id: String,
    sent: Instant,
    responded: Instant,
    receivers: Vec<usize>,
    /// Probes are not measured.
    probe: bool,
}

/// Runs the workload.
pub async fn run(settings: &FanOutSettings) -> anyhow::Result<NearbyFanOutReport> {
    let n = settings.subscribers;
    let users = seed(settings).await?;
    let poster = users.last().context("no poster")?;
    let keys = TokenKeys::new(settings.jwt_secret.as_bytes());
    let now = chrono::Utc::now();
    let poster_token = poster.token(&keys, now)?;
    let mut rng = StdRng::seed_from_u64(SEED);
    let points: Vec<(f64, f64)> = (0..n)
        .map(|_| places::uniform_in_disc(&mut rng, FANOUT_CITY, FANOUT_CITY_RADIUS_M))
        .collect();

    let ws_url = fanout::ws_url(&settings.url)?;
    let rss_before_kib = settings.server_pid.map(fanout::read_rss_kib).transpose()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let delivered = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(Notify::new());
    let connect_started = Instant::now();
    let subscriptions = users
        .iter()
        .zip(&points)
        .map(|(user, point)| {
            let payload = json!({
                "query": SUBSCRIPTION,
                "operationName": "Near",
                "variables": { "lat": point.0, "lng": point.1 },
            });
            Ok((user.token(&keys, now)?, payload))
        })
        .collect::<anyhow::Result<_>>()?;
    let connecting = Progress::new("nearby-fanout: connecting", Unit::Items("subscribers"));
    let (handles, connects) = connect_all(
        &ws_url,
        subscriptions,
        &stop_rx,
        classify,
        || {
            let (delivered, progress) = (delivered.clone(), progress.clone());
            move |_: &String| {
                delivered.fetch_add(1, Ordering::SeqCst);
                progress.notify_one();
            }
        },
        &connecting,
    )
    .await;
    let connected = connects.connected;
    let connect_secs = connect_started.elapsed().as_secs_f64();
    connecting.finish(&connects);

    let client = writer_client()?;
    let endpoint = reqwest::Url::parse(&settings.url)?.join("/graphql")?;
    let poster = Poster {
        client: &client,
        endpoint: &endpoint,
        token: &poster_token,
    };

    // Probes: a grid over the city, so every subscriber expects at least one.
    let probe_started = Instant::now();
    let mut posted = Vec::new();
    let grid = places::grid_over_disc(FANOUT_CITY, FANOUT_CITY_RADIUS_M, PROBE_SPACING_M);
    let probing = Progress::new("nearby-fanout: probing", Unit::Items("probes"));
    probing.set_length(grid.len() as u64);
    for point in grid {
        let sent = Instant::now();
        let (id, responded, public) = poster.post(point).await?;
        posted.push(Posted {
            id,
            sent,
            responded,
            receivers: expected_receivers(&points, public, RADIUS_M),
            probe: true,
        });
        probing.inc(1);
    }
    let probes = posted.len();
    let probe_expected: usize = posted.iter().map(|p| p.receivers.len()).sum();
    probing.set_message("waiting for the deliveries");
    wait_for(&delivered, probe_expected, &progress).await;
    let probe_secs = probe_started.elapsed().as_secs_f64();
    probing.finish(format_args!(
        "{probes} probes, {} of {probe_expected} probe deliveries",
        delivered.load(Ordering::SeqCst)
    ));
    let rss_after_kib = settings.server_pid.map(fanout::read_rss_kib).transpose()?;

    // Measured tasks.
    let mut post_hist = fanout::histogram()?;
    let mut ticker = tokio::time::interval(settings.interval);
    let mut expected_total = probe_expected;
    let posting = Progress::new("nearby-fanout: posting", Unit::Items("tasks"));
    posting.set_length(settings.messages as u64);
    for _ in 0..settings.messages {
        ticker.tick().await;
        let point = places::uniform_in_disc(&mut rng, FANOUT_CITY, FANOUT_CITY_RADIUS_M);
        let sent = Instant::now();
        let (id, responded, public) = poster.post(point).await?;
        post_hist.saturating_record(fanout::micros(responded - sent));
        let receivers = expected_receivers(&points, public, RADIUS_M);
        expected_total += receivers.len();
        posted.push(Posted {
            id,
            sent,
            responded,
            receivers,
            probe: false,
        });
        posting.inc(1);
    }
    posting.set_message("waiting for the deliveries");
    wait_for(&delivered, expected_total, &progress).await;
    let _ = stop_tx.send(true);
    posting.finish(format_args!(
        "posted {}; {} of {expected_total} deliveries, probes included",
        settings.messages,
        delivered.load(Ordering::SeqCst)
    ));

    // Who got what.
    let index: HashMap<&str, usize> = posted.iter().enumerate().map(|(i, p)| (p.id.as_str(), i)).collect();
    let mut received: Vec<Vec<usize>> = vec![Vec::new(); posted.len()];
    let mut histogram = fanout::histogram()?;
    let mut from_send = fanout::histogram()?;
    let mut clamped = 0;
    let mut foreign = 0;
    let mut subscription_errors = 0;
    let mut first_subscription_error = None;
    for (subscriber, handle) in handles.into_iter().enumerate() {
        let (arrivals, error) = match handle.await {
            Ok(result) => result,
            Err(e) => (None, Some(format!("subscriber task failed: {e}"))),
        };
        if let Some(e) = error {
            subscription_errors += 1;
            first_subscription_error.get_or_insert(e);
        }
        for (id, at) in arrivals.unwrap_or_default() {
            let Some(&t) = index.get(id.as_str()) else {
                foreign += 1;
                continue;
            };
            received[t].push(subscriber);
            let task = &posted[t];
            if task.probe || task.receivers.binary_search(&subscriber).is_err() {
                continue;
            }
            from_send.saturating_record(fanout::micros(at.saturating_duration_since(task.sent)));
            match at.checked_duration_since(task.responded) {
                Some(latency) => histogram.saturating_record(fanout::micros(latency)),
                None => {
                    clamped += 1;
                    histogram.saturating_record(1);
                }
            }
        }
    }
    let mut check = DeliveryCheck::default();
    let mut probe_incomplete = vec![false; n];
    for (task, got) in posted.iter().zip(&received) {
        let one = DeliveryCheck::of(&task.receivers, got);
        if task.probe {
            for &r in &task.receivers {
                probe_incomplete[r] |= !got.contains(&r);
            }
        } else {
            check.add(one);
        }
    }
    let per_task: Vec<usize> = posted.iter().filter(|p| !p.probe).map(|p| p.receivers.len()).collect();
    Ok(NearbyFanOutReport {
        subscribers: n,
        connected,
        connect_errors: connects.errors,
        first_connect_error: connects.first_error,
        connect_secs,
        probes,
        probe_incomplete: probe_incomplete.iter().filter(|m| **m).count(),
        probe_secs,
        tasks: settings.messages,
        interval: settings.interval,
        rss_before_kib,
        rss_after_kib,
        latency: Percentiles::of(&histogram),
        latency_from_send: Percentiles::of(&from_send),
        per_task: spread(&per_task),
        check,
        clamped,
        foreign,
        subscription_errors,
        first_subscription_error,
        post_ms: Percentiles::of(&post_hist),
    })
}

/// Waits until `counter` reaches `target` or `DELIVERY_WAIT` has passed.
async fn wait_for(counter: &AtomicUsize, target: usize, progress: &Notify) {
    let deadline = Instant::now() + DELIVERY_WAIT;
    while counter.load(Ordering::SeqCst) < target && Instant::now() < deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), progress.notified()).await;
    }
}

/// Seeds the users (the poster last, on the pro plan) and returns them in index order.
async fn seed(settings: &FanOutSettings) -> anyhow::Result<Vec<SeededUser>> {
    let users = seed_users(&settings.database_url, NEAR_PREFIX, settings.subscribers + 1).await?;
    let poster = users.last().context("no poster")?;
    let db = fanout::connect(&settings.database_url).await?;
    db.execute(
        "INSERT INTO user_plans (user_id, plan_id) VALUES ($1::text::uuid, 'pro') \
         ON CONFLICT (user_id) DO UPDATE SET plan_id = 'pro'",
        &[&poster.id.to_string()],
    )
    .await
    .context("putting the poster on the pro plan")?;
    // Fresh statistics for the new users (autovacuum may be off), as a running system has.
    db.batch_execute("ANALYZE users").await.context("ANALYZE users")?;
    Ok(users)
}

/// The poster's HTTP side (also the `first-accept` workload's).
pub struct Poster<'a> {
    pub client: &'a reqwest::Client,
    pub endpoint: &'a reqwest::Url,
    pub token: &'a str,
}

impl Poster<'_> {
    /// Posts an IMMEDIATE task at `point`; returns its id, when the response arrived, and its
    /// public point.
    pub async fn post(&self, point: (f64, f64)) -> anyhow::Result<(String, Instant, (f64, f64))> {
        let deadline = chrono::Utc::now() + chrono::Duration::hours(2);
        let body = json!({
            "query": POST_TASK,
            "operationName": "Post",
            "variables": { "i": { "task": {
                "title": "Jump-start my car this morning",
                "description": "Flat battery in an underground car park; bring jumper cables or a booster pack.",
                "category": "auto",
                "budgetType": "FIXED",
                "budgetMinCents": 2500,
                "budgetMaxCents": 4500,
                "duration": "LESS_THAN_A_WEEK",
                "locationType": "ONSITE",
                "address": "Parking Bellecour, level -2",
                "location": { "lat": point.0, "lng": point.1 },
                "mode": "IMMEDIATE",
                "acceptanceDeadline": deadline.to_rfc3339(),
            } } },
        });
        let response = self
            .client
            .post(self.endpoint.clone())
            .bearer_auth(self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body)?)
            .send()
            .await
            .context("postTask")?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let responded = Instant::now();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let id = value["data"]["postTask"]["id"].as_str();
        let (Some(id), true, None) = (id, status.is_success(), value.get("errors")) else {
            bail!("postTask failed: HTTP {status}: {}", String::from_utf8_lossy(&bytes));
        };
        let uuid: Uuid = id.parse().with_context(|| format!("postTask id {id}"))?;
        Ok((id.to_owned(), responded, geocell::fuzz(uuid, point.0, point.1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn expected_receivers_are_exactly_those_within_the_radius() {
        let centre = FANOUT_CITY;
        let subscribers = vec![
            places::offset(centre.0, centre.1, 4_990.0, 0.0),
            places::offset(centre.0, centre.1, 5_010.0, 0.0),
            centre,
            places::offset(centre.0, centre.1, 0.0, -4_000.0),
            places::offset(centre.0, centre.1, 0.0, 9_000.0),
        ];
        assert_eq!(expected_receivers(&subscribers, centre, RADIUS_M), vec![0, 2, 3]);
        // Against a brute force over random points, with the task's public point.
        let mut rng = StdRng::seed_from_u64(1);
        let points: Vec<_> = (0..2_000)
            .map(|_| places::uniform_in_disc(&mut rng, centre, FANOUT_CITY_RADIUS_M))
            .collect();
        let id = Uuid::from_u128(rng.random());
        let public = geocell::fuzz(id, centre.0, centre.1);
        let expected = expected_receivers(&points, public, RADIUS_M);
        for (i, p) in points.iter().enumerate() {
            assert_eq!(
                expected.binary_search(&i).is_ok(),
                geocell::distance_m(*p, public) <= RADIUS_M
            );
        }
        // A 5 km circle in a 15 km disc holds about (5 / 15)² of it.
        let share = expected.len() as f64 / points.len() as f64;
        assert!((share - 1.0 / 9.0).abs() < 0.03, "{share}");
    }

    #[test]
    fn deliveries_are_checked_against_the_expected_set() {
        assert_eq!(
            DeliveryCheck::of(&[1, 2, 3], &[3, 1, 2]),
            DeliveryCheck {
                expected: 3,
                delivered: 3,
                ..Default::default()
            }
        );
        assert_eq!(
            DeliveryCheck::of(&[1, 2, 3], &[1, 1, 7, 3]),
            DeliveryCheck {
                expected: 3,
                delivered: 2,
                missing: 1,
                duplicates: 1,
                unexpected: 1,
            }
        );
        assert_eq!(DeliveryCheck::of(&[], &[]), DeliveryCheck::default());
    }

    #[test]
    fn frames_are_read() {
        let next = r#"{"id":"1","type":"next","payload":{"data":{"nearbyTaskPosted":{"distanceMeters":1.5,"task":{"id":"abc","title":"t"}}}}}"#;
        assert_eq!(classify(next), Frame::Delivery("abc".into()));
        assert_eq!(classify(r#"{"type":"ping"}"#), Frame::Ping);
        assert_eq!(classify(r#"{"type":"pong"}"#), Frame::Ignore);
        assert!(matches!(
            classify(r#"{"id":"1","type":"next","payload":{"errors":[{"message":"x"}]}}"#),
            Frame::Failed(_)
        ));
        assert!(matches!(classify("{"), Frame::Failed(_)));
    }

    #[test]
    fn spreads_and_the_report() {
        assert_eq!(spread(&[5, 1, 9, 3]), Some((1, 5, 9)));
        assert_eq!(spread(&[]), None);
        let report = NearbyFanOutReport {
            subscribers: 10,
            connected: 10,
            connect_errors: 0,
            first_connect_error: None,
            connect_secs: 0.5,
            probes: 29,
            probe_incomplete: 0,
            probe_secs: 1.0,
            tasks: 2,
            interval: Duration::from_millis(200),
            rss_before_kib: Some(2048),
            rss_after_kib: None,
            latency: None,
            latency_from_send: None,
            per_task: Some((1, 2, 3)),
            check: DeliveryCheck {
                expected: 4,
                delivered: 4,
                ..Default::default()
            },
            clamped: 0,
            foreign: 0,
            subscription_errors: 0,
            first_subscription_error: None,
            post_ms: None,
        };
        assert!(report.clean());
        let text = report.render();
        assert!(text.starts_with("### nearby-fanout (10 subscribers over a 30 km city, 2 tasks every 200 ms)"));
        assert!(text.contains("| expected deliveries per task min / median / max | 1 / 2 / 3 |"));
        assert!(text.contains("| server RSS before / after MiB | 2.0 / - |"));
        let dirty = NearbyFanOutReport {
            check: DeliveryCheck {
                unexpected: 1,
                ..report.check
            },
            ..report
        };
        assert!(!dirty.clean());
    }
}
