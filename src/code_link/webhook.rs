//! Applying GitHub deliveries once: pull requests and CI checks of linked repositories.
//!
//! [`read`] runs after the signature is verified (`github::verify`, in the HTTP route) and
//! reads the payload its event type promises. [`process`] then applies it in one transaction
//! whose first statement records the delivery id (`INSERT … ON CONFLICT DO NOTHING`): a
//! redelivery, even a concurrent one, waits for the first and finds the id taken, so a
//! delivery has one effect however often GitHub (or anyone replaying it) sends it.
//!
//! Deliveries arrive in any order. A pull request is only overwritten by a payload whose
//! `updated_at` is not older; a check only by a newer run (a larger GitHub id), or the same
//! run further along (queued → in progress → finished), or as far along at a later time
//! (`model::upsert_check`). A repeat therefore changes nothing and an old delivery arriving
//! late cannot undo a newer one.
//!
//! A change reaches every order linking the repository: an `ORDER_UPDATED` event on each
//! (action `PULL_REQUEST` or `CI_CHECK`), and, when a pull request's combined checks turn
//! passing or failing (not on every check), a SYSTEM notification to both parties of each.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{
    github::{CheckRunEvent, CheckSuiteEvent, PullRequestEvent, Rejection, StatusEvent},
    model::{self, CheckUpdate, DeliveryOutcome, DeliveryRow, PullRequestRow, PullRequestUpdate},
    state::{CheckSource, CheckStatus, ChecksState, PullRequestState},
};
use crate::{
    error::{AppError, AppResult},
    notification::service::{self as notification, Kind},
    order::{model as orders, service as order_service},
    state::AppState,
};

/// The `ORDER_UPDATED` actions deliveries write.
pub const PULL_REQUEST_ACTION: &str = "PULL_REQUEST";
pub const CHECK_ACTION: &str = "CI_CHECK";

/// A verified delivery's payload, read for its event type.
pub enum Payload {
    PullRequest(PullRequestEvent),
    CheckRun(CheckRunEvent),
    CheckSuite(CheckSuiteEvent),
    Status(StatusEvent),
    /// `ping` and every event we do not handle: recorded and acknowledged.
    Other {
        repository: Option<String>,
    },
}

/// A verified delivery.
pub struct Delivery {
    /// `X-GitHub-Delivery`.
    pub id: String,
    /// `X-GitHub-Event`.
    pub event: String,
    pub action: Option<String>,
    pub payload: Payload,
}

impl Delivery {
    /// The repository (`owner/name`) the delivery is about, if any.
    pub fn repository(&self) -> Option<&str> {
        match &self.payload {
            Payload::PullRequest(e) => Some(&e.repository.full_name),
            Payload::CheckRun(e) => Some(&e.repository.full_name),
            Payload::CheckSuite(e) => Some(&e.repository.full_name),
            Payload::Status(e) => Some(&e.repository.full_name),
            Payload::Other { repository } => repository.as_deref(),
        }
    }
}

/// Reads a verified body for its event type; `Unreadable` when it is not what GitHub
/// documents for that event (the cause is logged).
pub fn read(id: &str, event: &str, body: &[u8]) -> Result<Delivery, Rejection> {
    fn parse<T: serde::de::DeserializeOwned>(id: &str, event: &str, body: &[u8]) -> Result<T, Rejection> {
        serde_json::from_slice(body).map_err(|e| {
            tracing::warn!(delivery = id, event, error = %e, "a signed GitHub delivery could not be read");
            Rejection::Unreadable
        })
    }
    let envelope: super::github::Envelope = parse(id, event, body)?;
    let payload = match event {
        "pull_request" => Payload::PullRequest(parse(id, event, body)?),
        "check_run" => Payload::CheckRun(parse(id, event, body)?),
        "check_suite" => Payload::CheckSuite(parse(id, event, body)?),
        "status" => Payload::Status(parse(id, event, body)?),
        _ => Payload::Other {
            repository: envelope.repository.map(|r| r.full_name),
        },
    };
    Ok(Delivery {
        id: id.to_owned(),
        event: event.to_owned(),
        action: envelope.action,
        payload,
    })
}

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// The delivery id was already recorded: nothing was done this time.
    pub duplicate: bool,
    /// What processing did (`None` for a duplicate).
    pub outcome: Option<DeliveryOutcome>,
}

