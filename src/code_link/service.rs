//! Linking repositories and preview URLs to orders and milestones, and the checks that a pull
//! request or a CI check belongs to an order (for dispute evidence).
//!
//! Transactions: adding or removing a link locks the order row, checks it is live, writes the
//! link and the order's `ORDER_UPDATED` event (action `LINK_CODE` / `UNLINK_CODE`), and
//! commits together.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{self, CodeLinkKind, CodeLinkRow};
use crate::{
    error::{AppError, AppResult},
    order::{
        model::{self as orders, OrderRow},
        service as order_service,
    },
    profile::model::UserRow,
    state::AppState,
};

/// Links one order holds at most (repositories and previews together).
pub const MAX_LINKS: i64 = 20;
/// The longest preview URL.
pub const URL_MAX: usize = 2_000;
/// The `action` of the `ORDER_UPDATED` events links write.
pub const LINK_ACTION: &str = "LINK_CODE";
pub const UNLINK_ACTION: &str = "UNLINK_CODE";

/// What is linked: a repository (`owner/name`) or a preview URL.
pub enum Target {
    Repository(String),
    Preview(String),
}

/// A repository as GitHub names it: `owner/name`, where the owner is 1 to 39 letters, digits
/// or single hyphens not at either end, and the name 1 to 100 letters, digits, `.`, `-` or
/// `_` other than `.` and `..`. A pasted `https://github.com/owner/name(.git)` is taken too.
pub fn parse_repository(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim().trim_end_matches('/');
    let path = ["https://github.com/", "http://github.com/", "github.com/"]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix))
        .unwrap_or(trimmed);
    let path = path.strip_suffix(".git").unwrap_or(path);
    let Some((owner, name)) = path.split_once('/') else {
        return Err("must be owner/name");
    };
    let owner_ok = (1..=39).contains(&owner.len())
        && owner.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !owner.starts_with('-')
        && !owner.ends_with('-')
        && !owner.contains("--");
    if !owner_ok {
        return Err("the owner must be 1 to 39 letters, digits or single hyphens, not starting or ending with one");
    }
    let name_ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
        && name != "."
        && name != "..";
    if !name_ok {
        return Err("the name must be 1 to 100 letters, digits, '.', '-' or '_'");
    }
    Ok(format!("{owner}/{name}"))
}

/// A preview URL: http(s) with a host, at most [`URL_MAX`] characters.
pub fn parse_preview_url(raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.chars().count() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters"));
    }
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() => Ok(url.to_owned()),
        _ => Err("must be an http(s) URL".to_owned()),
    }
}

/// The order `order_id` if `viewer` is one of its parties: `NOT_FOUND` when they may not see
/// it, `FORBIDDEN` for an admin who is not a party.
async fn party_order(app: &AppState, viewer: &UserRow, order_id: Uuid) -> AppResult<OrderRow> {
    let order = order_service::visible(app, viewer, order_id).await?;
    if !order.is_party(viewer.id) {
        return Err(AppError::Forbidden(
            "Only the client and the freelancer of an order link code to it.".into(),
        ));
    }
    Ok(order)
}

/// The order locked, while it is live (links are work on it): `CONFLICT` once it is final.
async fn lock_live(conn: &mut AsyncPgConnection, order_id: Uuid) -> AppResult<OrderRow> {
    let order = orders::lock(conn, order_id)
        .await?
        .ok_or_else(|| AppError::not_found("Order"))?;
    if order.status.is_final() {
        return Err(AppError::Conflict(format!(
            "This order is {}: its code links no longer change.",
            order.status.human()
        )));
    }
    Ok(order)
}

