//! Who is calling. An access token arrives as `Authorization: Bearer …` or as the HttpOnly
//! cookie `signIn` sets; the bearer header wins when both are present.
//!
//! A valid token is not enough: the user row is read on every authenticated request so a
//! ban takes effect at once, whatever tokens the user still holds; and a token whose session
//! was revoked (a refresh token of it reused) is refused at once ([`revoked`]).

pub mod jwt;
pub mod password;
pub mod revoked;

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use uuid::Uuid;

use crate::{error::AppError, profile, profile::model::UserRow, state::AppState};

/// Cookie holding the access token.
pub const ACCESS_COOKIE: &str = "gm_access";
/// Cookie holding the refresh token (sent to `/graphql` only).
pub const REFRESH_COOKIE: &str = "gm_refresh";

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub user: Arc<UserRow>,
}

impl Viewer {
    pub fn id(&self) -> Uuid {
        self.user.id
    }
}

/// The outcome of authenticating a request.
#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    /// A token was presented and refused; public operations still work, and anything that
    /// needs a viewer answers `UNAUTHORIZED` with this reason.
    Invalid(jwt::TokenError),
    User(Viewer),
}

/// Reads one cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The presented access token, from the bearer header or the cookie.
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default().trim();
        return Some(match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim().to_owned(),
            // A malformed header is still a presented credential: it must fail, not vanish.
            _ => String::new(),
        });
    }
    cookie(headers, ACCESS_COOKIE)
}

/// Authenticates a token. `Err(FORBIDDEN)` for a banned user: the whole request is refused.
pub async fn authenticate(app: &AppState, token: Option<&str>) -> Result<Auth, AppError> {
    let Some(token) = token else {
        return Ok(Auth::Anonymous);
    };
    let claims = match app.tokens.verify(token) {
        Ok(claims) => claims,
        Err(reason) => return Ok(Auth::Invalid(reason)),
    };
    if let Some(session) = claims.sid {
        if app.revoked_sessions.contains(&app.db, session).await? {
            return Ok(Auth::Invalid(jwt::TokenError::Revoked));
        }
    }
    let mut conn = app.db.conn().await?;
    let Some(user) = profile::service::find(&mut conn, claims.sub).await? else {
        return Ok(Auth::Invalid(jwt::TokenError::Invalid));
    };
    if user.is_banned() {
        return Err(banned());
    }
    Ok(Auth::User(Viewer { user: Arc::new(user) }))
}

/// Whether `user_id` is suspended now (for a live connection that may have missed the
/// suspension event).
pub async fn is_suspended(app: &AppState, user_id: uuid::Uuid) -> Result<bool, AppError> {
    let mut conn = app.db.conn().await?;
    Ok(profile::service::find(&mut conn, user_id)
        .await?
        .is_some_and(|user| user.is_banned()))
}

/// Whether the session (refresh-token family) `session` is revoked now (for a live
/// connection that may have missed the revocation event).
pub async fn is_revoked(app: &AppState, session: Uuid) -> Result<bool, AppError> {
    app.revoked_sessions.contains(&app.db, session).await
}

/// The error every request of a banned user gets.
pub fn banned() -> AppError {
    AppError::Forbidden("This account has been suspended.".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_header_wins_over_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; gm_access=cookie-token"));
        assert_eq!(presented_token(&headers).as_deref(), Some("cookie-token"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer header-token"));
        assert_eq!(presented_token(&headers).as_deref(), Some("header-token"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented_token(&headers).as_deref(), Some(""));
    }
}