/// Records and applies a delivery once, in one transaction (events and notifications go out
/// on commit).
pub async fn process(app: &AppState, delivery: &Delivery) -> AppResult<Processed> {
    let now = Utc::now();
    let record = DeliveryRow {
        id: &delivery.id,
        event: &delivery.event,
        action: delivery.action.as_deref(),
        repository: delivery.repository(),
        outcome: DeliveryOutcome::Ignored,
        received_at: now,
    };
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            if !model::record_delivery_once(conn, &record).await? {
                return Ok(Processed {
                    duplicate: true,
                    outcome: None,
                });
            }
            let outcome = apply(conn, delivery, now).await?;
            if outcome != DeliveryOutcome::Ignored {
                model::finish_delivery(conn, &delivery.id, outcome).await?;
            }
            Ok(Processed {
                duplicate: false,
                outcome: Some(outcome),
            })
        })
        .await
}

/// A check as one delivery reports it.
fn check_update<'a>(delivery: &'a Delivery, key: &'a str, now: DateTime<Utc>) -> Option<CheckUpdate<'a>> {
    let check = match &delivery.payload {
        Payload::CheckRun(e) => {
            let run = &e.check_run;
            CheckUpdate {
                repository_key: key,
                head_sha: &run.head_sha,
                source: CheckSource::CheckRun,
                name: &run.name,
                github_id: run.id,
                status: CheckStatus::from_check(&run.status, run.conclusion.as_deref()),
                url: run.html_url.as_deref().or(run.details_url.as_deref()),
                status_at: run.status_at().unwrap_or(now),
            }
        }
        Payload::CheckSuite(e) => {
            let suite = &e.check_suite;
            CheckUpdate {
                repository_key: key,
                head_sha: &suite.head_sha,
                source: CheckSource::CheckSuite,
                name: suite.app.as_ref().map_or("check suite", |a| a.name.as_str()),
                github_id: suite.id,
                status: CheckStatus::from_check(
                    suite.status.as_deref().unwrap_or("queued"),
                    suite.conclusion.as_deref(),
                ),
                url: None,
                status_at: suite.updated_at.unwrap_or(now),
            }
        }
        Payload::Status(e) => CheckUpdate {
            repository_key: key,
            head_sha: &e.sha,
            source: CheckSource::Status,
            name: &e.context,
            github_id: e.id,
            status: CheckStatus::from_commit_status(&e.state),
            url: e.target_url.as_deref(),
            status_at: e.updated_at.unwrap_or(now),
        },
        Payload::PullRequest(_) | Payload::Other { .. } => return None,
    };
    Some(check)
}

/// Applies a delivery inside the recording transaction, in named steps: find the orders
/// linking its repository → store the pull request or check (only if newer) → recombine the
/// touched pull requests' checks and notify on a turn → tell every linking order.
async fn apply(conn: &mut AsyncPgConnection, delivery: &Delivery, now: DateTime<Utc>) -> AppResult<DeliveryOutcome> {
    let repository = match (&delivery.payload, delivery.repository()) {
        (Payload::Other { .. }, _) | (_, None) => return Ok(DeliveryOutcome::Ignored),
        (_, Some(repository)) => repository,
    };
    let key = repository.to_lowercase();
    let order_ids = model::orders_linking(conn, &key).await?;
    if order_ids.is_empty() {
        return Ok(DeliveryOutcome::Ignored);
    }
    let stored = match &delivery.payload {
        Payload::PullRequest(e) => store_pull_request(conn, e, repository, &key, now).await?,
        _ => store_check(conn, delivery, &key, now).await?,
    };
    let Some((touched, action)) = stored else {
        return Ok(DeliveryOutcome::Unchanged);
    };
    if touched.is_empty() {
        // A check of a commit no known pull request points at yet: kept for when one does.
        return Ok(DeliveryOutcome::Applied);
    }
    let orders = orders::find_many(conn, &order_ids).await?;
    for pr in &touched {
        recombine_checks(conn, &orders, pr).await?;
    }
    for order in &orders {
        order_service::publish_activity(conn, order, action, None).await?;
    }
    Ok(DeliveryOutcome::Applied)
}

