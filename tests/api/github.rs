//! Code links and GitHub's webhook: repositories linked to orders and milestones, deliveries
//! signed by `@octokit/webhooks-methods` (`tests/github/sign.mjs`, the signer of GitHub's own
//! Octokit) showing on the milestone through GraphQL, refused and replayed deliveries that
//! change nothing, out-of-order deliveries that cannot undo newer ones, one notification per
//! change of a pull request's checks, and pull requests and checks as dispute evidence.

use std::{path::PathBuf, time::Duration};

use gigmarket::order::model::OrderStatus;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    common::{Gql, TestApp, TestUser},
    node,
    orders::{one, Market},
};

const SECRET: &str = "gh-webhook-secret-for-the-tests";
const LINK: &str = "mutation($i: LinkRepositoryInput!) { linkRepository(input: $i) { id kind repository url milestoneId createdBy { id } } }";
const PREVIEW: &str = "mutation($i: AddPreviewUrlInput!) { addPreviewUrl(input: $i) { id kind url milestoneId } }";
const UNLINK: &str = "mutation($id: ID!) { removeCodeLink(id: $id) { id codeLinks { id } pullRequests { number } } }";
const MILESTONES: &str = "query($id: ID!) { order(id: $id) { codeLinks { kind repository url } pullRequests { id number status checksState checks { name status source } } milestones { id pullRequests { id number title url status headSha checksState checks { id name status url source } } } } }";
const EVIDENCE: &str = "mutation($d: ID!, $i: DisputeEvidenceInput!) { addDisputeEvidence(disputeId: $d, input: $i) { id kind pullRequest { number repository } check { name status } } }";

/// A market whose server verifies GitHub deliveries with [`SECRET`].
async fn market() -> Market {
    Market::with(TestApp::builder().var("GITHUB_WEBHOOK_SECRET", SECRET).spawn().await).await
}

/// The `X-Hub-Signature-256` value `@octokit/webhooks-methods` makes for `payload`.
async fn octokit_sign(payload: &str, secret: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/github");
    node::ensure_installed(&dir).await;
    let output = node::run(
        &dir,
        "node",
        &["sign.mjs"],
        &[("PAYLOAD", payload), ("WEBHOOK_SECRET", secret)],
        Duration::from_secs(30),
    )
    .await;
    assert!(output.status.success(), "{}", node::report(&output));
    let signature = String::from_utf8(output.stdout).expect("utf-8");
    assert!(signature.starts_with("sha256=") && signature.len() == 71, "{signature}");
    signature
}

/// POSTs a delivery with the headers GitHub sends; answers the status and the JSON body.
async fn post(app: &TestApp, event: &str, id: &str, payload: &str, signature: Option<&str>) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url("/webhooks/github"))
        .header("content-type", "application/json")
        .header("user-agent", "GitHub-Hookshot/044aadd")
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("x-github-hook-id", "292430182")
        .body(payload.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    let response = request.send().await.expect("webhook request");
    let status = response.status();
    let text = response.text().await.expect("webhook body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Delivers `payload` signed by octokit with the server's secret under a fresh delivery id;
/// answers the outcome.
async fn deliver(app: &TestApp, event: &str, payload: &Value) -> String {
    let id = Uuid::new_v4().to_string();
    deliver_as(app, event, &id, payload).await
}

async fn deliver_as(app: &TestApp, event: &str, id: &str, payload: &Value) -> String {
    let payload = payload.to_string();
    let signature = octokit_sign(&payload, SECRET).await;
    let (status, body) = post(app, event, id, &payload, Some(&signature)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    if body["duplicate"] == true {
        return "DUPLICATE".into();
    }
    body["outcome"].as_str().expect("outcome").to_owned()
}

fn repository(full_name: &str) -> Value {
    let (owner, name) = full_name.split_once('/').expect("owner/name");
    json!({
        "id": 1296269, "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5", "name": name, "full_name": full_name,
        "private": false, "owner": { "login": owner, "id": 1, "type": "Organization" },
        "html_url": format!("https://github.com/{full_name}"), "default_branch": "main"
    })
}

/// A `pull_request` delivery as GitHub documents it (trimmed to a realistic subset).
fn pull_request(
    action: &str,
    repo: &str,
    number: i32,
    title: &str,
    sha: &str,
    merged: bool,
    updated_at: &str,
) -> Value {
    let closed = action == "closed";
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "url": format!("https://api.github.com/repos/{repo}/pulls/{number}"),
            "id": 1_000_000 + number as i64, "node_id": "PR_kwDOA", "number": number,
            "html_url": format!("https://github.com/{repo}/pull/{number}"),
            "state": if closed { "closed" } else { "open" }, "locked": false, "title": title,
            "user": { "login": "dev-octocat", "id": 583231, "type": "User" },
            "body": "Implements the milestone.", "created_at": "2026-12-01T10:00:00Z", "updated_at": updated_at,
            "closed_at": if closed { Value::String(updated_at.into()) } else { Value::Null },
            "merged_at": if merged { Value::String(updated_at.into()) } else { Value::Null },
            "draft": false, "merged": merged,
            "head": { "label": "octo:feature", "ref": "feature", "sha": sha },
            "base": { "label": "octo:main", "ref": "main", "sha": "0000000000000000000000000000000000000000" }
        },
        "repository": repository(repo),
        "sender": { "login": "dev-octocat", "id": 583231, "type": "User" }
    })
}

