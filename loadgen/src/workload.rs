//! The HTTP workloads: what each request sends, what counts as a success, and the loops that
//! drive them.
//!
//! Each connection is its own `reqwest::Client` whose pool keeps one idle connection, so C
//! loops hold exactly C keep-alive HTTP/1.1 connections, opened during the warm-up and reused
//! by every run. Request bodies are rendered once up front, so the client spends its share of
//! the two cores on sending and checking, not on building JSON.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use bytes::Bytes;
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{de::IgnoredAny, Deserialize};
use serde_json::json;

use crate::stats::Tally;

/// A request that takes longer than this counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const USER_BY_USERNAME: &str = "query UserByUsername($u: String!) { userByUsername(username: $u) { id username fullName headline skills avatarUrl isAvailable } }";
const SIGN_IN: &str = "mutation SignIn($i: SignInInput!) { signIn(input: $i) { accessToken expiresAt } }";
const FEED: &str = "query Feed { gigs(first: 20) { edges { node { id title startingPriceCents currency owner { id username fullName avatarUrl reviews(first: 5) { nodes { rating comment } } } packages { tier priceCents deliveryDays } } } } }";
/// The feed as it was before reviews existed (issue 16): for comparisons with servers that
/// lack `User.reviews`.
const FEED_WITHOUT_REVIEWS: &str = "query Feed { gigs(first: 20) { edges { node { id title startingPriceCents currency owner { id username fullName avatarUrl } packages { tier priceCents deliveryDays } } } } }";
const GIG_BY_ID: &str = "query Gig($id: ID!) { gig(id: $id) { id title description startingPriceCents owner { id username fullName avatarUrl headline } packages { tier title priceCents deliveryDays revisions } } }";

/// An operation the load generator can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A public profile read: one indexed `SELECT` on the server.
    UserByUsername,
    /// Email and password sign-in: one argon2id verification plus a few statements.
    SignIn,
    /// The first page (20) of the public gig catalogue with owners, their 5 newest public
    /// reviews and the gigs' packages.
    Feed,
    /// [`Operation::Feed`] without the owners' reviews (what it asked before reviews existed).
    FeedWithoutReviews,
    /// One active gig by id with its owner and packages.
    GigById,
    /// The first page (20) of open tasks within 5 km of a point, nearest first.
    Nearby,
}

impl Operation {
    /// The GraphQL operation name, used as the workload's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Operation::UserByUsername => "userByUsername",
            Operation::SignIn => "signIn",
            Operation::Feed => "feed",
            Operation::FeedWithoutReviews => "feedWithoutReviews",
            Operation::GigById => "gigById",
            Operation::Nearby => "nearbyTasks",
        }
    }

    /// The JSON body of a catalogue request: the feed ignores `id`, gig by id asks for it.
    pub fn catalogue_body(self, id: &str) -> serde_json::Value {
        match self {
            Operation::Feed => json!({ "query": FEED, "operationName": "Feed" }),
            Operation::FeedWithoutReviews => json!({ "query": FEED_WITHOUT_REVIEWS, "operationName": "Feed" }),
            _ => json!({ "query": GIG_BY_ID, "variables": { "id": id }, "operationName": "Gig" }),
        }
    }

    /// The JSON body of a request as seeded user `username` (password `password`).
    pub fn body(self, username: &str, password: &str) -> serde_json::Value {
        match self {
            Operation::Feed | Operation::FeedWithoutReviews | Operation::GigById | Operation::Nearby => {
                self.catalogue_body(username)
            }
            Operation::UserByUsername => json!({
                "query": USER_BY_USERNAME,
                "variables": { "u": username },
                "operationName": "UserByUsername",
            }),
            Operation::SignIn => json!({
                "query": SIGN_IN,
                "variables": { "i": {
                    "email": format!("{username}@load.test"),
                    "password": password,
                } },
                "operationName": "SignIn",
            }),
        }
    }

    /// Whether a response is a success: HTTP 200, no `errors`, and the expected data (a
    /// non-null user; a non-empty access token). The error says what was wrong.
    pub fn check(self, status: u16, body: &[u8]) -> Result<(), String> {
        let parsed = match self {
            Operation::UserByUsername => serde_json::from_slice::<Envelope<UserData>>(body)
                .map(|e| (e.errors.is_some(), e.data.and_then(|d| d.user).is_some())),
            Operation::SignIn => serde_json::from_slice::<Envelope<SignInData>>(body).map(|e| {
                let token = e.data.and_then(|d| d.sign_in).map(|s| s.access_token);
                (e.errors.is_some(), token.is_some_and(|t| !t.is_empty()))
            }),
            Operation::Feed | Operation::FeedWithoutReviews => {
                serde_json::from_slice::<Envelope<FeedData>>(body).map(|e| {
                    let edges = e.data.and_then(|d| d.gigs).map_or(0, |g| g.edges.len());
                    (e.errors.is_some(), edges > 0)
                })
            }
            Operation::GigById => serde_json::from_slice::<Envelope<GigData>>(body)
                .map(|e| (e.errors.is_some(), e.data.and_then(|d| d.gig).is_some())),
            // A rural centre may have no task within 5 km: an empty page is a success.
            Operation::Nearby => serde_json::from_slice::<Envelope<NearbyData>>(body)
                .map(|e| (e.errors.is_some(), e.data.and_then(|d| d.nearby).is_some())),
        };
        judge(status, parsed, body)
    }
}

