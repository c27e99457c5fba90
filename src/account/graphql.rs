//! Account operations over GraphQL, and the session cookies.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, SimpleObject};
use axum::http::header::SET_COOKIE;
use chrono::{DateTime, Utc};

use super::service::{self, Session};
use crate::{
    auth::{jwt::ACCESS_TOKEN_TTL, ACCESS_COOKIE, REFRESH_COOKIE},
    error::AppError,
    graphql::context::ContextExt,
    profile::graphql::User,
};

/// A signed-in session.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// HS256 JWT for `Authorization: Bearer …`; also set as an HttpOnly cookie.
    pub access_token: String,
    /// Opaque, single-use: exchange it with `refreshSession` for a new pair.
    pub refresh_token: String,
    /// When the access token stops working.
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Sets the session cookies and turns the session into its GraphQL shape.
fn deliver(ctx: &Context<'_>, session: Session) -> AuthPayload {
    let secure = if ctx.app().config.is_production() {
        "; Secure"
    } else {
        ""
    };
    ctx.append_http_header(
        SET_COOKIE,
        format!(
            "{ACCESS_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            session.access_token,
            ACCESS_TOKEN_TTL.num_seconds()
        ),
    );
    ctx.append_http_header(
        SET_COOKIE,
        format!(
            "{REFRESH_COOKIE}={}; Path=/graphql; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            session.refresh_token,
            service::REFRESH_TOKEN_TTL.num_seconds()
        ),
    );
    AuthPayload {
        access_token: session.access_token,
        refresh_token: session.refresh_token,
        expires_at: session.expires_at,
        user: User::owner(Arc::new(session.user)),
    }
}

fn clear_cookies(ctx: &Context<'_>) {
    let secure = if ctx.app().config.is_production() {
        "; Secure"
    } else {
        ""
    };
    ctx.append_http_header(
        SET_COOKIE,
        format!("{ACCESS_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    );
    ctx.append_http_header(
        SET_COOKIE,
        format!("{REFRESH_COOKIE}=; Path=/graphql; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    );
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user; null when anonymous. A presented but invalid or expired token
    /// answers `UNAUTHORIZED`, so clients know to refresh.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        match ctx.viewer() {
            Ok(viewer) => Ok(Some(User::owner(viewer.user.clone()))),
            Err(_) if matches!(ctx.request().auth, crate::auth::Auth::Anonymous) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    /// 3 to 30 letters, digits or underscores.
    pub username: String,
    pub full_name: String,
}

#[derive(InputObject)]
pub struct SignInInput {
    pub email: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The code from the reset mail.
    pub token: String,
    pub new_password: String,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in.
    async fn sign_up(&self, ctx: &Context<'_>, input: SignUpInput) -> async_graphql::Result<AuthPayload> {
        let session = service::sign_up(
            ctx.app(),
            service::SignUp {
                email: input.email,
                password: input.password,
                username: input.username,
                full_name: input.full_name,
            },
        )
        .await?;
        Ok(deliver(ctx, session))
    }

    /// Signs in with email and password. Repeated failures are throttled (`RATE_LIMITED`).
    async fn sign_in(&self, ctx: &Context<'_>, input: SignInInput) -> async_graphql::Result<AuthPayload> {
        let session = service::sign_in(ctx.app(), &input.email, input.password, ctx.request().client_addr).await?;
        Ok(deliver(ctx, session))
    }

    /// Exchanges a refresh token (the argument, or the refresh cookie) for a new session.
    /// Each refresh token works once; reusing one signs out every session descended from it.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> async_graphql::Result<AuthPayload> {
        let token = refresh_token
            .or_else(|| ctx.request().refresh_cookie.clone())
            .ok_or_else(|| AppError::field("refreshToken", "is required"))?;
        let session = service::refresh(ctx.app(), &token).await?;
        Ok(deliver(ctx, session))
    }

    /// Ends the session of the given (or cookie) refresh token; with `everywhere`, every
    /// session of the signed-in user. Clears the session cookies. Always true.
    async fn sign_out(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
        everywhere: Option<bool>,
    ) -> async_graphql::Result<bool> {
        let token = refresh_token.or_else(|| ctx.request().refresh_cookie.clone());
        let everywhere = everywhere.unwrap_or(false);
        let viewer = if everywhere { Some(ctx.viewer()?.id()) } else { None };
        service::sign_out(ctx.app(), token.as_deref(), viewer, everywhere).await?;
        clear_cookies(ctx);
        Ok(true)
    }

    /// Mails a password reset link if an account has this email. Always true, so the answer
    /// reveals nothing about which emails have accounts.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> async_graphql::Result<bool> {
        service::request_password_reset(ctx.app(), &email).await?;
        Ok(true)
    }

    /// Sets a new password with the code from the reset mail; signs out every session.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> async_graphql::Result<bool> {
        service::reset_password(ctx.app(), &input.token, input.new_password).await?;
        Ok(true)
    }

    /// Changes the signed-in user's password; other sessions end and a fresh one is returned.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> async_graphql::Result<AuthPayload> {
        let viewer = ctx.viewer()?;
        let session = service::change_password(
            ctx.app(),
            &viewer.user,
            input.current_password,
            input.new_password,
            ctx.request().client_addr,
        )
        .await?;
        Ok(deliver(ctx, session))
    }
}
