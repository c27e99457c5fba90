//! Account operations. Each owns its transaction; CPU-heavy hashing happens outside them.

use std::net::IpAddr;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::model::{self, FailureScope, NewRefreshToken, Sessions};
use serde::{Deserialize, Serialize};

use crate::{
    auth::{self, jwt::Subject, password::policy_violation},
    error::{AppError, AppResult, FieldErrors},
    events::{self, topic},
    profile::{self, model::UserRow},
    state::AppState,
};

/// How long a refresh token (and so a session) lives without use.
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);
/// How long a password reset link works.
pub const RESET_TOKEN_TTL: Duration = Duration::hours(1);
/// Reset mails sent to one account per hour at most; further requests are silently dropped.
const RESET_MAILS_PER_HOUR: i64 = 3;
const EMAIL_MAX: usize = 254;

/// A signed-in session: what `signIn`, `signUp` and `refreshSession` hand out.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub expires_at: DateTime<Utc>,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: UserRow,
}

/// Why `email` is not an address we can mail.
pub fn email_problem(email: &str) -> Option<&'static str> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Some("must be an email address");
    };
    let ok = email.len() <= EMAIL_MAX
        && !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    (!ok).then_some("must be an email address")
}

/// A fresh opaque token: 256 random bits, URL-safe.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored for a token.
fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Issues an access token and a refresh token (in `family`, or a new one) for `user`.
async fn issue_session(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    user: UserRow,
    family: Option<Uuid>,
) -> AppResult<Session> {
    let now = Utc::now();
    let family = family.unwrap_or_else(Uuid::now_v7);
    let subject = Subject {
        user_id: user.id,
        email: &user.email,
        is_admin: user.is_admin,
        session: Some(family),
    };
    let (access_token, expires_at) = app.tokens.issue(&subject, now).map_err(AppError::internal)?;
    let refresh_token = random_token();
    let refresh_expires_at = now + REFRESH_TOKEN_TTL;
    model::insert_refresh_token(
        conn,
        &NewRefreshToken {
            id: Uuid::now_v7(),
            user_id: user.id,
            family_id: family,
            token_hash: &digest(&refresh_token),
            expires_at: refresh_expires_at,
        },
    )
    .await?;
    Ok(Session {
        access_token,
        expires_at,
        refresh_token,
        refresh_expires_at,
        user,
    })
}

/// Input of `signUp`.
#[derive(Debug)]
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub username: String,
    pub full_name: String,
}

/// Creates an account and signs it in.
pub async fn sign_up(app: &AppState, input: SignUp) -> AppResult<Session> {
    let email = normalise_email(&input.email);
    let username = input.username.trim().to_owned();
    let full_name = input.full_name.trim().to_owned();
    let mut errors = FieldErrors::new();
    if let Some(problem) = email_problem(&email) {
        errors.add("email", problem);
    }
    if let Some(problem) = policy_violation(&input.password) {
        errors.add("password", problem);
    }
    if let Some(problem) = profile::service::username_problem(&username) {
        errors.add("username", problem);
    }
    if let Some(problem) = profile::service::full_name_problem(&full_name) {
        errors.add("fullName", problem);
    }
    errors.into_result()?;

    let hash = app.passwords.hash(input.password).await.map_err(AppError::internal)?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let user = profile::service::create(conn, &email, &username, &full_name).await?;
        model::insert_credentials(conn, user.id, &hash).await?;
        issue_session(conn, app, user, None).await
    })
    .await
}

/// Refuses the attempt when the account or the address has failed too often lately.
async fn check_throttle(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    account: &str,
    address: Option<&str>,
) -> AppResult<()> {
    let throttle = &app.config.throttle;
    let window = Duration::from_std(throttle.window).map_err(AppError::internal)?;
    let now = Utc::now();
    let since = now - window;
    let mut checks = vec![(FailureScope::Account, account, throttle.max_failures_per_account)];
    if let Some(address) = address {
        checks.push((FailureScope::Address, address, throttle.max_failures_per_address));
    }
    for (scope, subject, limit) in checks {
        let (count, oldest) = model::failures_since(conn, scope, subject, since).await?;
        if count >= limit {
            let retry_after = oldest.map_or(window, |t| t + window - now).num_seconds().max(1) as u64;
            return Err(AppError::RateLimited {
                message: format!(
                    "Too many failed sign-in attempts. Try again in {} minutes.",
                    retry_after.div_ceil(60)
                ),
                retry_after_secs: retry_after,
            });
        }
    }
    Ok(())
}

async fn record_failure(conn: &mut AsyncPgConnection, account: &str, address: Option<&str>) -> AppResult<()> {
    model::record_failure(conn, FailureScope::Account, account).await?;
    if let Some(address) = address {
        model::record_failure(conn, FailureScope::Address, address).await?;
    }
    Ok(())
}

fn wrong_credentials() -> AppError {
    AppError::Unauthorized("Email or password is incorrect.".into())
}

