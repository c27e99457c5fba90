//! The `first-accept` workload: N freelancers race for one IMMEDIATE task (issue 18: 500
//! concurrent `acceptTask` on one task, exactly one winner, p99 ≤ 100 ms).
//!
//! 1. Seeds N + 1 users with the server's own `seed::load_users` (`race_0` … `race_{N}`;
//!    `race_{N}` posts, on the `pro` plan: the free plan allows 3 posts a month) and mints
//!    an access token per user with `--jwt-secret`.
//! 2. Opens one HTTP connection per racer and warms it (an unmeasured `viewer` query), so the
//!    race measures `acceptTask`, not TCP handshakes.
//! 3. Per round (`--runs`): the poster posts an IMMEDIATE task; every racer sends
//!    `acceptTask` at once (released together by a barrier); each answer's latency is from
//!    the release to its response.
//! 4. Checks each round: exactly one answer carries an order, every other one is a
//!    `CONFLICT`, and the database holds exactly one order for the task, of the winner.

use std::{sync::Arc, time::Instant};

use anyhow::{bail, Context};
use gigmarket::auth::jwt::TokenKeys;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::Barrier;

use crate::{
    fanout::connect,
    nearby_fanout::Poster,
    report::{figure_table, one_decimal},
    stats::Percentiles,
    subscribers::{seed_users, writer_client},
};

/// Seeded usernames are `{RACE_PREFIX}{i}`.
pub const RACE_PREFIX: &str = "race_";
const ACCEPT: &str = "mutation Accept($id: ID!) { acceptTask(id: $id) { id freelancer { id } } }";
const VIEWER: &str = "query { viewer { id } }";
/// Where the raced tasks are posted (Lyon).
const PLACE: (f64, f64) = (45.7640, 4.8357);

/// What to run.
pub struct FirstAcceptSettings {
    pub url: String,
    pub database_url: String,
    pub racers: usize,
    pub rounds: usize,
    pub jwt_secret: String,
}

/// How one racer's `acceptTask` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It won: the order's id and its freelancer's id.
    Won { order: String, freelancer: String },
    /// `CONFLICT`: someone else was first.
    Lost,
    /// Anything else (HTTP error, another code): why.
    Failed(String),
}

/// Reads an `acceptTask` response.
pub fn answer(status: u16, body: &[u8]) -> Answer {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(_) => return Answer::Failed(format!("HTTP {status}: not JSON")),
    };
    let accepted = &value["data"]["acceptTask"];
    if let (Some(order), Some(freelancer)) = (accepted["id"].as_str(), accepted["freelancer"]["id"].as_str()) {
        return Answer::Won {
            order: order.to_owned(),
            freelancer: freelancer.to_owned(),
        };
    }
    match value["errors"][0]["extensions"]["code"].as_str() {
        Some("CONFLICT") => Answer::Lost,
        Some(code) => Answer::Failed(format!("HTTP {status}: {code}")),
        None => Answer::Failed(format!("HTTP {status}: {}", String::from_utf8_lossy(body))),
    }
}

/// The figures of a first-accept run.
#[derive(Debug)]
pub struct FirstAcceptReport {
    pub racers: usize,
    pub rounds: usize,
    /// Rounds with exactly one winner, the others CONFLICT, and one order in the database.
    pub clean_rounds: usize,
    pub winners: usize,
    pub conflicts: usize,
    pub failures: Vec<String>,
    /// Every answer's latency, from the release.
    pub latency: Option<Percentiles>,
    /// The winners' latency, median over rounds, ms.
    pub winner_ms: Option<f64>,
}

impl FirstAcceptReport {
    pub fn clean(&self) -> bool {
        self.clean_rounds == self.rounds
    }

    pub fn render(&self) -> String {
        let p = |f: fn(&Percentiles) -> f64| one_decimal(self.latency.as_ref().map(f));
        let mut out = format!(
            "### first-accept ({} racers on one IMMEDIATE task, {} rounds)\n\n",
            self.racers, self.rounds
        );
        out.push_str(&figure_table(&[
            (
                "clean rounds (1 winner, rest CONFLICT, 1 order)",
                format!("{} of {}", self.clean_rounds, self.rounds),
            ),
            ("winners", self.winners.to_string()),
            ("CONFLICT answers", self.conflicts.to_string()),
            ("other answers", self.failures.len().to_string()),
            ("acceptTask p50 ms", p(|p| p.p50_ms)),
            ("acceptTask p90 ms", p(|p| p.p90_ms)),
            ("acceptTask p99 ms", p(|p| p.p99_ms)),
            ("acceptTask max ms", p(|p| p.max_ms)),
            ("winner's answer ms (median of rounds)", one_decimal(self.winner_ms)),
        ]));
        for failure in self.failures.iter().take(5) {
            out.push_str(&format!("\nother answer: {failure}"));
        }
        out
    }
}

