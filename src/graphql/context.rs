//! Per-request data and the accessors resolvers use.

use std::{net::IpAddr, sync::Arc};

use async_graphql::Context;

use super::{loader::RequestLoader, shared_frame::Sharing};
use crate::{
    auth::{Auth, Viewer},
    error::AppError,
    profile::model::UserRow,
    state::AppState,
};

/// What the HTTP layer learned about the request before execution.
pub struct RequestCtx {
    pub auth: Auth,
    pub client_addr: Option<IpAddr>,
    /// The refresh token cookie, if the client sent one.
    pub refresh_cookie: Option<String>,
}

/// Accessors on the resolver context.
pub trait ContextExt {
    fn app(&self) -> &AppState;
    fn request(&self) -> &RequestCtx;
    fn loader(&self) -> &RequestLoader;
    /// The signed-in user, or `UNAUTHORIZED` saying why not.
    fn viewer(&self) -> Result<&Viewer, AppError>;
    /// The signed-in user, if any.
    fn viewer_opt(&self) -> Option<&Viewer>;
    /// The signed-in admin, or `UNAUTHORIZED` / `FORBIDDEN`.
    fn admin(&self) -> Result<&Viewer, AppError>;
}

impl ContextExt for Context<'_> {
    fn app(&self) -> &AppState {
        self.data_unchecked::<AppState>()
    }

    fn request(&self) -> &RequestCtx {
        // What a resolver reads of the request may make its answer this viewer's alone.
        if let Some(sharing) = self.data_opt::<Arc<Sharing>>() {
            sharing.note_request_read();
        }
        self.data_unchecked::<RequestCtx>()
    }

    fn loader(&self) -> &RequestLoader {
        self.data_unchecked::<RequestLoader>()
    }

    fn viewer(&self) -> Result<&Viewer, AppError> {
        match &self.request().auth {
            Auth::User(viewer) => Ok(viewer),
            Auth::Anonymous => Err(AppError::unauthorized()),
            Auth::Invalid(reason) => Err(AppError::Unauthorized(reason.to_string())),
        }
    }

    fn viewer_opt(&self) -> Option<&Viewer> {
        match &self.request().auth {
            Auth::User(viewer) => Some(viewer),
            _ => None,
        }
    }

    fn admin(&self) -> Result<&Viewer, AppError> {
        let viewer = self.viewer()?;
        if viewer.user.is_admin {
            Ok(viewer)
        } else {
            Err(AppError::Forbidden("Only administrators can do this.".into()))
        }
    }
}

/// Whether `row` may be seen by the viewer: banned users are visible to admins only.
pub fn visible_to(ctx: &Context<'_>, row: &Arc<UserRow>) -> bool {
    !row.is_banned() || ctx.viewer_opt().is_some_and(|v| v.user.is_admin)
}
