//! The `fan-out` workload: one writer, N WebSocket subscribers in one conversation.
//!
//! 1. Seeds N + 1 users with the server's own `seed::load_users` (`fan_0` … `fan_{N}`;
//!    `fan_{N}` is the writer) and reads their ids and emails from the database.
//! 2. Creates one conversation with all of them as participants by inserting rows into
//!    `conversations` and `conversation_participants` directly: the API has no group
//!    conversations (`startConversation` makes two-party ones only).
//! 3. Mints an access token per user with the server's `TokenKeys` and `--jwt-secret`, which
//!    must be the server's `JWT_SECRET`.
//! 4. Reads the server's VmRSS, opens N `graphql-transport-ws` connections (connection_init
//!    with the token, waits for connection_ack) and subscribes each to `messageAdded`.
//! 5. Sends one unmeasured probe message (sequence 0) and waits until every subscriber got it,
//!    so that every subscription is live before anything is measured; reads VmRSS again.
//! 6. The writer sends M messages over HTTP, one every `--interval-ms`, the content carrying a
//!    sequence number. A delivery's latency is from the writer's mutation response to the
//!    frame's arrival at the subscriber (negative values, a delivery that beat the response,
//!    are counted and clamped to 0).
//! 7. Checks every subscriber got 1 … M exactly once and in order.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use gigmarket::{
    auth::jwt::TokenKeys,
    progress::{Progress, Unit},
};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::{watch, Notify};

use crate::{
    report::{figure_table, one_decimal, pair},
    stats::Percentiles,
    subscribers::{connect_all, read_frame, seed_users, writer_client, Frame, SeededUser},
};

/// Seeded usernames are `{FAN_PREFIX}{i}`.
pub const FAN_PREFIX: &str = "fan_";
const SUBSCRIPTION: &str =
    "subscription($c: ID!) { messageAdded(conversationId: $c) { id content sender { username } } }";
const SEND_MESSAGE: &str = "mutation Send($i: SendMessageInput!) { sendMessage(input: $i) { id } }";
/// Message contents are `{CONTENT_PREFIX}{sequence}`.
const CONTENT_PREFIX: &str = "fan-out #";
/// How long to wait for the probe (all subscribers) and for the last deliveries.
pub const DELIVERY_WAIT: Duration = Duration::from_secs(60);

/// What to run: for this fan-out and for the nearby one (`nearby_fanout`), whose
/// `messages` are the tasks it posts.
pub struct FanOutSettings {
    pub url: String,
    pub database_url: String,
    pub subscribers: usize,
    pub messages: usize,
    pub interval: Duration,
    pub jwt_secret: String,
    pub server_pid: Option<u32>,
}

/// What one subscriber's received sequence numbers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SequenceCheck {
    /// Sequence numbers 1 … M never received.
    pub missing: usize,
    /// Deliveries beyond the first of a sequence number.
    pub duplicates: usize,
    /// Deliveries whose number was not above the one before.
    pub out_of_order: usize,
}

impl SequenceCheck {
    /// Checks `received` (in arrival order, probe 0 excluded) against 1 … `expected`.
    pub fn of(received: &[u32], expected: usize) -> Self {
        let mut seen = vec![false; expected + 1];
        let mut check = SequenceCheck::default();
        let mut previous = 0;
        for &seq in received {
            let index = seq as usize;
            if index == 0 || index > expected {
                // Not one of ours: counted as a duplicate-like anomaly.
                check.duplicates += 1;
                continue;
            }
            if seen[index] {
                check.duplicates += 1;
            } else {
                seen[index] = true;
            }
            if seq <= previous {
                check.out_of_order += 1;
            }
            previous = seq;
        }
        check.missing = seen.iter().skip(1).filter(|s| !**s).count();
        check
    }

    fn add(&mut self, other: SequenceCheck) {
        self.missing += other.missing;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
    }
}