/// Runs the workload.
pub async fn run(settings: &FirstAcceptSettings) -> anyhow::Result<FirstAcceptReport> {
    let users = seed_users(&settings.database_url, RACE_PREFIX, settings.racers + 1).await?;
    let keys = TokenKeys::new(settings.jwt_secret.as_bytes());
    let now = chrono::Utc::now();
    let tokens = users
        .iter()
        .map(|u| u.token(&keys, now))
        .collect::<anyhow::Result<Vec<String>>>()?;
    let (poster_token, racer_tokens) = tokens.split_last().context("no users")?;
    let endpoint = reqwest::Url::parse(&settings.url)?.join("/graphql")?;
    // One client (one kept-alive connection) per racer, warmed before the first round.
    let clients = (0..settings.racers)
        .map(|_| writer_client())
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (client, token) in clients.iter().zip(racer_tokens) {
        post(client, &endpoint, token, json!({ "query": VIEWER })).await?;
    }
    let poster_client = writer_client()?;
    let poster = Poster {
        client: &poster_client,
        endpoint: &endpoint,
        token: poster_token,
    };
    let db = connect(&settings.database_url).await?;
    // The free plan allows 3 posts a month; the poster posts one task per round.
    db.execute(
        "INSERT INTO user_plans (user_id, plan_id) VALUES ($1::text::uuid, 'pro') \
         ON CONFLICT (user_id) DO UPDATE SET plan_id = 'pro'",
        &[&users[settings.racers].id.to_string()],
    )
    .await
    .context("putting the poster on the pro plan")?;

    let mut latency = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut report = FirstAcceptReport {
        racers: settings.racers,
        rounds: settings.rounds,
        clean_rounds: 0,
        winners: 0,
        conflicts: 0,
        failures: Vec::new(),
        latency: None,
        winner_ms: None,
    };
    let mut winner_ms = Vec::with_capacity(settings.rounds);
    for round in 0..settings.rounds {
        let (task, _, _) = poster.post(PLACE).await?;
        let barrier = Arc::new(Barrier::new(settings.racers));
        let racers = clients.iter().zip(racer_tokens).map(|(client, token)| {
            let (barrier, endpoint, task) = (barrier.clone(), endpoint.clone(), task.clone());
            async move {
                barrier.wait().await;
                let started = Instant::now();
                let body = json!({ "query": ACCEPT, "operationName": "Accept", "variables": { "id": task } });
                let answer = match post(client, &endpoint, token, body).await {
                    Ok((status, bytes)) => answer(status, &bytes),
                    Err(e) => Answer::Failed(format!("{e:#}")),
                };
                (answer, started.elapsed())
            }
        });
        let answers = futures_util::future::join_all(racers).await;
        let mut won = Vec::new();
        let mut lost = 0;
        for (answer, elapsed) in answers {
            latency.record((elapsed.as_micros() as u64).max(1))?;
            match answer {
                Answer::Won { order, freelancer } => {
                    winner_ms.push(elapsed.as_secs_f64() * 1000.0);
                    won.push((order, freelancer));
                }
                Answer::Lost => lost += 1,
                Answer::Failed(why) => report.failures.push(why),
            }
        }
        let orders: Vec<(String, String)> = db
            .query(
                "SELECT id::text, freelancer_id::text FROM orders WHERE task_id = $1::text::uuid",
                &[&task],
            )
            .await
            .context("reading the raced task's orders")?
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<anyhow::Result<_>>()?;
        report.winners += won.len();
        report.conflicts += lost;
        if won.len() == 1 && lost == settings.racers - 1 && orders == won {
            report.clean_rounds += 1;
        } else {
            eprintln!(
                "first-accept round {round}: {} winners, {lost} CONFLICT, {} orders in the database",
                won.len(),
                orders.len()
            );
        }
    }
    report.latency = Percentiles::of(&latency);
    report.winner_ms = crate::stats::median(&winner_ms);
    if report.winners == 0 {
        bail!("no racer ever won: {:?}", report.failures.first());
    }
    Ok(report)
}

/// Sends one GraphQL request as the bearer of `token`; the status and the body.
async fn post(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    token: &str,
    body: serde_json::Value,
) -> anyhow::Result<(u16, bytes::Bytes)> {
    crate::workload::send(client, endpoint, Some(token), serde_json::to_vec(&body)?.into()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_won_lost_or_failed() {
        let won = br#"{"data":{"acceptTask":{"id":"o1","freelancer":{"id":"f1"}}}}"#;
        assert_eq!(
            answer(200, won),
            Answer::Won {
                order: "o1".into(),
                freelancer: "f1".into()
            }
        );
        let lost = br#"{"data":null,"errors":[{"message":"taken","extensions":{"code":"CONFLICT"}}]}"#;
        assert_eq!(answer(200, lost), Answer::Lost);
        let busy = br#"{"data":null,"errors":[{"message":"x","extensions":{"code":"INTERNAL_ERROR"}}]}"#;
        assert_eq!(answer(200, busy), Answer::Failed("HTTP 200: INTERNAL_ERROR".into()));
        assert!(matches!(answer(502, b"<html>"), Answer::Failed(_)));
    }
}