/// A party links a repository or a preview URL to a live order, or to one of its milestones.
/// `VALIDATION_ERROR` on `repository`/`url` or `milestoneId` (a milestone of another order),
/// `CONFLICT` when the order already links it, `LIMIT_EXCEEDED` past [`MAX_LINKS`].
pub async fn link(
    app: &AppState,
    viewer: &UserRow,
    order_id: Uuid,
    milestone_id: Option<Uuid>,
    target: Target,
) -> AppResult<CodeLinkRow> {
    let (kind, repository, url) = match target {
        Target::Repository(raw) => {
            let repository = parse_repository(&raw).map_err(|m| AppError::field("repository", m))?;
            (CodeLinkKind::Repository, Some(repository), None)
        }
        Target::Preview(raw) => {
            let url = parse_preview_url(&raw).map_err(|m| AppError::field("url", m))?;
            (CodeLinkKind::Preview, None, Some(url))
        }
    };
    party_order(app, viewer, order_id).await?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let order = lock_live(conn, order_id).await?;
            if let Some(milestone_id) = milestone_id {
                let milestones = orders::milestones_of(conn, &[order_id]).await?;
                if !milestones.iter().any(|m| m.id == milestone_id) {
                    return Err(AppError::field("milestoneId", "must be a milestone of this order"));
                }
            }
            if model::link_count(conn, order_id).await? >= MAX_LINKS {
                return Err(AppError::LimitExceeded(format!(
                    "An order holds at most {MAX_LINKS} code links."
                )));
            }
            let row = CodeLinkRow {
                id: Uuid::now_v7(),
                order_id,
                milestone_id,
                kind,
                repository_key: repository.as_deref().map(str::to_lowercase),
                repository,
                url,
                created_by: viewer.id,
                created_at: Utc::now(),
            };
            if !model::insert_link(conn, &row).await? {
                return Err(AppError::Conflict(match kind {
                    CodeLinkKind::Repository => "This order already links that repository.".into(),
                    CodeLinkKind::Preview => "This order already links that preview URL.".into(),
                }));
            }
            order_service::publish_activity(conn, &order, LINK_ACTION, Some(viewer.id)).await?;
            Ok(row)
        })
        .await
}

/// A party removes a link of a live order; answers the order. `NOT_FOUND` for a link of an
/// order the viewer cannot see.
pub async fn unlink(app: &AppState, viewer: &UserRow, link_id: Uuid) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    let link = model::find_link(&mut conn, link_id)
        .await?
        .ok_or_else(|| AppError::not_found("Code link"))?;
    drop(conn);
    party_order(app, viewer, link.order_id).await.map_err(|e| match e {
        AppError::NotFound(_) => AppError::not_found("Code link"),
        other => other,
    })?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let order = lock_live(conn, link.order_id).await?;
            if model::delete_link(conn, link_id).await? == 0 {
                return Err(AppError::not_found("Code link"));
            }
            order_service::publish_activity(conn, &order, UNLINK_ACTION, Some(viewer.id)).await?;
            Ok(order)
        })
        .await
}

/// Dispute evidence of kind PR: the pull request must be one of a repository the order links.
/// `VALIDATION_ERROR` on `ref` otherwise (nothing is said about other orders' code).
pub async fn check_pull_request_of(conn: &mut AsyncPgConnection, order_id: Uuid, id: Uuid) -> AppResult<()> {
    let refused = || AppError::field("ref", "must be a pull request of a repository this order links");
    let pr = model::find_pull_request(conn, id).await?.ok_or_else(refused)?;
    if !model::order_links(conn, order_id, &pr.repository_key).await? {
        return Err(refused());
    }
    Ok(())
}

/// Dispute evidence of kind CI: the check must be one of a repository the order links.
/// `VALIDATION_ERROR` on `ref` otherwise.
pub async fn check_check_of(conn: &mut AsyncPgConnection, order_id: Uuid, id: Uuid) -> AppResult<()> {
    let refused = || AppError::field("ref", "must be a CI check of a repository this order links");
    let check = model::find_check(conn, id).await?.ok_or_else(refused)?;
    if !model::order_links(conn, order_id, &check.repository_key).await? {
        return Err(refused());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_follow_githubs_naming_rules() {
        assert_eq!(
            parse_repository(" octo-org/hello.world_2 "),
            Ok("octo-org/hello.world_2".into())
        );
        assert_eq!(
            parse_repository("https://github.com/Octo/Repo.git"),
            Ok("Octo/Repo".into())
        );
        assert_eq!(parse_repository("github.com/octo/repo/"), Ok("octo/repo".into()));
        for bad in [
            "",
            "octo",
            "octo/",
            "/repo",
            "-octo/repo",
            "octo-/repo",
            "oc--to/repo",
            "octo/re po",
            "octo/..",
            "octo/a/b",
            &format!("{}/repo", "a".repeat(40)),
            &format!("octo/{}", "r".repeat(101)),
        ] {
            assert!(parse_repository(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn previews_are_bounded_http_urls() {
        assert!(parse_preview_url("https://preview.example.com/pr-4").is_ok());
        assert!(parse_preview_url("ftp://example.com").is_err());
        assert!(parse_preview_url("javascript:alert(1)").is_err());
        assert!(parse_preview_url(&format!("https://e.com/{}", "a".repeat(URL_MAX))).is_err());
    }
}
