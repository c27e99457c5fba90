//! The peer: the catalogue workloads asked of PostGraphile 5 (what a team might run instead of
//! gigmarket) on the same database, same client, same connections, in runs interleaved with
//! gigmarket's and pgbench's.
//!
//! PostGraphile serves the views of `loadgen/peer/views.sql` (the rows gigmarket shows an
//! anonymous visitor: ACTIVE gigs of unbanned owners, published reviews) under the names it
//! generates for them (introspected from 5.1.5 with the Amber preset): `allGigs`,
//! `gigByRowId`, `userByOwnerId`, `reviewsByRevieweeId`, `gigPackagesByGigId`, the uuid
//! column as `rowId` (`id` is its global node id). Each peer document asks for the same
//! fields as gigmarket's (`workload.rs`), in the same order.
//!
//! Before anything is measured, [`same_ids`] compares both servers' answers to documents
//! that ask for every id on the page (gigs, owners, reviews, package tiers), in order; any
//! difference stops the run, so the two never serve different rows unnoticed.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    report::row,
    stats::{ratio, RunFigures},
    workload::{judge, Envelope, FeedPage, Operation},
};

/// The peer's feed: 20 newest gigs, owner, owner's 5 newest reviews, packages.
const FEED: &str = "query Feed { allGigs(first: 20, orderBy: [PUBLISHED_AT_DESC, ROW_ID_DESC]) { edges { node { rowId title minPriceCents currency userByOwnerId { rowId username fullName avatarUrl reviewsByRevieweeId(first: 5, orderBy: [PUBLISHED_AT_DESC, ROW_ID_DESC]) { nodes { rating comment } } } gigPackagesByGigId(orderBy: [PRICE_CENTS_ASC]) { nodes { tier priceCents deliveryDays } } } } } }";
/// The peer's feed as it was before reviews.
const FEED_WITHOUT_REVIEWS: &str = "query Feed { allGigs(first: 20, orderBy: [PUBLISHED_AT_DESC, ROW_ID_DESC]) { edges { node { rowId title minPriceCents currency userByOwnerId { rowId username fullName avatarUrl } gigPackagesByGigId(orderBy: [PRICE_CENTS_ASC]) { nodes { tier priceCents deliveryDays } } } } } }";
/// The peer's gig page: one gig by id, owner, packages.
const GIG_BY_ID: &str = "query Gig($id: UUID!) { gigByRowId(rowId: $id) { rowId title description minPriceCents userByOwnerId { rowId username fullName avatarUrl headline } gigPackagesByGigId(orderBy: [PRICE_CENTS_ASC]) { nodes { tier title priceCents deliveryDays revisions } } } }";

/// The id checks: every id on the page, gigmarket's names, then the peer's.
const OURS_FEED_IDS: &str =
    "{ gigs(first: 20) { edges { node { id owner { id reviews(first: 5) { nodes { id } } } packages { tier } } } } }";
const PEER_FEED_IDS: &str = "{ allGigs(first: 20, orderBy: [PUBLISHED_AT_DESC, ROW_ID_DESC]) { nodes { rowId userByOwnerId { rowId reviewsByRevieweeId(first: 5, orderBy: [PUBLISHED_AT_DESC, ROW_ID_DESC]) { nodes { rowId } } } gigPackagesByGigId(orderBy: [PRICE_CENTS_ASC]) { nodes { tier } } } } }";
const OURS_GIG_IDS: &str = "query($id: ID!) { gig(id: $id) { id owner { id } packages { tier } } }";
const PEER_GIG_IDS: &str = "query($id: UUID!) { gigByRowId(rowId: $id) { rowId userByOwnerId { rowId } gigPackagesByGigId(orderBy: [PRICE_CENTS_ASC]) { nodes { tier } } } }";

/// Gigs whose ids are compared for gig by id (spread over the active gigs).
pub const GIG_SAMPLE: usize = 50;

/// The peer's request body for a catalogue `operation` (`id` for gig by id).
pub fn body(operation: Operation, id: &str) -> anyhow::Result<Value> {
    Ok(match operation {
        Operation::Feed => json!({ "query": FEED, "operationName": "Feed" }),
        Operation::FeedWithoutReviews => json!({ "query": FEED_WITHOUT_REVIEWS, "operationName": "Feed" }),
        Operation::GigById => json!({ "query": GIG_BY_ID, "variables": { "id": id }, "operationName": "Gig" }),
        other => bail!(
            "the peer serves feed, feed-without-reviews and gig-by-id, not {}",
            other.name()
        ),
    })
}

#[derive(Deserialize)]
struct PeerFeedData {
    #[serde(rename = "allGigs")]
    gigs: Option<FeedPage>,
}

