//! The gig as the schema shows it: `Gig`, its packages, media and rating.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::{
    gig::{
        loaders::{MediaOf, PackagesOf, SavedBy},
        model::{GigRow, GigStatus, PackageRow, PackageTier},
    },
    graphql::{context::ContextExt, loader::shared_error},
    profile::graphql::User,
};

/// The average and number of review ratings.
#[derive(SimpleObject)]
pub struct Rating {
    /// Mean rating from 1 to 5; null while there are no reviews.
    pub average: Option<f64>,
    /// How many reviews the average is over.
    pub count: i32,
}

/// One of a gig's one to three packages: what the buyer gets at which price, ordered with
/// `orderGig`.
#[derive(async_graphql::Description)]
pub struct GigPackage(PackageRow);

// `serial`: these fields are plain reads of a row (owner and packages come from the request's
// loader, primed by the page or gig query), so resolving them one after another skips the
// per-field task set that concurrent resolution builds; a feed page has ~400 such fields.
#[Object(serial, use_type_description)]
impl GigPackage {
    /// The tier; unique within the gig.
    async fn tier(&self) -> PackageTier {
        self.0.tier
    }
    /// Short name of the package, 3 to 80 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the package includes, up to 1,000 characters; may be empty.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Price in minor units of the gig's currency.
    async fn price_cents(&self) -> i64 {
        self.0.price_cents
    }
    /// Days from the start of work to delivery, 1 to 365.
    async fn delivery_days(&self) -> i32 {
        self.0.delivery_days
    }
    /// How many revisions the buyer may request, 0 to 100.
    async fn revisions(&self) -> i32 {
        self.0.revisions
    }
}

/// An image or video shown with a gig (`uploadGigMedia`).
#[derive(SimpleObject)]
pub struct GigMedia {
    /// Opaque id; pass it to `removeGigMedia`.
    pub id: ID,
    /// Public URL of the file.
    pub url: String,
    /// The type judged from the content: image/png, image/jpeg, image/webp, image/gif or
    /// video/mp4.
    pub content_type: String,
    /// Display order, from 0 in upload order; removals leave gaps.
    pub position: i32,
}

/// A freelancer's service listing, sold in one to three packages (BASIC, STANDARD, PREMIUM).
/// Public while ACTIVE and its owner is not banned; the owner and admins see it in every
/// status.
#[derive(async_graphql::Description)]
pub struct Gig(pub Arc<GigRow>);

impl From<GigRow> for Gig {
    fn from(row: GigRow) -> Self {
        Self(Arc::new(row))
    }
}

#[Object(serial, use_type_description)]
impl Gig {
    /// Opaque global id; pass it to `gig(id:)`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// 10 to 120 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the freelancer offers, 30 to 10,000 characters; line breaks kept.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Free-text category chosen by the owner, 2 to 60 characters (`GigFilter.category`
    /// matches it exactly).
    async fn category(&self) -> &str {
        &self.0.category
    }
    /// Up to 10 tags as the owner wrote them.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// ISO 4217 currency of the package prices.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// The deposit a booking of this gig (`requestBooking`) pays first, as a share of the
    /// package price in basis points (2500 = 25%): after the freelancer accepts, the client
    /// pays the deposit, then the balance before work starts. Null: bookings are paid at once.
    async fn booking_deposit_bps(&self) -> Option<i32> {
        self.0.booking_deposit_bps
    }
    /// Where the gig is in its life; only ACTIVE gigs are public.
    async fn status(&self) -> GigStatus {
        self.0.status
    }
    /// Price of the cheapest package, in minor units of `currency`.
    async fn starting_price_cents(&self) -> i64 {
        self.0.min_price_cents
    }
    /// Delivery time of the fastest package, in days.
    async fn fastest_delivery_days(&self) -> i32 {
        self.0.min_delivery_days
    }
    /// How often someone other than the owner opened the gig with `gig(id:)`; counted in
    /// batches, so it may lag a few seconds.
    async fn views_count(&self) -> i64 {
        self.0.views_count
    }
    /// The gig's review ratings.
    async fn rating(&self) -> Rating {
        Rating {
            average: self.0.rating_average,
            count: self.0.rating_count,
        }
    }
    /// The freelancer who offers it; null only if the account no longer exists.
    async fn owner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.owner_id).await
    }
    /// Packages, cheapest first.
    async fn packages(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GigPackage>> {
        let rows = ctx
            .loader()
            .load_one(PackagesOf(self.0.id))
            .await
            .map_err(shared_error)?;
        Ok(rows
            .map(|rows| rows.iter().cloned().map(GigPackage).collect())
            .unwrap_or_default())
    }
    /// Images and videos, in display order (`position`); at most 10.
    async fn media(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<GigMedia>> {
        let rows = ctx.loader().load_one(MediaOf(self.0.id)).await.map_err(shared_error)?;
        Ok(rows
            .map(|rows| {
                rows.iter()
                    .map(|m| GigMedia {
                        id: ID(m.id.to_string()),
                        url: m.url.clone(),
                        content_type: m.content_type.clone(),
                        position: m.position,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
    /// Whether you saved this gig (false when signed out).
    async fn is_saved(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let Some(viewer) = ctx.viewer_opt() else {
            return Ok(false);
        };
        let key = SavedBy {
            user_id: viewer.id(),
            gig_id: self.0.id,
        };
        Ok(ctx.loader().load_one(key).await.map_err(shared_error)?.unwrap_or(false))
    }
    /// When the gig was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When the gig, its packages or its media last changed (UTC).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When the gig first went ACTIVE (UTC); null while it never has. `gigs` sorts NEWEST by it.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
}