/// Signs in with email and password.
pub async fn sign_in(app: &AppState, email: &str, password: String, addr: Option<IpAddr>) -> AppResult<Session> {
    let email = normalise_email(email);
    let address = addr.map(|a| a.to_string());
    // Oversized input is refused before any hashing or lookup.
    if password.chars().count() > auth::password::MAX_PASSWORD_CHARS || email.len() > EMAIL_MAX {
        return Err(wrong_credentials());
    }
    let mut conn = app.db.conn().await?;
    check_throttle(&mut conn, app, &email, address.as_deref()).await?;

    let user = profile::service::find_by_email(&mut conn, &email).await?;
    let stored = match &user {
        Some(user) => model::password_hash(&mut conn, user.id).await?,
        None => None,
    };
    // Hash with no connection held: the pool is for queries, not for waiting on argon2.
    drop(conn);
    let matches = app
        .passwords
        .verify(password, stored)
        .await
        .map_err(AppError::internal)?;
    let mut conn = app.db.conn().await?;
    let user = match (user, matches) {
        (Some(user), true) => user,
        _ => {
            record_failure(&mut conn, &email, address.as_deref()).await?;
            return Err(wrong_credentials());
        }
    };
    if user.is_banned() {
        return Err(auth::banned());
    }
    conn.transaction::<_, AppError, _>(async |conn| {
        model::clear_failures(conn, FailureScope::Account, &email).await?;
        issue_session(conn, app, user, None).await
    })
    .await
}

enum Rotation {
    Rotated(Box<Session>),
    /// A used or revoked token came back: its family is signed out; when it was live until
    /// now, the family and the moment its access tokens stop working.
    Reused(Option<(Uuid, DateTime<Utc>)>),
    Rejected,
}

/// The event on [`topic::sessions`] when a session (a refresh-token family) is revoked:
/// its live WebSocket connections close (4403).
pub const SESSION_REVOKED: &str = "SESSION_REVOKED";

/// What [`SESSION_REVOKED`] carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    pub user_id: Uuid,
    pub family_id: Uuid,
}

/// Exchanges a refresh token for a new session, rotating it within its family. A token that
/// was already used (stolen, or replayed) revokes the family: every holder must sign in again,
/// and the access tokens issued to the family are refused at once (`auth::revoked`).
pub async fn refresh(app: &AppState, token: &str) -> AppResult<Session> {
    let hash = digest(token);
    let mut conn = app.db.conn().await?;
    let outcome = app
        .bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let now = Utc::now();
            let Some(row) = model::lock_refresh_token(conn, &hash).await? else {
                return Ok(Rotation::Rejected);
            };
            if row.used_at.is_some() || row.revoked_at.is_some() {
                let revoked = model::revoke(conn, Sessions::Family(row.family_id), now).await?;
                tracing::warn!(user_id = %row.user_id, family_id = %row.family_id, revoked, "refresh token reuse: family revoked");
                if row.revoked_at.is_some() {
                    // Signed out (or revoked before): its access tokens live out their time.
                    return Ok(Rotation::Reused(None));
                }
                // A used token came back while its family was live: theft detected, so the
                // family's access tokens are refused too, and its connections closed.
                auth::revoked::record(conn, row.family_id, now).await?;
                let event = SessionRevoked {
                    user_id: row.user_id,
                    family_id: row.family_id,
                };
                events::emit(conn, &topic::sessions(), SESSION_REVOKED, &event).await?;
                return Ok(Rotation::Reused(Some((row.family_id, now))));
            }
            if row.expires_at <= now {
                return Ok(Rotation::Rejected);
            }
            let Some(user) = profile::service::find(conn, row.user_id).await? else {
                return Ok(Rotation::Rejected);
            };
            if user.is_banned() {
                return Err(auth::banned());
            }
            model::mark_refresh_token_used(conn, row.id, now).await?;
            Ok(Rotation::Rotated(Box::new(issue_session(conn, app, user, Some(row.family_id)).await?)))
        })
        .await?;
    match outcome {
        Rotation::Rotated(session) => Ok(*session),
        Rotation::Reused(revoked) => {
            if let Some((family, at)) = revoked {
                app.revoked_sessions.insert(family, at);
            }
            Err(AppError::Unauthorized(
                "This refresh token was already used. All sessions that came from it are signed out.".into(),
            ))
        }
        Rotation::Rejected => Err(AppError::Unauthorized(
            "The refresh token is invalid or has expired.".into(),
        )),
    }
}