#[derive(Deserialize)]
struct PeerGigData {
    #[serde(rename = "gigByRowId")]
    gig: Option<serde::de::IgnoredAny>,
}

/// Whether a peer response is a success: HTTP 200, no `errors`, a non-empty feed or a gig.
pub fn check(operation: Operation, status: u16, body: &[u8]) -> Result<(), String> {
    let parsed = match operation {
        Operation::GigById => serde_json::from_slice::<Envelope<PeerGigData>>(body)
            .map(|e| (e.errors.is_some(), e.data.and_then(|d| d.gig).is_some())),
        _ => serde_json::from_slice::<Envelope<PeerFeedData>>(body).map(|e| {
            let edges = e.data.and_then(|d| d.gigs).map_or(0, |g| g.edges.len());
            (e.errors.is_some(), edges > 0)
        }),
    };
    judge(status, parsed, body)
}

/// The ids one gig carries in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GigIds {
    pub gig: String,
    pub owner: String,
    /// The owner's newest reviews, in order (empty for gig by id).
    pub reviews: Vec<String>,
    /// Package tiers, cheapest first.
    pub packages: Vec<String>,
}

/// Which server's names an answer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    Ours,
    Peer,
}

impl Names {
    /// The id check document for `operation` and its variables.
    pub fn id_check(self, operation: Operation, id: &str) -> Value {
        let (feed, gig) = match self {
            Names::Ours => (OURS_FEED_IDS, OURS_GIG_IDS),
            Names::Peer => (PEER_FEED_IDS, PEER_GIG_IDS),
        };
        match operation {
            Operation::GigById => json!({ "query": gig, "variables": { "id": id } }),
            _ => json!({ "query": feed }),
        }
    }

    /// (row id, owner, owner's reviews, packages' connection) field names.
    fn fields(self) -> [&'static str; 4] {
        match self {
            Names::Ours => ["id", "owner", "reviews", "packages"],
            Names::Peer => ["rowId", "userByOwnerId", "reviewsByRevieweeId", "gigPackagesByGigId"],
        }
    }

    /// The gigs of an answer to [`Names::id_check`]: the feed's in order, or the one gig
    /// (none when it is null).
    pub fn gig_ids(self, answer: &Value) -> anyhow::Result<Vec<GigIds>> {
        if let Some(errors) = answer.get("errors") {
            bail!("the answer has errors: {errors}");
        }
        let data = answer.get("data").context("the answer has no data")?;
        let gigs: Vec<&Value> = match (self, data) {
            (Names::Ours, d) if d.get("gigs").is_some() => d["gigs"]["edges"]
                .as_array()
                .context("gigs.edges is not a list")?
                .iter()
                .map(|edge| &edge["node"])
                .collect(),
            (Names::Peer, d) if d.get("allGigs").is_some() => d["allGigs"]["nodes"]
                .as_array()
                .context("allGigs.nodes is not a list")?
                .iter()
                .collect(),
            (Names::Ours, d) => d.get("gig").filter(|g| !g.is_null()).into_iter().collect(),
            (Names::Peer, d) => d.get("gigByRowId").filter(|g| !g.is_null()).into_iter().collect(),
        };
        let [id, owner, reviews, packages] = self.fields();
        let text = |value: &Value, what: &str| -> anyhow::Result<String> {
            Ok(value
                .as_str()
                .with_context(|| format!("{what} is not a string: {value}"))?
                .to_owned())
        };
        let list = |value: &Value, key: &str| -> anyhow::Result<Vec<String>> {
            let items = match self {
                // gigmarket's packages are a plain list; every other list is a connection.
                Names::Ours if key == "tier" && value.is_array() => value,
                _ => &value["nodes"],
            };
            match items.as_array() {
                Some(items) => items.iter().map(|item| text(&item[key], key)).collect(),
                None if value.is_null() => Ok(Vec::new()),
                None => bail!("not a list: {value}"),
            }
        };
        gigs.into_iter()
            .map(|gig| {
                let owner_value = &gig[owner];
                Ok(GigIds {
                    gig: text(&gig[id], "gig id")?,
                    owner: text(&owner_value[id], "owner id")?,
                    reviews: list(&owner_value[reviews], id)?,
                    packages: list(&gig[packages], "tier")?,
                })
            })
            .collect()
    }
}

/// `Ok` when both answers carry the same gigs, owners, reviews and packages in the same
/// order; otherwise the first difference.
pub fn same_ids(what: &str, ours: &[GigIds], peer: &[GigIds]) -> anyhow::Result<()> {
    if ours.len() != peer.len() {
        bail!(
            "{what}: gigmarket answered {} gigs, the peer {}",
            ours.len(),
            peer.len()
        );
    }
    for (i, (a, b)) in ours.iter().zip(peer).enumerate() {
        if a != b {
            bail!("{what}: gig {i} differs:\n  gigmarket: {a:?}\n  peer:      {b:?}");
        }
    }
    Ok(())
}