/// What storing a delivery touched: the pull requests whose checks to recombine and the
/// `ORDER_UPDATED` action; `None` when nothing changed.
type Stored = Option<(Vec<PullRequestRow>, &'static str)>;

/// Stores a `pull_request` delivery unless the stored pull request is newer.
async fn store_pull_request(
    conn: &mut AsyncPgConnection,
    event: &PullRequestEvent,
    repository: &str,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<Stored> {
    let pr = &event.pull_request;
    let update = PullRequestUpdate {
        repository,
        repository_key: key,
        number: pr.number,
        github_id: pr.id,
        title: &pr.title,
        url: &pr.html_url,
        state: PullRequestState::from_github(&pr.state, pr.merged),
        head_sha: &pr.head.sha,
        author_login: pr.user.as_ref().map_or("", |u| u.login.as_str()),
        updated_at: pr.updated_at,
    };
    let row = model::upsert_pull_request(conn, &update, now).await?;
    Ok(row.map(|row| (vec![row], PULL_REQUEST_ACTION)))
}

/// Stores a check delivery unless the stored check is newer; answers the pull requests whose
/// head it checked.
async fn store_check(
    conn: &mut AsyncPgConnection,
    delivery: &Delivery,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<Stored> {
    let Some(check) = check_update(delivery, key, now) else {
        return Ok(None);
    };
    // Locked first, so that concurrent checks of one commit combine one after another.
    let prs = model::lock_pull_requests_at(conn, key, check.head_sha).await?;
    if !model::upsert_check(conn, &check, now).await? {
        return Ok(None);
    }
    Ok(Some((prs, CHECK_ACTION)))
}

/// Recombines a pull request's checks; when they turned passing or failing, tells the
/// parties of every linking order.
async fn recombine_checks(
    conn: &mut AsyncPgConnection,
    orders: &[orders::OrderRow],
    pr: &PullRequestRow,
) -> AppResult<()> {
    let statuses = model::check_statuses(conn, &pr.repository_key, &pr.head_sha).await?;
    let next = ChecksState::combine(&statuses);
    if next != pr.checks_state {
        model::set_checks_state(conn, pr.id, next).await?;
    }
    if pr.checks_state.turned(next) {
        notify_parties(conn, orders, pr, next).await?;
    }
    Ok(())
}

/// Tells both parties of each order that the pull request's checks passed or failed.
async fn notify_parties(
    conn: &mut AsyncPgConnection,
    orders: &[orders::OrderRow],
    pr: &PullRequestRow,
    state: ChecksState,
) -> AppResult<()> {
    let verdict = if state == ChecksState::Passing {
        "passed"
    } else {
        "failed"
    };
    let mut items: Vec<(Uuid, String, String, serde_json::Value)> = Vec::with_capacity(orders.len() * 2);
    for order in orders {
        for party in [order.client_id, order.freelancer_id] {
            items.push((
                party,
                format!("Checks {verdict} on pull request #{}", pr.number),
                format!(
                    "\u{201c}{}\u{201d} in {}, linked to your order \u{201c}{}\u{201d}.",
                    pr.title, pr.repository, order.title
                ),
                serde_json::json!({
                    "orderId": order.id,
                    "pullRequestId": pr.id,
                    "number": pr.number,
                    "repository": pr.repository,
                    "checksState": state,
                }),
            ));
        }
    }
    notification::notify_many(conn, Kind::System, items).await?;
    Ok(())
}