/// The sequence number in a message's content, `fan-out #17` → 17.
pub fn sequence_of(content: &str) -> Option<u32> {
    content.strip_prefix(CONTENT_PREFIX)?.parse().ok()
}

/// `VmRSS` in KiB from the text of `/proc/<pid>/status`.
pub fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:")?.split_whitespace().next()?.parse().ok())
}

/// The `VmRSS` of process `pid`, in KiB.
pub fn read_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    vm_rss_kib(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

/// Reads one server frame of `graphql-transport-ws`: a delivery is a message's sequence number.
pub fn classify(text: &str) -> Frame<u32> {
    read_frame(text, |data| {
        data["messageAdded"]["content"].as_str().and_then(sequence_of)
    })
}

/// The figures of one fan-out run.
pub struct FanOutReport {
    pub subscribers: usize,
    pub connected: usize,
    pub connect_errors: usize,
    pub first_connect_error: Option<String>,
    pub connect_secs: f64,
    pub probe_missing: usize,
    pub messages: usize,
    pub interval: Duration,
    pub rss_before_kib: Option<u64>,
    pub rss_after_kib: Option<u64>,
    pub latency: Option<Percentiles>,
    pub deliveries: u64,
    pub deliveries_per_sec: f64,
    pub clamped: u64,
    pub check: SequenceCheck,
    pub subscription_errors: usize,
    pub first_subscription_error: Option<String>,
    pub send_ms: Option<Percentiles>,
    /// Per sequence number 0 (the probe) … M, how many connected subscribers never got it.
    pub missing_by_seq: Vec<usize>,
}

impl FanOutReport {
    /// Every subscriber connected and got every message exactly once, in order.
    pub fn clean(&self) -> bool {
        self.connected == self.subscribers && self.check == SequenceCheck::default() && self.subscription_errors == 0
    }

    /// Memory per connection in KiB.
    pub fn kib_per_connection(&self) -> Option<f64> {
        let (before, after) = (self.rss_before_kib?, self.rss_after_kib?);
        (self.connected > 0).then(|| (after as f64 - before as f64) / self.connected as f64)
    }

    /// A Markdown table.
    pub fn render(&self) -> String {
        let opt = one_decimal;
        let p = self.latency;
        let mut out = format!(
            "### fan-out ({} subscribers, {} messages every {} ms)\n\n",
            self.subscribers,
            self.messages,
            self.interval.as_millis()
        );
        let rows = [
            ("connected", format!("{} of {}", self.connected, self.subscribers)),
            ("connect errors", self.connect_errors.to_string()),
            ("connect + subscribe time s", format!("{:.1}", self.connect_secs)),
            ("subscribers without the probe", self.probe_missing.to_string()),
            (
                "server RSS before MiB",
                opt(self.rss_before_kib.map(|k| k as f64 / 1024.0)),
            ),
            (
                "server RSS after MiB",
                opt(self.rss_after_kib.map(|k| k as f64 / 1024.0)),
            ),
            ("KiB per connection", opt(self.kib_per_connection())),
            ("deliveries", self.deliveries.to_string()),
            ("delivery p50 ms", opt(p.map(|p| p.p50_ms))),
            ("delivery p90 ms", opt(p.map(|p| p.p90_ms))),
            ("delivery p99 ms", opt(p.map(|p| p.p99_ms))),
            ("delivery max ms", opt(p.map(|p| p.max_ms))),
            ("deliveries/s", format!("{:.0}", self.deliveries_per_sec)),
            ("negative latencies clamped to 0", self.clamped.to_string()),
            ("missing", self.check.missing.to_string()),
            ("duplicates", self.check.duplicates.to_string()),
            ("out of order", self.check.out_of_order.to_string()),
            ("subscription errors", self.subscription_errors.to_string()),
            (
                "sendMessage p50 / max ms",
                pair(self.send_ms.map(|p| p.p50_ms), self.send_ms.map(|p| p.max_ms)),
            ),
        ];
        out.push_str(&figure_table(&rows));
        let gaps = missing_by_seq_text(&self.missing_by_seq);
        if !gaps.is_empty() {
            out.push_str(&format!("\nmissing by sequence number (0 = probe): {gaps}\n"));
        }
        if let Some(e) = &self.first_connect_error {
            out.push_str(&format!("\nfirst connect error: {e}\n"));
        }
        if let Some(e) = &self.first_subscription_error {
            out.push_str(&format!("\nfirst subscription error: {e}\n"));
        }
        out
    }
}

/// `seq: count` for every sequence number someone missed, e.g. `0: 10000, 1: 10000`.
pub fn missing_by_seq_text(missing: &[usize]) -> String {
    missing
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(seq, n)| format!("{seq}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the workload.
pub async fn run(settings: &FanOutSettings) -> anyhow::Result<FanOutReport> {
    let n = settings.subscribers;
    let users = seed_users(&settings.database_url, FAN_PREFIX, settings.subscribers + 1).await?;
    let (conversation, writer) = create_conversation(&settings.database_url, &users).await?;
    let keys = TokenKeys::new(settings.jwt_secret.as_bytes());
    let now = chrono::Utc::now();
    let tokens = users
        .iter()
        .map(|u| u.token(&keys, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let writer_token = tokens.get(writer).context("no writer")?.clone();

    let ws_url = ws_url(&settings.url)?;
    let rss_before_kib = settings.server_pid.map(read_rss_kib).transpose()?;

    // Connect.
    let (stop_tx, stop_rx) = watch::channel(false);
    let probe_count = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(Notify::new());
    let connect_started = Instant::now();
    let subscriptions = tokens
        .iter()
        .take(n)
        .map(|token| {
            let payload = json!({ "query": SUBSCRIPTION, "variables": { "c": conversation } });
            (token.clone(), payload)
        })
        .collect();
    let connecting = Progress::new("fan-out: connecting", Unit::Items("subscribers"));
    let (handles, connects) = connect_all(
        &ws_url,
        subscriptions,
        &stop_rx,
        classify,
        || {
            let (probe_count, delivered, progress) = (probe_count.clone(), delivered.clone(), progress.clone());
            move |seq: &u32| {
                if *seq == 0 {
                    probe_count.fetch_add(1, Ordering::SeqCst);
                } else {
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
                progress.notify_one();
            }
        },
        &connecting,
    )
    .await;
    let connected = connects.connected;
    let connect_secs = connect_started.elapsed().as_secs_f64();
    connecting.finish(&connects);

    // Probe: every live subscription gets sequence 0.
    let client = writer_client()?;
    let endpoint = reqwest::Url::parse(&settings.url)?.join("/graphql")?;
    send(&client, &endpoint, &writer_token, &conversation, 0).await?;
    let probe_deadline = Instant::now() + DELIVERY_WAIT;
    while probe_count.load(Ordering::SeqCst) < connected && Instant::now() < probe_deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), progress.notified()).await;
    }
    let probe_missing = connected.saturating_sub(probe_count.load(Ordering::SeqCst));
    eprintln!("fan-out: probe reached {} of {connected}", connected - probe_missing);
    let rss_after_kib = settings.server_pid.map(read_rss_kib).transpose()?;

    // Measured messages.
    let expected_total = connected * settings.messages;
    delivered.store(0, Ordering::SeqCst);
    let mut responded = Vec::with_capacity(settings.messages + 1);
    responded.push(Instant::now()); // index 0: the probe, not measured
    let mut send_hist = histogram()?;
    let mut ticker = tokio::time::interval(settings.interval);
    let sending = Progress::new("fan-out: sending", Unit::Items("messages"));
    sending.set_length(settings.messages as u64);
    let first_send = Instant::now();
    for seq in 1..=settings.messages {
        ticker.tick().await;
        let sent = Instant::now();
        send(&client, &endpoint, &writer_token, &conversation, seq as u32).await?;
        let done = Instant::now();
        send_hist.saturating_record(micros(done - sent));
        responded.push(done);
        sending.inc(1);
    }
    sending.set_message("waiting for the deliveries");
    let wait_deadline = Instant::now() + DELIVERY_WAIT;
    while delivered.load(Ordering::SeqCst) < expected_total && Instant::now() < wait_deadline {
        let _ = tokio::time::timeout(Duration::from_millis(100), progress.notified()).await;
    }
    let _ = stop_tx.send(true);
    sending.finish(format_args!(
        "sent {}; {} of {expected_total} deliveries",
        settings.messages,
        delivered.load(Ordering::SeqCst)
    ));

    let mut histogram = histogram()?;
    let mut clamped = 0;
    let mut deliveries = 0;
    let mut last_arrival = first_send;
    let mut check = SequenceCheck::default();
    let mut subscription_errors = 0;
    let mut first_subscription_error = None;
    let mut received_by_seq = vec![0usize; settings.messages + 1];
    for handle in handles {
        let (arrivals, error) = match handle.await {
            Ok(result) => result,
            Err(e) => (None, Some(format!("subscriber task failed: {e}"))),
        };
        if let Some(e) = error {
            subscription_errors += 1;
            first_subscription_error.get_or_insert(e);
        }
        let Some(arrivals) = arrivals else {
            continue; // never connected: counted as a connect error
        };
        let mut got = vec![false; settings.messages + 1];
        for (seq, _) in &arrivals {
            if let Some(flag) = got.get_mut(*seq as usize) {
                *flag = true;
            }
        }
        for (count, flag) in received_by_seq.iter_mut().zip(got) {
            *count += usize::from(flag);
        }
        let measured: Vec<u32> = arrivals.iter().map(|(s, _)| *s).filter(|s| *s != 0).collect();
        check.add(SequenceCheck::of(&measured, settings.messages));
        for (seq, at) in arrivals {
            let Some(done) = responded.get(seq as usize).filter(|_| seq != 0) else {
                continue;
            };
            deliveries += 1;
            last_arrival = last_arrival.max(at);
            match at.checked_duration_since(*done) {
                Some(latency) => histogram.saturating_record(micros(latency)),
                None => {
                    clamped += 1;
                    histogram.saturating_record(1);
                }
            }
        }
    }
    let span = last_arrival.duration_since(first_send).as_secs_f64();
    Ok(FanOutReport {
        subscribers: n,
        connected,
        connect_errors: connects.errors,
        first_connect_error: connects.first_error,
        connect_secs,
        probe_missing,
        messages: settings.messages,
        interval: settings.interval,
        rss_before_kib,
        rss_after_kib,
        latency: Percentiles::of(&histogram),
        deliveries,
        deliveries_per_sec: if span > 0.0 { deliveries as f64 / span } else { 0.0 },
        clamped,
        check,
        subscription_errors,
        first_subscription_error,
        send_ms: Percentiles::of(&send_hist),
        missing_by_seq: received_by_seq.iter().map(|n| connected.saturating_sub(*n)).collect(),
    })
}

/// Microseconds from 1 µs to one hour, 3 significant figures.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).map_err(|e| anyhow::anyhow!("latency histogram: {e}"))
}

/// Whole microseconds, at least 1 (the histogram's lowest value).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// `ws://host:port/graphql/ws` for an `http://host:port` base URL.
pub fn ws_url(base: &str) -> anyhow::Result<String> {
    let url = reqwest::Url::parse(base).with_context(|| format!("--url {base:?} is not a URL"))?;
    let scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        other => bail!("--url must be http or https, not {other}"),
    };
    let host = url.host_str().context("--url has no host")?;
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{scheme}://{host}{port}/graphql/ws"))
}

/// A database client with its connection driven in the background.
pub async fn connect(database_url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {database_url}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("database connection: {e}");
        }
    });
    Ok(client)
}

