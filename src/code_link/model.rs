//! Rows and queries of `code_links`, `pull_requests`, `ci_checks` and `github_deliveries`.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::state::{CheckSource, CheckStatus, ChecksState, PullRequestState};
use crate::db::{
    by_id,
    schema::{ci_checks, code_links, github_deliveries, pull_requests},
    text_enum::pg_enum,
};

pg_enum! {
    /// What a code link points at.
    #[derive(async_graphql::Enum)]
    pub enum CodeLinkKind {
        /// A GitHub repository (`owner/name`): its pull requests and CI checks arrive through
        /// GitHub's webhook.
        Repository = "REPOSITORY",
        /// A deployed preview of the work (an http(s) URL).
        Preview = "PREVIEW",
    }
}

pg_enum! {
    /// What became of a GitHub delivery.
    pub enum DeliveryOutcome {
        /// It changed a pull request or a check of a linked repository.
        Applied = "APPLIED",
        /// About a linked repository, but nothing newer than what was stored (a repeat or an
        /// out-of-order delivery).
        Unchanged = "UNCHANGED",
        /// An event not handled, or about a repository no order links.
        Ignored = "IGNORED",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = code_links, check_for_backend(diesel::pg::Pg))]
pub struct CodeLinkRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub milestone_id: Option<Uuid>,
    pub kind: CodeLinkKind,
    pub repository: Option<String>,
    pub repository_key: Option<String>,
    pub url: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = pull_requests, check_for_backend(diesel::pg::Pg))]
pub struct PullRequestRow {
    pub id: Uuid,
    pub repository: String,
    pub repository_key: String,
    pub number: i32,
    pub github_id: i64,
    pub title: String,
    pub url: String,
    pub state: PullRequestState,
    pub head_sha: String,
    pub author_login: String,
    pub checks_state: ChecksState,
    pub updated_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = ci_checks, check_for_backend(diesel::pg::Pg))]
pub struct CheckRow {
    pub id: Uuid,
    pub repository_key: String,
    pub head_sha: String,
    pub source: CheckSource,
    pub name: String,
    pub github_id: i64,
    pub status: CheckStatus,
    pub progress: i16,
    pub url: Option<String>,
    pub status_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = github_deliveries)]
pub struct DeliveryRow<'a> {
    pub id: &'a str,
    pub event: &'a str,
    pub action: Option<&'a str>,
    pub repository: Option<&'a str>,
    pub outcome: DeliveryOutcome,
    pub received_at: DateTime<Utc>,
}

