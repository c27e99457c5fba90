//! The gig mutations: the owner's writes, and saving a gig to your list.

use std::sync::Arc;

use async_graphql::{Context, Object, Upload, ID};
use uuid::Uuid;

use super::Gig;
use crate::{
    error::AppError,
    gig::{
        model::GigStatus,
        service::{self, GigChanges, GigInput},
    },
    graphql::{context::ContextExt, types::parse_id},
    profile::{loaders::UserById, model::UserRow},
};

#[derive(Default)]
pub struct GigMutation;

/// The signed-in user and the id argument `field`, read.
fn viewer_and<'a>(ctx: &'a Context<'_>, id: &ID, field: &str) -> Result<(&'a UserRow, Uuid), AppError> {
    Ok((ctx.viewer()?.user.as_ref(), parse_id(id, field)?))
}

/// `saveGig` / `unsaveGig`: the gig, its owner primed in the loader.
async fn set_saved(ctx: &Context<'_>, id: &ID, saved: bool) -> async_graphql::Result<Gig> {
    let (viewer, id) = viewer_and(ctx, id, "id")?;
    let (gig, owner) = service::set_saved(ctx.app(), viewer, id, saved).await?;
    ctx.loader().feed_one(UserById(owner.id), Arc::new(owner)).await;
    Ok(Gig::from(gig))
}

#[Object]
impl GigMutation {
    /// Creates a gig as a DRAFT owned by you; `setGigStatus(ACTIVE)` publishes it.
    /// `VALIDATION_ERROR` names each bad field.
    async fn create_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig and its packages.")] input: GigInput,
    ) -> async_graphql::Result<Gig> {
        let owner = ctx.viewer()?.user.as_ref();
        Ok(service::create(ctx.app(), owner, input).await?.into())
    }

    /// Changes your gig in any status. `NOT_FOUND` when it does not exist or is someone
    /// else's unpublished gig; `FORBIDDEN` for someone else's ACTIVE gig.
    async fn update_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: GigChanges,
    ) -> async_graphql::Result<Gig> {
        let (viewer, id) = viewer_and(ctx, &id, "id")?;
        Ok(service::update(ctx.app(), viewer, id, input).await?.into())
    }

    /// Deletes your gig with its packages and media files, for good; returns its id. Same
    /// errors as `updateGig`.
    async fn delete_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let (viewer, gig_id) = viewer_and(ctx, &id, "id")?;
        service::delete(ctx.app(), viewer, gig_id).await?;
        Ok(id)
    }

    /// Moves your gig to another status: DRAFT → ACTIVE ⇄ PAUSED, any → ARCHIVED → DRAFT.
    /// Another move answers `CONFLICT`; the current status answers the gig unchanged.
    async fn set_gig_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
        #[graphql(desc = "The status to move to.")] status: GigStatus,
    ) -> async_graphql::Result<Gig> {
        let (viewer, id) = viewer_and(ctx, &id, "id")?;
        Ok(service::set_status(ctx.app(), viewer, id, status).await?.into())
    }

    /// Saves a gig you can see to your list (`savedGigs`); saving again changes nothing.
    /// `NOT_FOUND` when you cannot see it.
    async fn save_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
    ) -> async_graphql::Result<Gig> {
        set_saved(ctx, &id, true).await
    }

    /// Removes a gig from your list (nothing happens if it was not there). `NOT_FOUND` when
    /// you cannot see the gig.
    async fn unsave_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
    ) -> async_graphql::Result<Gig> {
        set_saved(ctx, &id, false).await
    }

    /// Adds an image (PNG, JPEG, WebP, GIF) or MP4 video, judged by content and at most
    /// UPLOAD_MAX_BYTES (5 MiB unless configured), to your gig, sent as a GraphQL multipart
    /// request. `VALIDATION_ERROR` on `file` for other files; `LIMIT_EXCEEDED` past 10 files.
    async fn upload_gig_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your gig's `id`.")] gig_id: ID,
        #[graphql(desc = "The image or video, as a multipart upload.")] file: Upload,
    ) -> async_graphql::Result<Gig> {
        let (viewer, gig_id) = viewer_and(ctx, &gig_id, "gigId")?;
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::field("file", "is missing from the request"))?;
        Ok(service::add_media(ctx.app(), viewer, gig_id, upload.content)
            .await?
            .into())
    }

    /// Removes a media file from your gig and deletes the file; returns the gig.
    async fn remove_gig_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `GigMedia.id` to remove.")] media_id: ID,
    ) -> async_graphql::Result<Gig> {
        let (viewer, media_id) = viewer_and(ctx, &media_id, "mediaId")?;
        Ok(service::remove_media(ctx.app(), viewer, media_id).await?.into())
    }
}