/// Inserts a conversation with every user as a participant; returns its id and the index of
/// the writer (the last user).
async fn create_conversation(database_url: &str, users: &[SeededUser]) -> anyhow::Result<(String, usize)> {
    let db = connect(database_url).await?;
    let row = db
        .query_one(
            "INSERT INTO conversations (id) VALUES (gen_random_uuid()) RETURNING id::text",
            &[],
        )
        .await
        .context("creating the conversation")?;
    let id: String = row.try_get(0)?;
    let ids: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    db.execute(
        "INSERT INTO conversation_participants (conversation_id, user_id) \
         SELECT $1::text::uuid, u::uuid FROM unnest($2::text[]) AS u",
        &[&id, &ids],
    )
    .await
    .context("adding the participants")?;
    Ok((id, users.len().saturating_sub(1)))
}

/// Sends message `seq` as the writer.
async fn send(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    token: &str,
    conversation: &str,
    seq: u32,
) -> anyhow::Result<()> {
    let body = json!({
        "query": SEND_MESSAGE,
        "variables": { "i": { "conversationId": conversation, "content": format!("{CONTENT_PREFIX}{seq}") } },
    });
    let response = client
        .post(endpoint.clone())
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(&body)?)
        .send()
        .await
        .context("sendMessage")?;
    let status = response.status();
    let bytes = response.bytes().await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !status.is_success() || value.get("errors").is_some() || value["data"]["sendMessage"]["id"].is_null() {
        bail!(
            "sendMessage {seq} failed: HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_ordered_sequence_passes() {
        assert_eq!(SequenceCheck::of(&[1, 2, 3], 3), SequenceCheck::default());
    }

    #[test]
    fn gaps_duplicates_and_reordering_are_counted() {
        let check = SequenceCheck::of(&[1, 3, 3, 2], 4);
        assert_eq!(
            check,
            SequenceCheck {
                missing: 1,
                duplicates: 1,
                out_of_order: 2
            }
        );
        assert_eq!(SequenceCheck::of(&[], 2).missing, 2);
        assert_eq!(SequenceCheck::of(&[u32::MAX], 2).duplicates, 1);
    }

    #[test]
    fn frames_are_read() {
        let next = r#"{"id":"1","type":"next","payload":{"data":{"messageAdded":{"id":"x","content":"fan-out #7","sender":{"username":"fan_9"}}}}}"#;
        assert_eq!(classify(next), Frame::Delivery(7));
        assert_eq!(classify(r#"{"type":"ping"}"#), Frame::Ping);
        assert!(matches!(
            classify(r#"{"id":"1","type":"error","payload":[]}"#),
            Frame::Failed(_)
        ));
        assert!(matches!(classify("nope"), Frame::Failed(_)));
        assert_eq!(sequence_of("fan-out #0"), Some(0));
        assert_eq!(sequence_of("hello"), None);
    }

    #[test]
    fn missing_sequences_are_listed() {
        assert_eq!(missing_by_seq_text(&[3, 0, 1]), "0: 3, 2: 1");
        assert_eq!(missing_by_seq_text(&[0, 0]), "");
    }

    #[test]
    fn rss_and_urls() {
        let status = "Name:\tgigmarket\nVmPeak:\t  900 kB\nVmRSS:\t   51234 kB\nThreads:\t3\n";
        assert_eq!(vm_rss_kib(status), Some(51234));
        assert_eq!(vm_rss_kib("Name: x\n"), None);
        assert_eq!(
            ws_url("http://127.0.0.1:8090").unwrap(),
            "ws://127.0.0.1:8090/graphql/ws"
        );
        assert_eq!(
            ws_url("https://example.test/").unwrap(),
            "wss://example.test/graphql/ws"
        );
        assert!(ws_url("ftp://x").is_err());
    }
}