/// Every run of one workload: (gigmarket, peer, pgbench) in the order they ran.
pub struct PeerReport {
    pub name: &'static str,
    pub connections: usize,
    pub peer: String,
    pub pgbench_command: String,
    pub runs: Vec<[RunFigures; 3]>,
    /// What the id check compared.
    pub checked: String,
}

impl PeerReport {
    /// Medians of gigmarket, the peer and pgbench.
    pub fn medians(&self) -> Option<[RunFigures; 3]> {
        let column = |i: usize| RunFigures::median_of(&self.runs.iter().map(|r| r[i]).collect::<Vec<_>>());
        Some([column(0)?, column(1)?, column(2)?])
    }

    /// The failures of gigmarket or the peer over their requests, the larger.
    pub fn error_rate(&self) -> f64 {
        self.medians()
            .map_or(0.0, |[ours, peer, _]| ours.error_rate().max(peer.error_rate()))
    }

    /// The table with every run, the medians and the ratios.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### {} ({} connections): gigmarket, {}, pgbench\n\nids checked: {}  \npgbench: `{}`\n",
            self.name, self.connections, self.peer, self.checked, self.pgbench_command
        );
        out.push_str("| run | target | req/s | mean ms | p50 ms | p90 ms | p99 ms | max ms | errors |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        let targets = ["gigmarket", "peer", "pgbench"];
        for (i, run) in self.runs.iter().enumerate() {
            for (target, figures) in targets.iter().zip(run) {
                out.push_str(&row(&(i + 1).to_string(), target, figures));
            }
        }
        let Some(medians) = self.medians() else {
            return out;
        };
        for (target, figures) in targets.iter().zip(&medians) {
            out.push_str(&row("median", target, figures));
        }
        let [ours, peer, pgbench] = medians;
        let p99 = |f: &RunFigures| f.percentiles.map_or("-".to_owned(), |p| format!("{:.1}", p.p99_ms));
        let times = |r: Option<f64>| r.map_or("n/a".to_owned(), |r| format!("{r:.2}"));
        let _ = writeln!(
            out,
            "\ngigmarket ÷ {} (median req/s): **{}**; p99 {} ms against {} ms  \n\
             gigmarket ÷ pgbench (median req/s): **{}**  \n\
             errors: gigmarket {} of {}, peer {} of {}",
            self.peer,
            times(ratio(ours.requests_per_sec, peer.requests_per_sec)),
            p99(&ours),
            p99(&peer),
            times(ratio(ours.requests_per_sec, pgbench.requests_per_sec)),
            ours.errors,
            ours.errors + ours.successes,
            peer.errors,
            peer.errors + peer.successes,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Percentiles;

    fn ours_feed() -> Value {
        json!({ "data": { "gigs": { "edges": [
            { "node": { "id": "g1", "owner": { "id": "u1", "reviews": { "nodes": [{ "id": "r1" }, { "id": "r2" }] } },
                        "packages": [{ "tier": "BASIC" }, { "tier": "PREMIUM" }] } },
            { "node": { "id": "g2", "owner": { "id": "u2", "reviews": { "nodes": [] } }, "packages": [] } }
        ] } } })
    }

    fn peer_feed() -> Value {
        json!({ "data": { "allGigs": { "nodes": [
            { "rowId": "g1", "userByOwnerId": { "rowId": "u1", "reviewsByRevieweeId": { "nodes": [{ "rowId": "r1" }, { "rowId": "r2" }] } },
              "gigPackagesByGigId": { "nodes": [{ "tier": "BASIC" }, { "tier": "PREMIUM" }] } },
            { "rowId": "g2", "userByOwnerId": { "rowId": "u2", "reviewsByRevieweeId": { "nodes": [] } },
              "gigPackagesByGigId": { "nodes": [] } }
        ] } } })
    }

    #[test]
    fn both_names_read_to_the_same_ids() {
        let ours = Names::Ours.gig_ids(&ours_feed()).unwrap();
        let peer = Names::Peer.gig_ids(&peer_feed()).unwrap();
        assert_eq!(ours.len(), 2);
        assert_eq!(ours[0].reviews, vec!["r1", "r2"]);
        assert_eq!(ours[0].packages, vec!["BASIC", "PREMIUM"]);
        same_ids("feed", &ours, &peer).unwrap();

        let gig =
            json!({ "data": { "gig": { "id": "g1", "owner": { "id": "u1" }, "packages": [{ "tier": "BASIC" }] } } });
        let peer_gig = json!({ "data": { "gigByRowId": { "rowId": "g1", "userByOwnerId": { "rowId": "u1" },
            "gigPackagesByGigId": { "nodes": [{ "tier": "BASIC" }] } } } });
        let a = Names::Ours.gig_ids(&gig).unwrap();
        assert_eq!(a[0].reviews, Vec::<String>::new());
        same_ids("gig", &a, &Names::Peer.gig_ids(&peer_gig).unwrap()).unwrap();
        let missing = json!({ "data": { "gigByRowId": null } });
        assert!(Names::Peer.gig_ids(&missing).unwrap().is_empty());
    }

    #[test]
    fn any_difference_fails_loudly() {
        let ours = Names::Ours.gig_ids(&ours_feed()).unwrap();
        let mut peer = Names::Peer.gig_ids(&peer_feed()).unwrap();
        peer[0].reviews.reverse();
        let err = same_ids("feed", &ours, &peer).unwrap_err().to_string();
        assert!(err.contains("gig 0 differs"), "{err}");
        peer.pop();
        assert!(same_ids("feed", &ours, &peer)
            .unwrap_err()
            .to_string()
            .contains("gigmarket answered 2 gigs, the peer 1"));
        let errors = json!({ "errors": [{ "message": "Cannot query field" }], "data": null });
        assert!(Names::Peer.gig_ids(&errors).is_err());
        let not_ids = json!({ "data": { "allGigs": { "nodes": [{ "rowId": 7 }] } } });
        assert!(Names::Peer.gig_ids(&not_ids).is_err());
    }

    #[test]
    fn peer_bodies_and_checks() {
        let feed = body(Operation::Feed, "").unwrap();
        assert!(feed["query"].as_str().unwrap().contains("reviewsByRevieweeId(first: 5"));
        assert!(!body(Operation::FeedWithoutReviews, "").unwrap()["query"]
            .as_str()
            .unwrap()
            .contains("review"));
        assert_eq!(body(Operation::GigById, "abc").unwrap()["variables"]["id"], "abc");
        assert!(body(Operation::Nearby, "").is_err());
        let page = br#"{"data":{"allGigs":{"edges":[{"node":{"rowId":"1"}}]}}}"#;
        assert_eq!(check(Operation::Feed, 200, page), Ok(()));
        assert!(check(Operation::Feed, 200, br#"{"data":{"allGigs":{"edges":[]}}}"#).is_err());
        assert!(check(Operation::Feed, 500, page).unwrap_err().starts_with("HTTP 500"));
        assert_eq!(
            check(Operation::GigById, 200, br#"{"data":{"gigByRowId":{"rowId":"1"}}}"#),
            Ok(())
        );
        assert!(check(Operation::GigById, 200, br#"{"data":{"gigByRowId":null}}"#).is_err());
        let id_check = Names::Peer.id_check(Operation::GigById, "x");
        assert_eq!(id_check["variables"]["id"], "x");
        assert!(Names::Ours.id_check(Operation::Feed, "")["query"]
            .as_str()
            .unwrap()
            .starts_with("{ gigs(first: 20)"));
    }

    fn figures(rps: f64, p99: Option<f64>) -> RunFigures {
        RunFigures {
            requests_per_sec: rps,
            mean_ms: Some(1.0),
            percentiles: p99.map(|p99_ms| Percentiles {
                p50_ms: 1.0,
                p90_ms: 2.0,
                p99_ms,
                max_ms: 9.0,
            }),
            successes: 100,
            errors: 0,
        }
    }

    #[test]
    fn the_report_puts_the_ratios_side_by_side() {
        let report = PeerReport {
            name: "feed",
            connections: 32,
            peer: "PostGraphile 5.1.5".into(),
            pgbench_command: "pgbench -n".into(),
            runs: vec![
                [
                    figures(900.0, Some(40.0)),
                    figures(300.0, Some(90.0)),
                    figures(2000.0, None),
                ],
                [
                    figures(1000.0, Some(30.0)),
                    figures(400.0, Some(80.0)),
                    figures(2200.0, None),
                ],
                [
                    figures(1100.0, Some(35.0)),
                    figures(500.0, Some(85.0)),
                    figures(1800.0, None),
                ],
            ],
            checked: "20 gigs".into(),
        };
        let text = report.render();
        assert!(text.contains("| 2 | peer | 400.0 |"), "{text}");
        assert!(text.contains("| median | gigmarket | 1000.0 |"), "{text}");
        assert!(text.contains("gigmarket ÷ PostGraphile 5.1.5 (median req/s): **2.50**; p99 35.0 ms against 85.0 ms"));
        assert!(text.contains("gigmarket ÷ pgbench (median req/s): **0.50**"));
        assert_eq!(report.error_rate(), 0.0);
    }
}