/// A `check_run` delivery.
#[allow(clippy::too_many_arguments)]
fn check_run(
    action: &str,
    repo: &str,
    id: i64,
    name: &str,
    sha: &str,
    status: &str,
    conclusion: Option<&str>,
    started_at: &str,
    completed_at: Option<&str>,
) -> Value {
    json!({
        "action": action,
        "check_run": {
            "id": id, "name": name, "node_id": "CR_kwDO", "head_sha": sha, "external_id": "",
            "url": format!("https://api.github.com/repos/{repo}/check-runs/{id}"),
            "html_url": format!("https://github.com/{repo}/runs/{id}"),
            "details_url": format!("https://ci.example.com/runs/{id}"),
            "status": status, "conclusion": conclusion, "started_at": started_at, "completed_at": completed_at,
            "output": { "title": null, "summary": null, "annotations_count": 0 },
            "check_suite": { "id": 5, "head_sha": sha, "status": status, "conclusion": conclusion },
            "app": { "id": 15368, "slug": "github-actions", "name": "GitHub Actions" },
            "pull_requests": [{ "number": 7, "head": { "sha": sha, "ref": "feature" }, "base": { "sha": "0000000000000000000000000000000000000000", "ref": "main" } }]
        },
        "repository": repository(repo),
        "sender": { "login": "github-actions[bot]", "type": "Bot" }
    })
}

fn no_errors(r: &Gql) -> &Value {
    assert!(r.body.get("errors").is_none(), "{:#}", r.body);
    r.data()
}

