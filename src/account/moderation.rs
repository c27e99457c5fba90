//! Suspending and restoring members: admins only, each action audit-logged in its own
//! transaction.
//!
//! A suspension takes effect at once everywhere: every request re-reads its user and refuses
//! a banned one (`auth::authenticate`), every refresh token is revoked in the same
//! transaction, and the `ACCOUNT_SUSPENDED` event on the sessions topic closes the member's
//! live WebSocket connections on every instance (4403). Restoring does not bring sessions
//! back: the member signs in again.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{self, Sessions};
use crate::{
    admin::model as audit,
    error::{AppError, AppResult},
    events::{self, topic},
    notification::service::{self as notification, Kind},
    profile::model::{self as profiles, UserRow},
    review,
    state::AppState,
    validation,
};

/// The event on [`topic::sessions`] when a member is suspended.
pub const ACCOUNT_SUSPENDED: &str = "ACCOUNT_SUSPENDED";

/// What [`ACCOUNT_SUSPENDED`] carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspended {
    pub user_id: Uuid,
}

/// The member `user_id`, locked for the change; `NOT_FOUND` when there is none.
async fn locked_member(conn: &mut diesel_async::AsyncPgConnection, user_id: Uuid) -> AppResult<UserRow> {
    profiles::lock(conn, user_id)
        .await?
        .ok_or_else(|| AppError::not_found("User"))
}

/// Suspends `user_id` for `reason` (3 to 2,000 characters); with `remove_reviews`, every
/// review they wrote is removed in the same transaction (`review::service::remove_written_by`).
/// `FORBIDDEN` for oneself, `NOT_FOUND` for no such member, `CONFLICT` when already suspended.
pub async fn ban(
    app: &AppState,
    admin: &UserRow,
    user_id: Uuid,
    reason: &str,
    remove_reviews: bool,
) -> AppResult<UserRow> {
    let reason = validation::reason("reason", reason)?;
    if user_id == admin.id {
        return Err(AppError::Forbidden("Admins cannot suspend themselves.".into()));
    }
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let user = locked_member(conn, user_id).await?;
            if user.is_banned() {
                return Err(AppError::Conflict("This member is already suspended.".into()));
            }
            let now = Utc::now();
            let banned = profiles::set_ban(conn, user_id, Some((&reason, now))).await?;
            let sessions = model::revoke(conn, Sessions::User(user_id), now).await?;
            events::emit(conn, &topic::sessions(), ACCOUNT_SUSPENDED, &Suspended { user_id }).await?;
            let reviews_removed = if remove_reviews {
                review::service::remove_written_by(conn, admin, user_id, &reason).await?
            } else {
                0
            };
            audit::record(
                conn,
                admin.id,
                "BAN_USER",
                "USER",
                user_id,
                &reason,
                serde_json::json!({
                    "before": { "bannedAt": null },
                    "after": { "bannedAt": now, "banReason": reason },
                    "sessionsRevoked": sessions,
                    "reviewsRemoved": reviews_removed,
                }),
            )
            .await?;
            Ok(banned)
        })
        .await
}

/// Lifts the suspension of `user_id`, for `reason`; the member is told and signs in again.
/// `NOT_FOUND` for no such member, `CONFLICT` when not suspended.
pub async fn unban(app: &AppState, admin: &UserRow, user_id: Uuid, reason: &str) -> AppResult<UserRow> {
    let reason = validation::reason("reason", reason)?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let user = locked_member(conn, user_id).await?;
            let Some(banned_at) = user.banned_at else {
                return Err(AppError::Conflict("This member is not suspended.".into()));
            };
            let restored = profiles::set_ban(conn, user_id, None).await?;
            audit::record(
                conn,
                admin.id,
                "UNBAN_USER",
                "USER",
                user_id,
                &reason,
                serde_json::json!({
                    "before": { "bannedAt": banned_at, "banReason": user.ban_reason },
                    "after": { "bannedAt": null },
                }),
            )
            .await?;
            notification::notify(
                conn,
                user_id,
                Kind::System,
                "Your account is active again",
                "An admin lifted the suspension of your account. Sign in to continue.",
                serde_json::json!({}),
            )
            .await?;
            Ok(restored)
        })
        .await
}