/// Records a delivery unless its id is already recorded; false for a repeat (which then waits
/// for a concurrent first delivery's transaction and finds its row).
pub async fn record_delivery_once(conn: &mut AsyncPgConnection, row: &DeliveryRow<'_>) -> QueryResult<bool> {
    let inserted = diesel::insert_into(github_deliveries::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Sets what became of a recorded delivery.
pub async fn finish_delivery(conn: &mut AsyncPgConnection, id: &str, outcome: DeliveryOutcome) -> QueryResult<()> {
    diesel::update(github_deliveries::table.find(id))
        .set(github_deliveries::outcome.eq(outcome))
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes the deliveries recorded before `before`.
pub async fn prune_deliveries(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(github_deliveries::table.filter(github_deliveries::received_at.lt(before)))
        .execute(conn)
        .await
}

/// Adds a link; false when the order already links that repository (or preview URL).
pub async fn insert_link(conn: &mut AsyncPgConnection, row: &CodeLinkRow) -> QueryResult<bool> {
    let inserted = diesel::insert_into(code_links::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

by_id!(CodeLinkRow, code_links, find: find_link);

pub async fn delete_link(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(code_links::table.find(id)).execute(conn).await
}

/// How many links the order holds.
pub async fn link_count(conn: &mut AsyncPgConnection, order_id: Uuid) -> QueryResult<i64> {
    code_links::table
        .filter(code_links::order_id.eq(order_id))
        .count()
        .get_result(conn)
        .await
}

/// The links of some orders, by order and oldest first.
pub async fn links_of(conn: &mut AsyncPgConnection, order_ids: &[Uuid]) -> QueryResult<Vec<CodeLinkRow>> {
    code_links::table
        .filter(code_links::order_id.eq_any(order_ids))
        .order((code_links::order_id, code_links::id))
        .select(CodeLinkRow::as_select())
        .load(conn)
        .await
}

/// The orders linking a repository (by its lower-case `owner/name`).
pub async fn orders_linking(conn: &mut AsyncPgConnection, repository_key: &str) -> QueryResult<Vec<Uuid>> {
    code_links::table
        .filter(code_links::repository_key.eq(repository_key))
        .select(code_links::order_id)
        .distinct()
        .load(conn)
        .await
}

/// Whether the order links the repository.
pub async fn order_links(conn: &mut AsyncPgConnection, order_id: Uuid, repository_key: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        code_links::table
            .filter(code_links::order_id.eq(order_id))
            .filter(code_links::repository_key.eq(repository_key)),
    ))
    .get_result(conn)
    .await
}

/// What a pull request delivery says (the row less its id, combined state and receipt).
pub struct PullRequestUpdate<'a> {
    pub repository: &'a str,
    pub repository_key: &'a str,
    pub number: i32,
    pub github_id: i64,
    pub title: &'a str,
    pub url: &'a str,
    pub state: PullRequestState,
    pub head_sha: &'a str,
    pub author_login: &'a str,
    pub updated_at: DateTime<Utc>,
}

/// Writes a pull request unless the stored one is newer (GitHub's `updated_at`) or the same:
/// answers the row as written, or `None` when nothing changed.
pub async fn upsert_pull_request(
    conn: &mut AsyncPgConnection,
    pr: &PullRequestUpdate<'_>,
    now: DateTime<Utc>,
) -> QueryResult<Option<PullRequestRow>> {
    diesel::sql_query(
        "INSERT INTO pull_requests AS p (id, repository, repository_key, number, github_id, title, url, state, \
         head_sha, author_login, checks_state, updated_at, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'NONE', $11, $12) \
         ON CONFLICT (repository_key, number) DO UPDATE SET repository = EXCLUDED.repository, \
         github_id = EXCLUDED.github_id, title = EXCLUDED.title, url = EXCLUDED.url, state = EXCLUDED.state, \
         head_sha = EXCLUDED.head_sha, author_login = EXCLUDED.author_login, updated_at = EXCLUDED.updated_at, \
         received_at = EXCLUDED.received_at \
         WHERE EXCLUDED.updated_at >= p.updated_at \
         AND (p.title, p.url, p.state, p.head_sha, p.repository, p.updated_at) IS DISTINCT FROM \
         (EXCLUDED.title, EXCLUDED.url, EXCLUDED.state, EXCLUDED.head_sha, EXCLUDED.repository, EXCLUDED.updated_at) \
         RETURNING p.*",
    )
    .bind::<sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<sql_types::Text, _>(pr.repository)
    .bind::<sql_types::Text, _>(pr.repository_key)
    .bind::<sql_types::Integer, _>(pr.number)
    .bind::<sql_types::BigInt, _>(pr.github_id)
    .bind::<sql_types::Text, _>(pr.title)
    .bind::<sql_types::Text, _>(pr.url)
    .bind::<sql_types::Text, _>(pr.state)
    .bind::<sql_types::Text, _>(pr.head_sha)
    .bind::<sql_types::Text, _>(pr.author_login)
    .bind::<sql_types::Timestamptz, _>(pr.updated_at)
    .bind::<sql_types::Timestamptz, _>(now)
    .get_result(conn)
    .await
    .optional()
}

/// What a check delivery says (the row less its id and receipt).
pub struct CheckUpdate<'a> {
    pub repository_key: &'a str,
    pub head_sha: &'a str,
    pub source: CheckSource,
    pub name: &'a str,
    pub github_id: i64,
    pub status: CheckStatus,
    pub url: Option<&'a str>,
    pub status_at: DateTime<Utc>,
}

/// Writes a check unless the stored one is newer: a run (suite, status) with a larger GitHub
/// id, or the same run further along (queued → in progress → finished), or as far along at a
/// later time. Answers whether anything changed.
pub async fn upsert_check(
    conn: &mut AsyncPgConnection,
    check: &CheckUpdate<'_>,
    now: DateTime<Utc>,
) -> QueryResult<bool> {
    let written = diesel::sql_query(
        "INSERT INTO ci_checks AS c (id, repository_key, head_sha, source, name, github_id, status, progress, url, \
         status_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (repository_key, head_sha, source, name) DO UPDATE SET github_id = EXCLUDED.github_id, \
         status = EXCLUDED.status, progress = EXCLUDED.progress, url = EXCLUDED.url, \
         status_at = EXCLUDED.status_at, received_at = EXCLUDED.received_at \
         WHERE (EXCLUDED.github_id, EXCLUDED.progress, EXCLUDED.status_at) >= (c.github_id, c.progress, c.status_at) \
         AND (c.github_id, c.status, c.url, c.status_at) IS DISTINCT FROM \
         (EXCLUDED.github_id, EXCLUDED.status, EXCLUDED.url, EXCLUDED.status_at)",
    )
    .bind::<sql_types::Uuid, _>(Uuid::now_v7())
    .bind::<sql_types::Text, _>(check.repository_key)
    .bind::<sql_types::Text, _>(check.head_sha)
    .bind::<sql_types::Text, _>(check.source)
    .bind::<sql_types::Text, _>(check.name)
    .bind::<sql_types::BigInt, _>(check.github_id)
    .bind::<sql_types::Text, _>(check.status)
    .bind::<sql_types::SmallInt, _>(check.status.progress())
    .bind::<sql_types::Nullable<sql_types::Text>, _>(check.url)
    .bind::<sql_types::Timestamptz, _>(check.status_at)
    .bind::<sql_types::Timestamptz, _>(now)
    .execute(conn)
    .await?;
    Ok(written == 1)
}

/// The pull requests of a repository whose head is `head_sha`, locked.
pub async fn lock_pull_requests_at(
    conn: &mut AsyncPgConnection,
    repository_key: &str,
    head_sha: &str,
) -> QueryResult<Vec<PullRequestRow>> {
    pull_requests::table
        .filter(pull_requests::repository_key.eq(repository_key))
        .filter(pull_requests::head_sha.eq(head_sha))
        // One lock order for every transaction: two pull requests of one commit never deadlock.
        .order(pull_requests::id)
        .select(PullRequestRow::as_select())
        .for_update()
        .load(conn)
        .await
}

/// The statuses of the checks of one commit.
pub async fn check_statuses(
    conn: &mut AsyncPgConnection,
    repository_key: &str,
    head_sha: &str,
) -> QueryResult<Vec<CheckStatus>> {
    ci_checks::table
        .filter(ci_checks::repository_key.eq(repository_key))
        .filter(ci_checks::head_sha.eq(head_sha))
        .select(ci_checks::status)
        .load(conn)
        .await
}

pub async fn set_checks_state(conn: &mut AsyncPgConnection, id: Uuid, state: ChecksState) -> QueryResult<()> {
    diesel::update(pull_requests::table.find(id))
        .set(pull_requests::checks_state.eq(state))
        .execute(conn)
        .await
        .map(drop)
}

by_id!(PullRequestRow, pull_requests, find: find_pull_request, many: find_pull_requests);

by_id!(CheckRow, ci_checks, find: find_check, many: find_checks);

/// A pull request shown on an order or a milestone (`owner_id`: the order's or milestone's).
#[derive(Debug, Clone, QueryableByName)]
pub struct OwnedPullRequest {
    #[diesel(sql_type = sql_types::Uuid)]
    pub owner_id: Uuid,
    #[diesel(embed)]
    pub row: PullRequestRow,
}

/// The pull requests of the repositories each order links, newest number first per order.
pub async fn pull_requests_of_orders(
    conn: &mut AsyncPgConnection,
    order_ids: &[Uuid],
) -> QueryResult<Vec<OwnedPullRequest>> {
    diesel::sql_query(
        "SELECT l.order_id AS owner_id, p.* FROM code_links l \
         JOIN pull_requests p ON p.repository_key = l.repository_key \
         WHERE l.order_id = ANY($1) ORDER BY l.order_id, p.updated_at DESC, p.id",
    )
    .bind::<sql_types::Array<sql_types::Uuid>, _>(order_ids)
    .load(conn)
    .await
}

/// The pull requests each milestone shows: those of the repositories linked to it, and, on an
/// order with a single milestone, those of the repositories linked to the whole order.
pub async fn pull_requests_of_milestones(
    conn: &mut AsyncPgConnection,
    milestone_ids: &[Uuid],
) -> QueryResult<Vec<OwnedPullRequest>> {
    diesel::sql_query(
        "SELECT m.id AS owner_id, p.* FROM order_milestones m \
         JOIN code_links l ON l.order_id = m.order_id AND (l.milestone_id = m.id OR (l.milestone_id IS NULL \
           AND NOT EXISTS (SELECT 1 FROM order_milestones o WHERE o.order_id = m.order_id AND o.id <> m.id))) \
         JOIN pull_requests p ON p.repository_key = l.repository_key \
         WHERE m.id = ANY($1) ORDER BY m.id, p.updated_at DESC, p.id",
    )
    .bind::<sql_types::Array<sql_types::Uuid>, _>(milestone_ids)
    .load(conn)
    .await
}

/// A check of a pull request's head commit (`pull_request_id`: the pull request's).
#[derive(Debug, Clone, QueryableByName)]
pub struct PullRequestCheck {
    #[diesel(sql_type = sql_types::Uuid)]
    pub pull_request_id: Uuid,
    #[diesel(embed)]
    pub row: CheckRow,
}

/// The checks of each pull request's head commit, by name.
pub async fn checks_of(conn: &mut AsyncPgConnection, pull_request_ids: &[Uuid]) -> QueryResult<Vec<PullRequestCheck>> {
    diesel::sql_query(
        "SELECT p.id AS pull_request_id, c.* FROM pull_requests p \
         JOIN ci_checks c ON c.repository_key = p.repository_key AND c.head_sha = p.head_sha \
         WHERE p.id = ANY($1) ORDER BY p.id, c.name, c.source",
    )
    .bind::<sql_types::Array<sql_types::Uuid>, _>(pull_request_ids)
    .load(conn)
    .await
}
