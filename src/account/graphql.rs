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

/// A signed-in session, as `signUp`, `signIn`, `refreshSession` and `changePassword` return
/// it. The tokens are also set as HttpOnly cookies, so browser clients may ignore them.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// HS256 JWT for `Authorization: Bearer …`, valid 30 minutes; also set as an HttpOnly
    /// cookie.
    pub access_token: String,
    /// Opaque and single-use, valid 30 days: exchange it with `refreshSession` for a new pair
    /// before `expiresAt`. Keep it secret; it is also set as an HttpOnly cookie.
    pub refresh_token: String,
    /// When the access token stops working (UTC); refresh shortly before.
    pub expires_at: DateTime<Utc>,
    /// The signed-in user, with the fields only they may see (email, exact location).
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

/// A new account. Every invalid field is named in one `VALIDATION_ERROR`.
#[derive(InputObject)]
pub struct SignUpInput {
    /// The sign-in email, at most 254 characters; trimmed and stored lower case. Unique:
    /// `CONFLICT` when an account already has it.
    pub email: String,
    /// 8 to 128 characters, not only spaces.
    pub password: String,
    /// 3 to 30 letters, digits or underscores; unique ignoring case (`CONFLICT` when taken);
    /// a few names such as `admin` are reserved.
    pub username: String,
    /// The name shown to others: 1 to 100 characters after trimming, no control characters.
    pub full_name: String,
}

/// Credentials for `signIn`.
#[derive(InputObject)]
pub struct SignInInput {
    /// The account's email, in any case.
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// A password reset with the code from the reset mail.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The code from the reset mail (also in its link); works once, for one hour.
    pub token: String,
    /// 8 to 128 characters, not only spaces.
    pub new_password: String,
}

/// A password change by the signed-in user.
#[derive(InputObject)]
pub struct ChangePasswordInput {
    /// The password in use now; a wrong one answers `VALIDATION_ERROR` on this field and
    /// counts as a failed sign-in.
    pub current_password: String,
    /// 8 to 128 characters, not only spaces.
    pub new_password: String,
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in. `VALIDATION_ERROR` names each bad field;
    /// `CONFLICT` when the email or username is taken.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new account's email, password, username and name.")] input: SignUpInput,
    ) -> async_graphql::Result<AuthPayload> {
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

    /// Signs in with email and password. A wrong email or password answers `UNAUTHORIZED`
    /// (the same for both); after repeated failures for the account or the address every
    /// attempt answers `RATE_LIMITED` for a while; a suspended account answers `FORBIDDEN`.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Email and password.")] input: SignInInput,
    ) -> async_graphql::Result<AuthPayload> {
        let session = service::sign_in(ctx.app(), &input.email, input.password, ctx.request().client_addr).await?;
        Ok(deliver(ctx, session))
    }

    /// Exchanges a refresh token (the argument, or the refresh cookie) for a new session.
    /// Each refresh token works once; reusing one signs out every session descended from it.
    /// An unknown, used or expired token answers `UNAUTHORIZED`; none at all,
    /// `VALIDATION_ERROR`.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `refreshToken` of the session; omit it to use the refresh cookie.")]
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
        #[graphql(desc = "The session's `refreshToken`; omit it to use the refresh cookie.")] refresh_token: Option<
            String,
        >,
        #[graphql(desc = "True to end every session of the signed-in user (needs an access token); \
                          false when omitted.")]
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
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account's email, in any case.")] email: String,
    ) -> async_graphql::Result<bool> {
        service::request_password_reset(ctx.app(), &email).await?;
        Ok(true)
    }

    /// Sets a new password with the code from the reset mail and signs out every session;
    /// sign in again afterwards. `VALIDATION_ERROR` on `token` when the code is unknown, used
    /// or expired, on `newPassword` when it breaks the policy.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The code from the reset mail and the new password.")] input: ResetPasswordInput,
    ) -> async_graphql::Result<bool> {
        service::reset_password(ctx.app(), &input.token, input.new_password).await?;
        Ok(true)
    }

    /// Changes the signed-in user's password; every other session ends and a fresh one is
    /// returned. Wrong current passwords are throttled like sign-ins (`RATE_LIMITED`).
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The current and the new password.")] input: ChangePasswordInput,
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
