//! The gig queries: one gig, the catalogue, your gigs and your saved gigs.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use uuid::Uuid;

use super::Gig;
use crate::{
    db::page::Page,
    gig::{
        loaders::{keyed, PackagesOf},
        model::{After, Filter, GigRow, GigStatus, Listed, Sort},
        service::{self, FilterInput, Listing},
    },
    graphql::{
        context::ContextExt,
        pagination::{connection, list_cost, page_request, KeyedConnection},
        types::parse_id,
    },
    profile::{loaders::UserById, model::UserRow},
    review,
};

/// A page of gigs; its cursors are encoded only when selected (the feed is a hot path).
type GigConnection = KeyedConnection<After, Gig>;

/// The connection of a page of (row, owner) items; the owners prime the request's loader,
/// so `Gig.owner` runs no statement, and so do the owners' reviews when selected (one
/// statement for the whole page, see `review::graphql::prime_reviews`).
async fn with_owners<T>(
    ctx: &Context<'_>,
    page: Page<T>,
    key: impl Fn(&T) -> After,
    parts: impl Fn(T) -> (GigRow, UserRow),
) -> async_graphql::Result<GigConnection> {
    let mut owners = Vec::with_capacity(page.items.len());
    let connection = connection(page, key, |item| {
        let (gig, owner) = parts(item);
        owners.push((UserById(owner.id), Arc::new(owner)));
        Gig::from(gig)
    });
    let owner_ids: Vec<Uuid> = owners.iter().map(|(key, _)| key.0).collect();
    ctx.loader().feed_many(owners).await;
    let selection = ctx.look_ahead();
    for owner in [
        selection.field("edges").field("node").field("owner"),
        selection.field("nodes").field("owner"),
    ] {
        review::graphql::prime_reviews(ctx, owner, &owner_ids).await?;
    }
    Ok(connection)
}

/// A page of a gig list. When the client selects the packages, the service reads them with
/// the page, and they prime the loader too.
async fn gig_page(
    ctx: &Context<'_>,
    filter: Filter,
    sort: Sort,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<GigConnection> {
    let request = page_request(ctx, first, after.as_deref())?;
    let with_packages = ctx.look_ahead().field("edges").field("node").field("packages").exists();
    let Listing {
        page,
        sort,
        own_list,
        packages,
    } = service::list(ctx.app(), &filter, sort, &request, with_packages).await?;
    if let Some(packages) = packages {
        ctx.loader().feed_many(keyed(packages, PackagesOf)).await;
    }
    let key = |listed: &Listed| listed.key(sort, own_list);
    with_owners(ctx, page, key, |listed| (listed.gig, listed.owner)).await
}

#[derive(Default)]
pub struct GigQuery;

#[Object]
impl GigQuery {
    /// A gig: public when ACTIVE (and its owner is not banned); owners and admins see it in
    /// any status. Null when there is none you may see. Counts a view when it is not yours.
    async fn gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`; `VALIDATION_ERROR` when it is not an id.")] id: ID,
    ) -> async_graphql::Result<Option<Gig>> {
        let id = parse_id(&id, "id")?;
        let viewer = ctx.viewer_opt().map(|v| v.user.as_ref());
        let wants_packages = ctx.look_ahead().field("packages").exists();
        let Some((gig, owner, packages)) = service::get(ctx.app(), viewer, id, wants_packages).await? else {
            return Ok(None);
        };
        let loader = ctx.loader();
        loader.feed_one(UserById(owner.id), Arc::new(owner)).await;
        if let Some(packages) = packages {
            loader.feed_one(PackagesOf(gig.id), Arc::new(packages)).await;
        }
        Ok(Some(Gig::from(gig)))
    }

    /// The public catalogue: ACTIVE gigs of members who are not banned. No sign-in needed.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn gigs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to narrow the catalogue to; every active gig when omitted.")] filter: Option<
            FilterInput,
        >,
        #[graphql(desc = "The order; NEWEST when omitted. A cursor only works with the sort it came from.")]
        sort: Option<Sort>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<GigConnection> {
        let filter = service::catalogue_filter(filter)?;
        gig_page(ctx, filter, sort.unwrap_or_default(), first, after).await
    }

    /// Your gigs in every status (or one), most recently created first. Signed in.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn my_gigs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only gigs in this status; all when omitted.")] status: Option<GigStatus>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<GigConnection> {
        let filter = Filter {
            owner: Some(ctx.viewer()?.id()),
            status,
            ..Default::default()
        };
        gig_page(ctx, filter, Sort::Newest, first, after).await
    }

    /// Gigs you saved (`saveGig`), most recently saved first; gigs you may no longer see
    /// (paused, archived, owner banned) are left out of the page. Signed in.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn saved_gigs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<GigConnection> {
        let viewer = ctx.viewer()?;
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::saved(ctx.app(), &viewer.user, &request).await?;
        let key = |(saved_at, gig, _): &(_, GigRow, _)| After::Newest(*saved_at, gig.id);
        with_owners(ctx, page, key, |(_, gig, owner)| (gig, owner)).await
    }
}