/// The verdict on a response with HTTP `status`, read as `(has errors, has the expected
/// data)`.
pub fn judge(status: u16, parsed: Result<(bool, bool), serde_json::Error>, body: &[u8]) -> Result<(), String> {
    match parsed {
        _ if status != 200 => Err(format!("HTTP {status}: {}", String::from_utf8_lossy(body))),
        Ok((false, true)) => Ok(()),
        Ok((true, _)) => Err(format!("GraphQL errors: {}", String::from_utf8_lossy(body))),
        Ok((false, false)) => Err(format!("no data: {}", String::from_utf8_lossy(body))),
        Err(e) => Err(format!(
            "not a GraphQL response ({e}): {}",
            String::from_utf8_lossy(body)
        )),
    }
}

/// A GraphQL response, read only as far as the checks need.
#[derive(Deserialize)]
pub struct Envelope<D> {
    pub data: Option<D>,
    pub errors: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct UserData {
    #[serde(rename = "userByUsername")]
    user: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct SignInData {
    #[serde(rename = "signIn")]
    sign_in: Option<SignInPayload>,
}

#[derive(Deserialize)]
struct SignInPayload {
    #[serde(rename = "accessToken")]
    access_token: String,
}

#[derive(Deserialize)]
struct FeedData {
    gigs: Option<FeedPage>,
}

/// A connection read only as far as its edges.
#[derive(Deserialize)]
pub struct FeedPage {
    pub edges: Vec<IgnoredAny>,
}

#[derive(Deserialize)]
struct NearbyData {
    #[serde(rename = "nearbyTasks")]
    nearby: Option<FeedPage>,
}

#[derive(Deserialize)]
struct GigData {
    gig: Option<IgnoredAny>,
}

/// Whether a response of `operation` is a success (see [`Operation::check`]).
pub type Check = fn(Operation, u16, &[u8]) -> Result<(), String>;

/// One workload against the server: the operation, one pre-rendered body per seeded user,
/// and the connections that carry it.
pub struct HttpLoad {
    operation: Operation,
    endpoint: reqwest::Url,
    bodies: Arc<[Bytes]>,
    clients: Vec<reqwest::Client>,
    /// gigmarket's answers by default; the peer's (`crate::peer::check`) for the peer.
    check: Check,
}

impl HttpLoad {
    /// Prepares `connections` clients for `operation` on `{base_url}/graphql`, with a body for
    /// each of the users `{prefix}0` … `{prefix}{users - 1}`.
    pub fn new(
        operation: Operation,
        base_url: &str,
        prefix: &str,
        users: usize,
        password: &str,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let bodies = (0..users)
            .map(|i| operation.body(&format!("{prefix}{i}"), password))
            .collect();
        Self::from_bodies(operation, base_url, bodies, connections)
    }

    /// Prepares `connections` clients for `operation` on `{base_url}/graphql`; each request
    /// sends one of `bodies`, picked at random.
    pub fn from_bodies(
        operation: Operation,
        base_url: &str,
        bodies: Vec<serde_json::Value>,
        connections: usize,
    ) -> anyhow::Result<Self> {
        let endpoint = reqwest::Url::parse(base_url)
            .and_then(|url| url.join("/graphql"))
            .with_context(|| format!("--url {base_url:?} is not a URL"))?;
        let bodies = bodies
            .iter()
            .map(|body| serde_json::to_vec(body).map(Bytes::from))
            .collect::<Result<Vec<_>, _>>()
            .context("rendering request bodies")?;
        let clients = (0..connections)
            .map(|_| {
                reqwest::Client::builder()
                    // Measure the server, not a proxy that HTTP_PROXY might name.
                    .no_proxy()
                    .http1_only()
                    .tcp_nodelay(true)
                    .pool_max_idle_per_host(1)
                    .timeout(REQUEST_TIMEOUT)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .context("building HTTP clients")?;
        Ok(Self {
            operation,
            endpoint,
            bodies: bodies.into(),
            clients,
            check: Operation::check,
        })
    }

    /// The same load judged by `check` instead of gigmarket's answer shapes (for a peer
    /// server whose documents name things its own way).
    pub fn checked_by(mut self, check: Check) -> Self {
        self.check = check;
        self
    }

    /// The operation every request runs.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// How many concurrent connections drive the load.
    pub fn connections(&self) -> usize {
        self.clients.len()
    }

    /// Sends one request as the first user and fails with the reason when it is not a
    /// success: a quick check that the server is up and seeded before anything is measured.
    pub async fn probe(&self) -> anyhow::Result<()> {
        let (client, body) = self
            .clients
            .first()
            .zip(self.bodies.first())
            .context("no connections or no users to probe with")?;
        let (status, bytes) = send(client, &self.endpoint, None, body.clone())
            .await
            .with_context(|| format!("POST {} (is the server running?)", self.endpoint))?;
        (self.check)(self.operation, status, &bytes)
            .map_err(|why| anyhow::anyhow!("{} probe failed: {why}", self.operation.name()))
    }

    /// Every connection loops (pick a random user, send, check) until `duration` has passed;
    /// requests in flight then finish. Returns the tally and the wall time until the last one
    /// finished, which is what the rate is computed over.
    pub async fn run(&self, duration: Duration) -> anyhow::Result<(Tally, Duration)> {
        let started = Instant::now();
        let deadline = started + duration;
        let loops = self
            .clients
            .iter()
            .map(|client| {
                tokio::spawn(drive(
                    client.clone(),
                    self.endpoint.clone(),
                    self.bodies.clone(),
                    self.operation,
                    self.check,
                    deadline,
                ))
            })
            .collect::<Vec<_>>();
        let mut total = Tally::new()?;
        for handle in loops {
            total.merge(handle.await.context("a request loop panicked")??)?;
        }
        Ok((total, started.elapsed()))
    }
}

/// One connection's loop.
async fn drive(
    client: reqwest::Client,
    endpoint: reqwest::Url,
    bodies: Arc<[Bytes]>,
    operation: Operation,
    check: Check,
    deadline: Instant,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::new()?;
    let mut rng = StdRng::from_rng(&mut rand::rng());
    while Instant::now() < deadline {
        let body = bodies[rng.random_range(0..bodies.len())].clone();
        let sent = Instant::now();
        match send(&client, &endpoint, None, body).await {
            Ok((status, bytes)) => {
                let elapsed = sent.elapsed();
                match check(operation, status, &bytes) {
                    Ok(()) => tally.success(elapsed),
                    Err(why) => tally.error(|| why),
                }
            }
            Err(e) => tally.error(|| format!("{e:#}")),
        }
    }
    Ok(tally)
}

/// POSTs a JSON body (as the bearer of `token`, when given) and reads the whole response.
pub async fn send(
    client: &reqwest::Client,
    endpoint: &reqwest::Url,
    token: Option<&str>,
    body: Bytes,
) -> anyhow::Result<(u16, Bytes)> {
    let mut request = client
        .post(endpoint.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.bytes().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_the_operation_and_the_seeded_credentials() {
        let body = Operation::SignIn.body("load_user_7", "password");
        assert_eq!(body["operationName"], "SignIn");
        assert_eq!(body["variables"]["i"]["email"], "load_user_7@load.test");
        assert_eq!(body["variables"]["i"]["password"], "password");
        let body = Operation::UserByUsername.body("load_user_7", "password");
        assert_eq!(body["variables"]["u"], "load_user_7");
        assert!(body["query"]
            .as_str()
            .unwrap()
            .starts_with("query UserByUsername($u: String!)"));
    }

    #[test]
    fn a_found_user_is_a_success() {
        let body = br#"{"data":{"userByUsername":{"id":"1","username":"load_user_1"}}}"#;
        assert_eq!(Operation::UserByUsername.check(200, body), Ok(()));
    }

    #[test]
    fn a_missing_user_errors_or_a_bad_status_are_failures() {
        let missing = br#"{"data":{"userByUsername":null}}"#;
        assert!(Operation::UserByUsername
            .check(200, missing)
            .unwrap_err()
            .starts_with("no data"));
        let errors = br#"{"data":null,"errors":[{"message":"x","extensions":{"code":"INTERNAL_ERROR"}}]}"#;
        assert!(Operation::UserByUsername
            .check(200, errors)
            .unwrap_err()
            .starts_with("GraphQL errors"));
        let throttled = br#"{"errors":[{"message":"Too many"}]}"#;
        assert!(Operation::SignIn
            .check(429, throttled)
            .unwrap_err()
            .starts_with("HTTP 429"));
        assert!(Operation::SignIn
            .check(200, b"<html>")
            .unwrap_err()
            .starts_with("not a GraphQL response"));
    }

    #[test]
    fn a_sign_in_needs_a_token_and_no_errors() {
        let ok = br#"{"data":{"signIn":{"accessToken":"eyJ","expiresAt":"2026-01-01T00:00:00Z"}}}"#;
        assert_eq!(Operation::SignIn.check(200, ok), Ok(()));
        let empty = br#"{"data":{"signIn":{"accessToken":"","expiresAt":"x"}}}"#;
        assert!(Operation::SignIn.check(200, empty).is_err());
        let with_errors =
            br#"{"data":{"signIn":{"accessToken":"eyJ","expiresAt":"x"}},"errors":[{"message":"partial"}]}"#;
        assert!(Operation::SignIn.check(200, with_errors).is_err());
    }

    #[test]
    fn catalogue_bodies_and_checks() {
        let feed = Operation::Feed.catalogue_body("ignored");
        assert!(feed["query"].as_str().unwrap().contains("gigs(first: 20)"));
        assert!(feed.get("variables").is_none());
        assert!(feed["query"].as_str().unwrap().contains("reviews(first: 5)"));
        let plain = Operation::FeedWithoutReviews.catalogue_body("ignored");
        assert!(!plain["query"].as_str().unwrap().contains("reviews"));
        assert_eq!(
            Operation::FeedWithoutReviews.check(200, br#"{"data":{"gigs":{"edges":[{"node":{"id":"1"}}]}}}"#),
            Ok(())
        );
        let gig = Operation::GigById.catalogue_body("0190-abc");
        assert_eq!(gig["variables"]["id"], "0190-abc");
        let page = br#"{"data":{"gigs":{"edges":[{"node":{"id":"1"}}]}}}"#;
        assert_eq!(Operation::Feed.check(200, page), Ok(()));
        let empty = br#"{"data":{"gigs":{"edges":[]}}}"#;
        assert!(Operation::Feed.check(200, empty).unwrap_err().starts_with("no data"));
        assert_eq!(Operation::GigById.check(200, br#"{"data":{"gig":{"id":"1"}}}"#), Ok(()));
        assert!(Operation::GigById.check(200, br#"{"data":{"gig":null}}"#).is_err());
        let errors = br#"{"data":{"gig":{"id":"1"}},"errors":[{"message":"owner"}]}"#;
        assert!(Operation::GigById.check(200, errors).is_err());
    }

    #[test]
    fn an_empty_nearby_page_is_a_success_but_errors_are_not() {
        let empty = br#"{"data":{"nearbyTasks":{"edges":[]}}}"#;
        assert_eq!(Operation::Nearby.check(200, empty), Ok(()));
        let page = br#"{"data":{"nearbyTasks":{"edges":[{"node":{"distanceMeters":12.5}}]}}}"#;
        assert_eq!(Operation::Nearby.check(200, page), Ok(()));
        assert!(Operation::Nearby.check(200, br#"{"data":null}"#).is_err());
        let limited = br#"{"data":null,"errors":[{"message":"too complex"}]}"#;
        assert!(Operation::Nearby.check(200, limited).is_err());
    }

    #[test]
    fn the_endpoint_is_graphql_under_the_base_url() {
        let load = HttpLoad::new(
            Operation::UserByUsername,
            "http://127.0.0.1:8080/",
            "u",
            3,
            "password",
            2,
        )
        .unwrap();
        assert_eq!(load.endpoint.as_str(), "http://127.0.0.1:8080/graphql");
        assert_eq!(load.bodies.len(), 3);
        assert_eq!(load.connections(), 2);
        assert!(HttpLoad::new(Operation::SignIn, "not a url", "u", 1, "p", 1).is_err());
    }
}