/// Ends the session a refresh token belongs to, or with `everywhere`, all of the viewer's.
pub async fn sign_out(app: &AppState, token: Option<&str>, viewer: Option<Uuid>, everywhere: bool) -> AppResult<()> {
    let mut conn = app.db.conn().await?;
    let now = Utc::now();
    if everywhere {
        let user_id = viewer.ok_or_else(AppError::unauthorized)?;
        model::revoke(&mut conn, Sessions::User(user_id), now).await?;
        return Ok(());
    }
    if let Some(token) = token {
        let hash = digest(token);
        conn.transaction::<_, AppError, _>(async |conn| {
            if let Some(row) = model::lock_refresh_token(conn, &hash).await? {
                model::revoke(conn, Sessions::Family(row.family_id), now).await?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(())
}

/// Mails a reset link when the account exists. Always succeeds from the caller's view.
pub async fn request_password_reset(app: &AppState, email: &str) -> AppResult<()> {
    let email = normalise_email(email);
    if email_problem(&email).is_some() {
        return Ok(());
    }
    let mut conn = app.db.conn().await?;
    let Some(user) = profile::service::find_by_email(&mut conn, &email).await? else {
        return Ok(());
    };
    if user.is_banned() {
        return Ok(());
    }
    let now = Utc::now();
    if model::count_reset_tokens_since(&mut conn, user.id, now - Duration::hours(1)).await? >= RESET_MAILS_PER_HOUR {
        tracing::info!(user_id = %user.id, "password reset requested too often; no mail sent");
        return Ok(());
    }
    let token = random_token();
    let link = format!("{}/reset-password?token={token}", app.config.public_url);
    let body = format!(
        "Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your gigmarket account.\n\
         Open this link within one hour to choose a new password:\n\n{link}\n\n\
         Or use this code with the resetPassword mutation: {token}\n\n\
         If you did not ask for this, ignore this mail; your password stays as it is.\n",
        name = user.full_name,
    );
    conn.transaction::<_, AppError, _>(async |conn| {
        model::insert_reset_token(conn, user.id, &digest(&token), now + RESET_TOKEN_TTL).await?;
        app.mailer
            .queue(conn, &user.email, "Reset your gigmarket password", &body)
            .await?;
        Ok(())
    })
    .await
}

/// Sets a new password with a reset token; signs out every session of the account.
pub async fn reset_password(app: &AppState, token: &str, new_password: String) -> AppResult<()> {
    if let Some(problem) = policy_violation(&new_password) {
        return Err(AppError::field("newPassword", problem));
    }
    let hash = app.passwords.hash(new_password).await.map_err(AppError::internal)?;
    let token_hash = digest(token.trim());
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let now = Utc::now();
        let user_id = model::consume_reset_token(conn, &token_hash, now)
            .await?
            .ok_or_else(|| AppError::field("token", "is invalid, used or expired"))?;
        model::set_password_hash(conn, user_id, &hash).await?;
        model::void_reset_tokens(conn, user_id, now).await?;
        model::revoke(conn, Sessions::User(user_id), now).await?;
        let email = user_email(conn, user_id).await?;
        model::clear_failures(conn, FailureScope::Account, &email).await?;
        Ok(())
    })
    .await
}

async fn user_email(conn: &mut AsyncPgConnection, user_id: Uuid) -> AppResult<String> {
    profile::service::find(conn, user_id)
        .await?
        .map(|u| u.email)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("reset token for a missing user")))
}

/// Changes the viewer's password; every other session ends and a fresh one is returned.
pub async fn change_password(
    app: &AppState,
    user: &UserRow,
    current: String,
    new_password: String,
    addr: Option<IpAddr>,
) -> AppResult<Session> {
    if let Some(problem) = policy_violation(&new_password) {
        return Err(AppError::field("newPassword", problem));
    }
    if current.chars().count() > auth::password::MAX_PASSWORD_CHARS {
        return Err(AppError::field("currentPassword", "is incorrect"));
    }
    let address = addr.map(|a| a.to_string());
    let mut conn = app.db.conn().await?;
    check_throttle(&mut conn, app, &user.email, address.as_deref()).await?;
    let stored = model::password_hash(&mut conn, user.id).await?;
    drop(conn);
    if !app
        .passwords
        .verify(current, stored)
        .await
        .map_err(AppError::internal)?
    {
        let mut conn = app.db.conn().await?;
        record_failure(&mut conn, &user.email, address.as_deref()).await?;
        return Err(AppError::field("currentPassword", "is incorrect"));
    }
    let hash = app.passwords.hash(new_password).await.map_err(AppError::internal)?;
    let mut conn = app.db.conn().await?;
    let user = user.clone();
    conn.transaction::<_, AppError, _>(async |conn| {
        let now = Utc::now();
        model::set_password_hash(conn, user.id, &hash).await?;
        model::revoke(conn, Sessions::User(user.id), now).await?;
        model::void_reset_tokens(conn, user.id, now).await?;
        issue_session(conn, app, user, None).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email_problem("ada@example.com").is_none());
        assert!(email_problem("ada.lovelace+gm@mail.example.co.uk").is_none());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@exa..mple.com",
            "ada@.example.com",
        ] {
            assert!(email_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert_eq!(digest(&a).len(), 32);
        assert_eq!(digest(&a), digest(&a));
    }
}