async fn milestone_ids(m: &Market, order: &str) -> Vec<String> {
    let r = m.app.gql_as(&m.client, MILESTONES, json!({ "id": order })).await;
    no_errors(&r)["order"]["milestones"]
        .as_array()
        .expect("milestones")
        .iter()
        .map(|ms| ms["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn link(m: &Market, user: &TestUser, order: &str, milestone: Option<&str>, repo: &str) -> Gql {
    m.app
        .gql_as(
            user,
            LINK,
            json!({ "i": { "orderId": order, "milestoneId": milestone, "repository": repo } }),
        )
        .await
}

/// The order as its client sees it.
async fn order_view(m: &Market, order: &str) -> Value {
    let r = m.app.gql_as(&m.client, MILESTONES, json!({ "id": order })).await;
    no_errors(&r)["order"].clone()
}

/// The titles of `user`'s SYSTEM notifications, oldest first.
async fn system_notifications(app: &TestApp, user: &TestUser) -> Vec<String> {
    app.texts(&format!(
        "SELECT title AS value FROM notifications WHERE user_id = '{}' AND kind = 'SYSTEM' ORDER BY created_at, id",
        user.id
    ))
    .await
}

/// The `ORDER_UPDATED` actions written for an order, oldest first.
async fn order_actions(app: &TestApp, order: &str) -> Vec<String> {
    app.texts(&format!(
        "SELECT payload->>'action' AS value FROM events WHERE topic = 'order:{order}' AND kind = 'ORDER_UPDATED' ORDER BY id"
    ))
    .await
}

/// The order's first pull request's `checksState`, then each of its checks as
/// "SOURCE name STATUS".
async fn checks_of_first(m: &Market, order: &str) -> Vec<String> {
    let view = order_view(m, order).await;
    let pr = &view["pullRequests"][0];
    let text = |v: &Value| v.as_str().expect("text").to_owned();
    let mut out = vec![text(&pr["checksState"])];
    for c in pr["checks"].as_array().expect("checks") {
        out.push(format!(
            "{} {} {}",
            text(&c["source"]),
            text(&c["name"]),
            text(&c["status"])
        ));
    }
    out
}

/// The id of the order's first pull request and of its first milestone's first check.
async fn evidence_ids(m: &Market, order: &str) -> (Value, Value) {
    let view = order_view(m, order).await;
    let pr = view["pullRequests"][0]["id"].clone();
    let check = view["milestones"][0]["pullRequests"][0]["checks"][0]["id"].clone();
    (pr, check)
}

const SHA1: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const SHA2: &str = "c4295bd74fa9a5a2b5bd7c8c2b1f2b0d9a2f0e11";

#[tokio::test]
async fn a_signed_pull_request_and_check_run_show_on_the_milestone_and_only_move_forward() {
    let m = market().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::InProgress).await;
    let milestone = milestone_ids(&m, &order).await.remove(0);
    let linked = link(&m, &m.freelancer, &order, Some(&milestone), "Octo-Org/Widget").await;
    let linked = &no_errors(&linked)["linkRepository"];
    assert_eq!(linked["kind"], "REPOSITORY");
    assert_eq!(linked["url"], "https://github.com/Octo-Org/Widget");
    assert_eq!(linked["milestoneId"], milestone.as_str());

    // GitHub spells the repository its own way: matched without regard to case.
    let opened = pull_request(
        "opened",
        "octo-org/widget",
        7,
        "Checkout page",
        SHA1,
        false,
        "2026-12-07T10:00:00Z",
    );
    assert_eq!(deliver(app, "pull_request", &opened).await, "APPLIED");
    let running = check_run(
        "created",
        "octo-org/widget",
        41,
        "test",
        SHA1,
        "in_progress",
        None,
        "2026-12-07T10:01:00Z",
        None,
    );
    assert_eq!(deliver(app, "check_run", &running).await, "APPLIED");

    let view = order_view(&m, &order).await;
    let prs = &view["milestones"][0]["pullRequests"];
    assert_eq!(prs.as_array().map(Vec::len), Some(1), "{view:#}");
    assert_eq!(prs[0]["number"], 7);
    assert_eq!(prs[0]["title"], "Checkout page");
    assert_eq!(prs[0]["url"], "https://github.com/octo-org/widget/pull/7");
    assert_eq!(prs[0]["status"], "OPEN");
    assert_eq!(prs[0]["checksState"], "PENDING");
    assert_eq!(
        prs[0]["checks"],
        json!([{ "id": prs[0]["checks"][0]["id"], "name": "test", "status": "IN_PROGRESS", "url": "https://github.com/octo-org/widget/runs/41", "source": "CHECK_RUN" }])
    );
    assert_eq!(view["pullRequests"][0]["number"], 7, "the order shows it too");
    let actions = order_actions(app, &order).await;
    assert_eq!(actions[actions.len() - 3..], ["LINK_CODE", "PULL_REQUEST", "CI_CHECK"]);

    // The run fails: both parties hear of it once, however often GitHub says so.
    let failed = check_run(
        "completed",
        "octo-org/widget",
        41,
        "test",
        SHA1,
        "completed",
        Some("failure"),
        "2026-12-07T10:01:00Z",
        Some("2026-12-07T10:04:00Z"),
    );
    assert_eq!(deliver(app, "check_run", &failed).await, "APPLIED");
    assert_eq!(
        deliver(app, "check_run", &failed).await,
        "UNCHANGED",
        "a repeat under a new delivery id"
    );
    // A late `in_progress` of the same run cannot bring it back.
    assert_eq!(deliver(app, "check_run", &running).await, "UNCHANGED");
    let view = order_view(&m, &order).await;
    let pr = &view["milestones"][0]["pullRequests"][0];
    assert_eq!(pr["checks"][0]["status"], "FAILURE");
    assert_eq!(pr["checksState"], "FAILING");
    for party in [&m.client, &m.freelancer] {
        assert_eq!(
            system_notifications(app, party).await,
            ["Checks failed on pull request #7"]
        );
    }
    assert!(system_notifications(app, &m.stranger).await.is_empty());

    // A new commit, a new run of the same check that passes: told once more.
    let pushed = pull_request(
        "synchronize",
        "octo-org/widget",
        7,
        "Checkout page",
        SHA2,
        false,
        "2026-12-07T11:00:00Z",
    );
    assert_eq!(deliver(app, "pull_request", &pushed).await, "APPLIED");
    let passed = check_run(
        "completed",
        "octo-org/widget",
        42,
        "test",
        SHA2,
        "completed",
        Some("success"),
        "2026-12-07T11:01:00Z",
        Some("2026-12-07T11:03:00Z"),
    );
    assert_eq!(deliver(app, "check_run", &passed).await, "APPLIED");
    // Merged; then a synchronize GitHub sent earlier arrives late and changes nothing.
    let merged = pull_request(
        "closed",
        "octo-org/widget",
        7,
        "Checkout page",
        SHA2,
        true,
        "2026-12-07T12:00:00Z",
    );
    assert_eq!(deliver(app, "pull_request", &merged).await, "APPLIED");
    assert_eq!(deliver(app, "pull_request", &opened).await, "UNCHANGED");
    let view = order_view(&m, &order).await;
    let pr = &view["milestones"][0]["pullRequests"][0];
    assert_eq!(pr["status"], "MERGED");
    assert_eq!(pr["headSha"], SHA2);
    assert_eq!(pr["checksState"], "PASSING");
    assert_eq!(pr["checks"][0]["status"], "SUCCESS");
    assert_eq!(
        system_notifications(app, &m.client).await,
        ["Checks failed on pull request #7", "Checks passed on pull request #7"]
    );

    // A repository no order links is recorded and ignored.
    let elsewhere = pull_request(
        "opened",
        "someone/else",
        1,
        "Unrelated",
        SHA1,
        false,
        "2026-12-07T10:00:00Z",
    );
    assert_eq!(deliver(app, "pull_request", &elsewhere).await, "IGNORED");
    assert_eq!(one(app, "SELECT count(*)::text AS value FROM pull_requests").await, "1");
}

#[tokio::test]
async fn forged_unsigned_truncated_and_replayed_deliveries_change_nothing() {
    let m = market().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::InProgress).await;
    no_errors(&link(&m, &m.client, &order, None, "octo/shop").await);
    let fingerprint = async || {
        one(
            app,
            "SELECT concat_ws('|', (SELECT count(*) FROM github_deliveries), (SELECT count(*) FROM pull_requests), \
             (SELECT count(*) FROM ci_checks), (SELECT count(*) FROM events), (SELECT count(*) FROM notifications)) AS value",
        )
        .await
    };
    let before = fingerprint().await;
    let payload = pull_request("opened", "octo/shop", 3, "Cart", SHA1, false, "2026-12-07T10:00:00Z").to_string();
    let good = octokit_sign(&payload, SECRET).await;
    let forged = octokit_sign(&payload, "not-the-secret").await;

    let (status, body) = post(app, "pull_request", "d-forged", &payload, Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    let (status, body) = post(app, "pull_request", "d-unsigned", &payload, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = post(app, "pull_request", "d-sha1", &payload, Some("sha1=0123456789abcdef")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let truncated = &payload[..payload.len() - 20];
    let (status, _) = post(app, "pull_request", "d-truncated", truncated, Some(&good)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(app, "pull_request", "", &payload, Some(&good)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no delivery id");
    assert_eq!(fingerprint().await, before, "refused deliveries leave no trace");

    // Applied once; the same delivery id again — even with another body — changes nothing.
    let (status, body) = post(app, "pull_request", "d-1", &payload, Some(&good)).await;
    assert_eq!(
        (status, &body["outcome"]),
        (StatusCode::OK, &json!("APPLIED")),
        "{body}"
    );
    let after = fingerprint().await;
    assert_ne!(after, before);
    let (status, body) = post(app, "pull_request", "d-1", &payload, Some(&good)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["duplicate"], true);
    let other = pull_request("edited", "octo/shop", 3, "Renamed", SHA1, false, "2026-12-07T10:30:00Z");
    assert_eq!(deliver_as(app, "pull_request", "d-1", &other).await, "DUPLICATE");
    assert_eq!(fingerprint().await, after);
    assert_eq!(order_view(&m, &order).await["pullRequests"][0]["number"], 3);

    // One delivery sent five times at once: applied once, the others wait and find it taken.
    let run = check_run(
        "completed",
        "octo/shop",
        90,
        "build",
        SHA1,
        "completed",
        Some("failure"),
        "2026-12-07T10:01:00Z",
        Some("2026-12-07T10:02:00Z"),
    )
    .to_string();
    let signature = octokit_sign(&run, SECRET).await;
    let answers =
        futures_util::future::join_all((0..5).map(|_| post(app, "check_run", "d-burst", &run, Some(&signature)))).await;
    let applied: Vec<&Value> = answers
        .iter()
        .inspect(|(status, body)| assert_eq!(*status, StatusCode::OK, "{body}"))
        .map(|(_, body)| body)
        .filter(|body| body["duplicate"] == false)
        .collect();
    assert_eq!(applied.len(), 1, "{answers:?}");
    assert_eq!(applied[0]["outcome"], "APPLIED");
    assert_eq!(
        system_notifications(app, &m.client).await,
        ["Checks failed on pull request #3"]
    );

    // ping and events nobody handles are acknowledged and recorded.
    let ping = json!({ "zen": "Design for failure.", "hook_id": 292430182, "hook": { "type": "Repository", "events": ["pull_request"] }, "repository": repository("octo/shop") });
    assert_eq!(deliver(app, "ping", &ping).await, "IGNORED");
    let issue = json!({ "action": "opened", "issue": { "number": 9 }, "repository": repository("octo/shop") });
    assert_eq!(deliver(app, "issues", &issue).await, "IGNORED");
    assert_eq!(
        app.texts("SELECT event || ' ' || outcome AS value FROM github_deliveries ORDER BY received_at")
            .await,
        [
            "pull_request APPLIED",
            "check_run APPLIED",
            "ping IGNORED",
            "issues IGNORED"
        ]
    );
    // Signed but not a pull request: refused, nothing recorded.
    let (status, _) = post(
        app,
        "pull_request",
        "d-odd",
        "{\"zen\":1}",
        Some(&octokit_sign("{\"zen\":1}", SECRET).await),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Delivery ids are kept 90 days, then purged by the scheduler.
    app.sql("UPDATE github_deliveries SET received_at = now() - interval '91 days' WHERE event = 'ping'")
        .await;
    let purged = gigmarket::scheduler::run_named(&app.state, "purgeGithubDeliveries").await;
    assert!(
        matches!(&purged, Some(gigmarket::scheduler::Outcome::Done(counts)) if counts.get("deleted") == Some(1)),
        "{purged:?}"
    );

    // A server without a secret verifies nothing and says so.
    let bare = TestApp::spawn().await;
    let (status, body) = post(&bare, "pull_request", "d-2", &payload, Some(&good)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn only_parties_link_valid_repositories_once_and_unlinking_hides_their_pull_requests() {
    let m = market().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::PaymentConfirmed).await;
    let other = m.drive(OrderStatus::InProgress).await;
    let foreign_milestone = milestone_ids(&m, &other).await.remove(0);

    let r = link(&m, &m.client, &order, None, "octo/not a repo").await;
    assert_eq!(
        (r.code(), r.fields()),
        ("VALIDATION_ERROR", vec!["repository".to_owned()])
    );
    let r = link(&m, &m.client, &order, Some(&foreign_milestone), "octo/app").await;
    assert_eq!(
        (r.code(), r.fields()),
        ("VALIDATION_ERROR", vec!["milestoneId".to_owned()])
    );
    assert_eq!(
        link(&m, &m.stranger, &order, None, "octo/app").await.code(),
        "NOT_FOUND"
    );
    assert_eq!(link(&m, &m.admin, &order, None, "octo/app").await.code(), "FORBIDDEN");

    let linked = link(&m, &m.client, &order, None, "octo/app").await;
    let link_id = no_errors(&linked)["linkRepository"]["id"].clone();
    assert_eq!(
        link(&m, &m.freelancer, &order, None, "OCTO/App").await.code(),
        "CONFLICT"
    );
    // Another order may link the same repository: deliveries reach both.
    no_errors(&link(&m, &m.freelancer, &other, None, "octo/app").await);
    let preview = m
        .app
        .gql_as(
            &m.freelancer,
            PREVIEW,
            json!({ "i": { "orderId": order, "url": "https://pr-5.preview.example.com/" } }),
        )
        .await;
    assert_eq!(no_errors(&preview)["addPreviewUrl"]["kind"], "PREVIEW");
    let bad = m
        .app
        .gql_as(
            &m.freelancer,
            PREVIEW,
            json!({ "i": { "orderId": order, "url": "javascript:alert(1)" } }),
        )
        .await;
    assert_eq!(bad.fields(), ["url"]);

    let opened = pull_request(
        "opened",
        "octo/app",
        5,
        "Landing page",
        SHA1,
        false,
        "2026-12-07T10:00:00Z",
    );
    assert_eq!(deliver(app, "pull_request", &opened).await, "APPLIED");
    let view = order_view(&m, &order).await;
    assert_eq!(view["pullRequests"][0]["number"], 5);
    assert_eq!(
        view["milestones"][0]["pullRequests"][0]["number"], 5,
        "linked to the whole order, shown on its only milestone"
    );
    assert_eq!(view["codeLinks"].as_array().map(Vec::len), Some(2));
    let seen_by_other = m.app.gql_as(&m.client, MILESTONES, json!({ "id": other })).await;
    assert_eq!(no_errors(&seen_by_other)["order"]["pullRequests"][0]["number"], 5);
    assert_eq!(
        order_actions(app, &other).await.last().map(String::as_str),
        Some("PULL_REQUEST")
    );

    assert_eq!(
        m.app.gql_as(&m.stranger, UNLINK, json!({ "id": link_id })).await.code(),
        "NOT_FOUND"
    );
    let unlinked = m.app.gql_as(&m.client, UNLINK, json!({ "id": link_id })).await;
    let unlinked = &no_errors(&unlinked)["removeCodeLink"];
    assert_eq!(
        unlinked["codeLinks"].as_array().map(Vec::len),
        Some(1),
        "the preview stays"
    );
    assert_eq!(unlinked["pullRequests"], json!([]));
}

#[tokio::test]
async fn pull_requests_and_checks_are_dispute_evidence_of_their_own_order_only() {
    let m = market().await;
    let app = &m.app;
    let disputed = m.drive(OrderStatus::PaymentConfirmed).await;
    let other = m.drive(OrderStatus::InProgress).await;
    no_errors(&link(&m, &m.freelancer, &disputed, None, "octo/mine").await);
    no_errors(&link(&m, &m.freelancer, &other, None, "octo/theirs").await);
    let mine = pull_request(
        "opened",
        "octo/mine",
        2,
        "Login form",
        SHA1,
        false,
        "2026-12-07T10:00:00Z",
    );
    let theirs = pull_request(
        "opened",
        "octo/theirs",
        8,
        "Other work",
        SHA2,
        false,
        "2026-12-07T10:00:00Z",
    );
    let failed = check_run(
        "completed",
        "octo/mine",
        77,
        "lint",
        SHA1,
        "completed",
        Some("failure"),
        "2026-12-07T10:01:00Z",
        Some("2026-12-07T10:02:00Z"),
    );
    for (event, payload) in [
        ("pull_request", &mine),
        ("pull_request", &theirs),
        ("check_run", &failed),
    ] {
        assert_eq!(deliver(app, event, payload).await, "APPLIED");
    }
    let (my_pr, my_check) = evidence_ids(&m, &disputed).await;
    let (their_pr, _) = evidence_ids(&m, &other).await;

    let opened = m
        .app
        .gql_as(
            &m.client,
            "mutation($id: ID!) { openDispute(orderId: $id, reason: \"The build never passes\") { status dispute { id } } }",
            json!({ "id": disputed }),
        )
        .await;
    let dispute = no_errors(&opened)["openDispute"]["dispute"]["id"].clone();
    let add = async |author: &TestUser, kind: &str, reference: Value| {
        m.app
            .gql_as(
                author,
                EVIDENCE,
                json!({ "d": dispute, "i": { "kind": kind, "ref": reference, "note": "See CI" } }),
            )
            .await
    };
    let r = add(&m.client, "PR", my_pr.clone()).await;
    assert_eq!(
        no_errors(&r)["addDisputeEvidence"]["pullRequest"],
        json!({ "number": 2, "repository": "octo/mine" })
    );
    let r = add(&m.freelancer, "CI", my_check.clone()).await;
    assert_eq!(
        no_errors(&r)["addDisputeEvidence"]["check"],
        json!({ "name": "lint", "status": "FAILURE" })
    );
    for (kind, reference) in [
        ("PR", their_pr),
        ("CI", my_pr.clone()),
        ("PR", my_check),
        ("PR", Value::Null),
        ("PR", json!("nope")),
    ] {
        let r = add(&m.client, kind, reference.clone()).await;
        assert_eq!(
            (r.code(), r.fields()),
            ("VALIDATION_ERROR", vec!["ref".to_owned()]),
            "{kind} {reference}"
        );
    }
    assert_eq!(
        one(
            app,
            "SELECT string_agg(kind, ',' ORDER BY id) AS value FROM dispute_evidence"
        )
        .await,
        "PR,CI"
    );
}

#[tokio::test]
async fn commit_statuses_and_check_suites_combine_with_check_runs() {
    let m = market().await;
    let app = &m.app;
    let order = m.drive(OrderStatus::InProgress).await;
    no_errors(&link(&m, &m.freelancer, &order, None, "octo/api").await);
    let opened = pull_request(
        "opened",
        "octo/api",
        4,
        "Rate limits",
        SHA1,
        false,
        "2026-12-07T10:00:00Z",
    );
    assert_eq!(deliver(app, "pull_request", &opened).await, "APPLIED");
    let status = |id: i64, state: &str, at: &str| {
        json!({
            "id": id, "sha": SHA1, "name": "octo/api", "context": "ci/circleci", "state": state,
            "description": "CircleCI", "target_url": format!("https://circleci.com/gh/octo/api/{id}"),
            "branches": [], "created_at": at, "updated_at": at,
            "repository": repository("octo/api"), "sender": { "login": "circleci", "type": "Bot" }
        })
    };
    let suite = json!({
        "action": "completed",
        "check_suite": {
            "id": 900, "head_branch": "feature", "head_sha": SHA1, "status": "completed", "conclusion": "success",
            "app": { "id": 15368, "slug": "github-actions", "name": "GitHub Actions" },
            "created_at": "2026-12-07T10:01:00Z", "updated_at": "2026-12-07T10:05:00Z", "pull_requests": []
        },
        "repository": repository("octo/api"), "sender": { "login": "octocat", "type": "User" }
    });
    assert_eq!(
        deliver(app, "status", &status(10, "pending", "2026-12-07T10:01:00Z")).await,
        "APPLIED"
    );
    assert_eq!(deliver(app, "check_suite", &suite).await, "APPLIED");
    let pending = checks_of_first(&m, &order).await;
    assert_eq!(
        pending,
        [
            "PENDING",
            "CHECK_SUITE GitHub Actions SUCCESS",
            "STATUS ci/circleci IN_PROGRESS"
        ]
    );

    assert_eq!(
        deliver(app, "status", &status(11, "error", "2026-12-07T10:06:00Z")).await,
        "APPLIED"
    );
    // An older status of the same context, delivered late, changes nothing.
    assert_eq!(
        deliver(app, "status", &status(10, "pending", "2026-12-07T10:01:00Z")).await,
        "UNCHANGED"
    );
    assert_eq!(
        checks_of_first(&m, &order).await,
        [
            "FAILING",
            "CHECK_SUITE GitHub Actions SUCCESS",
            "STATUS ci/circleci ERROR"
        ]
    );
    assert_eq!(
        system_notifications(app, &m.freelancer).await,
        ["Checks failed on pull request #4"]
    );
}
