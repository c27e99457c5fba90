//! Gigs over GraphQL.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, SimpleObject, Upload, ID,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    loaders::{group_packages, MediaOf, PackagesOf, SavedBy},
    model::{self, After, Filter, GigRow, Listed, PackageRow, Sort},
    service::{self, GigChanges, GigInput, PackageInput},
};
use crate::{
    error::AppError,
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{decode_cursor, encode_cursor, page_size, wants_total, Total},
        types::parse_id,
    },
    profile::{graphql::User, loaders::UserById, model::UserRow},
};

/// Where a gig is in its life. Only ACTIVE gigs are public; the owner sees theirs in every
/// status. Moves DRAFT → ACTIVE ⇄ PAUSED, and any status → ARCHIVED → DRAFT (`setGigStatus`).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum GigStatus {
    /// Being written; visible to the owner only. New gigs start here.
    Draft,
    /// Published: listed in `gigs` and open to orders.
    Active,
    /// Temporarily hidden from the catalogue and closed to orders; can go ACTIVE again.
    Paused,
    /// Retired; can only go back to DRAFT.
    Archived,
}

impl GigStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Active => "ACTIVE",
            Self::Paused => "PAUSED",
            Self::Archived => "ARCHIVED",
        }
    }

    fn from_db(s: &str) -> Self {
        match s {
            "ACTIVE" => Self::Active,
            "PAUSED" => Self::Paused,
            "ARCHIVED" => Self::Archived,
            _ => Self::Draft,
        }
    }
}

/// The tier of a gig's package. Every gig has a BASIC package; a higher tier never costs
/// less than a lower one.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PackageTier {
    /// The entry package; every gig has one.
    Basic,
    /// The middle package, optional.
    Standard,
    /// The most complete package, optional.
    Premium,
}

impl PackageTier {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Basic => "BASIC",
            Self::Standard => "STANDARD",
            Self::Premium => "PREMIUM",
        }
    }

    pub fn from_db(s: &str) -> Self {
        match s {
            "STANDARD" => Self::Standard,
            "PREMIUM" => Self::Premium,
            _ => Self::Basic,
        }
    }
}

/// How a gig list is ordered.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum GigSort {
    /// Most recently published first.
    #[default]
    Newest,
    /// Cheapest starting price first.
    PriceLow,
    /// Dearest starting price first.
    PriceHigh,
    /// Best rated first.
    Rating,
    /// Best match for `filter.search` first (newest without a search).
    Relevance,
}

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
        PackageTier::from_db(&self.0.tier)
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
    /// Where the gig is in its life; only ACTIVE gigs are public.
    async fn status(&self) -> GigStatus {
        GigStatus::from_db(&self.0.status)
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
        let row = ctx
            .loader()
            .load_one(UserById(self.0.owner_id))
            .await
            .map_err(shared_error)?;
        Ok(row.map(User::new))
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

/// What a gig list is narrowed to. Every condition given must hold; bad values answer
/// `VALIDATION_ERROR` naming `filter.<field>`.
#[derive(InputObject, Default)]
pub struct GigFilter {
    /// Words to find in title, tags and description, up to 200 characters (web search syntax:
    /// "quoted phrase", -not).
    pub search: Option<String>,
    /// Only gigs in exactly this category (case-sensitive).
    pub category: Option<String>,
    /// Gigs carrying all of these tags, exactly as written (at most 10).
    pub tags: Option<Vec<String>>,
    /// Starting price at least this, in minor units (not converted between currencies).
    pub price_min: Option<i64>,
    /// Starting price at most this, in minor units; not below `priceMin`.
    pub price_max: Option<i64>,
    /// Some package delivers within this many days (at least 1).
    pub max_delivery_days: Option<i32>,
    /// Average rating at least this, 0 to 5; gigs without reviews are left out.
    pub min_rating: Option<f64>,
}

/// Where an edge sits in its list. Kept as values and encoded only if the client selects
/// `cursor`: a feed that asks for nodes alone formats no dates and no base64.
pub enum GigCursor {
    /// A gig list's sort key (`After` is exactly what a next page starts from).
    Key(After),
    /// `savedGigs`: when the gig was saved.
    Saved(DateTime<Utc>),
}

impl async_graphql::connection::CursorType for GigCursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        decode_after(s).map(Self::Key).map_err(|e| e.public_message())
    }

    fn encode_cursor(&self) -> String {
        let key = match self {
            Self::Key(After::Newest(at, id)) => format!("n|{}|{id}", at.to_rfc3339()),
            Self::Key(After::Price(price, id)) => format!("p|{price}|{id}"),
            Self::Key(After::Rating(rating, id)) => format!("r|{rating}|{id}"),
            Self::Key(After::Relevance(rank, id)) => format!("s|{rank}|{id}"),
            Self::Saved(at) => at.to_rfc3339(),
        };
        encode_cursor(&key)
    }
}

fn cursor_of(sort: Sort, own_list: bool, listed: &Listed) -> GigCursor {
    let g = &listed.gig;
    GigCursor::Key(match sort {
        // An owner's own list is ordered by creation, the public one by publication.
        Sort::Newest if own_list => After::Newest(g.created_at, g.id),
        Sort::Newest => After::Newest(g.published_at.unwrap_or(g.created_at), g.id),
        Sort::PriceLow | Sort::PriceHigh => After::Price(g.min_price_cents, g.id),
        Sort::Rating => After::Rating(g.rating_average.unwrap_or(0.0), g.id),
        Sort::Relevance => After::Relevance(listed.rank, g.id),
    })
}

fn decode_after(cursor: &str) -> Result<After, AppError> {
    let bad = || AppError::field("after", "is not a cursor from this list");
    let key = decode_cursor(cursor, "after")?;
    let mut parts = key.splitn(3, '|');
    let (Some(kind), Some(value), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok(match kind {
        "n" => After::Newest(
            DateTime::parse_from_rfc3339(value)
                .map_err(|_| bad())?
                .with_timezone(&Utc),
            id,
        ),
        "p" => After::Price(value.parse().map_err(|_| bad())?, id),
        "r" => After::Rating(value.parse().map_err(|_| bad())?, id),
        "s" => After::Relevance(value.parse().map_err(|_| bad())?, id),
        _ => return Err(bad()),
    })
}

fn to_sort(sort: GigSort, has_search: bool) -> Sort {
    match sort {
        GigSort::Newest => Sort::Newest,
        GigSort::PriceLow => Sort::PriceLow,
        GigSort::PriceHigh => Sort::PriceHigh,
        GigSort::Rating => Sort::Rating,
        GigSort::Relevance if has_search => Sort::Relevance,
        GigSort::Relevance => Sort::Newest,
    }
}

fn to_filter(filter: Option<GigFilter>) -> Result<Filter, AppError> {
    let filter = filter.unwrap_or_default();
    let mut errors = crate::error::FieldErrors::new();
    let search = filter.search.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.chars().count() > 200) {
        errors.add("filter.search", "must be at most 200 characters");
    }
    let tags = filter.tags.unwrap_or_default();
    if tags.len() > 10 {
        errors.add("filter.tags", "must have at most 10 entries");
    }
    if filter.price_min.is_some_and(|p| p < 0) {
        errors.add("filter.priceMin", "must not be negative");
    }
    if let (Some(min), Some(max)) = (filter.price_min, filter.price_max) {
        if max < min {
            errors.add("filter.priceMax", "must not be below priceMin");
        }
    }
    if filter.max_delivery_days.is_some_and(|d| d < 1) {
        errors.add("filter.maxDeliveryDays", "must be at least 1");
    }
    if filter.min_rating.is_some_and(|r| !(0.0..=5.0).contains(&r)) {
        errors.add("filter.minRating", "must be between 0 and 5");
    }
    errors.into_result()?;
    Ok(Filter {
        search,
        category: filter.category.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        tags: tags
            .into_iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        price_min: filter.price_min,
        price_max: filter.price_max,
        max_delivery_days: filter.max_delivery_days,
        min_rating: filter.min_rating,
        owner: None,
        status: None,
    })
}

/// Runs a page query and primes the request's loader with the owners it joined and, when
/// the client asked for them, the packages of the page (one more statement for all). Page,
/// count and packages share one pool checkout.
async fn gig_page(
    ctx: &Context<'_>,
    filter: Filter,
    sort: Sort,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<Connection<GigCursor, Gig, Total, EmptyFields>> {
    let app = ctx.app();
    let size = page_size(first, app.config.limits.max_page_size)?;
    let after_key = after.as_deref().map(decode_after).transpose()?;
    let wants_packages = ctx.look_ahead().field("edges").field("node").field("packages").exists();
    let mut conn = app.db.conn().await.map_err(AppError::from)?;
    let (rows, more) = service::list(&mut conn, &filter, sort, after_key.as_ref(), size).await?;
    let total = if wants_total(ctx) {
        service::count(&mut conn, &filter).await?
    } else {
        0
    };
    let packages = if wants_packages && !rows.is_empty() {
        let ids: Vec<Uuid> = rows.iter().map(|l| l.gig.id).collect();
        let packages = model::packages_of(&mut conn, &ids).await.map_err(AppError::from)?;
        Some(group_packages(&ids, packages))
    } else {
        None
    };
    drop(conn);

    let own_list = filter.owner.is_some();
    let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
    let mut owners = Vec::with_capacity(rows.len());
    connection.edges.extend(rows.into_iter().map(|listed| {
        let cursor = cursor_of(sort, own_list, &listed);
        owners.push((UserById(listed.owner.id), Arc::new(listed.owner)));
        Edge::new(cursor, Gig(Arc::new(listed.gig)))
    }));
    let loader = ctx.loader();
    loader.feed_many(owners).await;
    if let Some(packages) = packages {
        loader.feed_many(packages).await;
    }
    Ok(connection)
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
        Ok(Some(Gig(Arc::new(gig))))
    }

    /// The public catalogue: ACTIVE gigs of members who are not banned. No sign-in needed.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn gigs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to narrow the catalogue to; every active gig when omitted.")] filter: Option<GigFilter>,
        #[graphql(desc = "The order; NEWEST when omitted. A cursor only works with the sort it came from.")]
        sort: Option<GigSort>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<GigCursor, Gig, Total, EmptyFields>> {
        let filter = to_filter(filter)?;
        let sort = to_sort(sort.unwrap_or_default(), filter.search.is_some());
        gig_page(ctx, filter, sort, first, after).await
    }

    /// Your gigs in every status (or one), most recently created first. Signed in.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn my_gigs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only gigs in this status; all when omitted.")] status: Option<GigStatus>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<GigCursor, Gig, Total, EmptyFields>> {
        let viewer = ctx.viewer()?.id();
        let filter = Filter {
            owner: Some(viewer),
            status: status.map(|s| s.as_db().to_owned()),
            ..Default::default()
        };
        gig_page(ctx, filter, Sort::Newest, first, after).await
    }

    /// Gigs you saved (`saveGig`), most recently saved first; gigs you may no longer see
    /// (paused, archived, owner banned) are left out of the page. Signed in.
    #[graphql(complexity = "first.unwrap_or(20).max(1) as usize * child_complexity")]
    async fn saved_gigs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<GigCursor, Gig, Total, EmptyFields>> {
        let viewer = ctx.viewer()?;
        let app = ctx.app();
        let size = page_size(first, app.config.limits.max_page_size)?;
        let before = after
            .as_deref()
            .map(|c| {
                decode_cursor(c, "after").and_then(|key| {
                    DateTime::parse_from_rfc3339(&key)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|_| AppError::field("after", "is not a cursor from this list"))
                })
            })
            .transpose()?;
        let mut conn = app.db.conn().await.map_err(AppError::from)?;
        let rows = model::saved_page(&mut conn, viewer.id(), before, size as i64 + 1)
            .await
            .map_err(AppError::from)?;
        let total = if wants_total(ctx) {
            model::saved_count(&mut conn, viewer.id())
                .await
                .map_err(AppError::from)?
        } else {
            0
        };
        drop(conn);
        let (mut rows, more) = crate::graphql::pagination::split_page(rows, size);
        let viewer_ref = Some(viewer.user.as_ref());
        rows.retain(|(_, gig, owner)| service::visible(gig, owner, viewer_ref));
        ctx.loader()
            .feed_many(
                rows.iter()
                    .map(|(_, _, owner)| (UserById(owner.id), Arc::new(owner.clone()))),
            )
            .await;
        let mut connection = Connection::with_additional_fields(after.is_some(), more, Total { total_count: total });
        connection.edges.extend(
            rows.into_iter()
                .map(|(saved_at, gig, _)| Edge::new(GigCursor::Saved(saved_at), Gig(Arc::new(gig)))),
        );
        Ok(connection)
    }
}

/// One package of a gig, as the owner gives it. Errors name `packages.<index>.<field>`.
#[derive(InputObject)]
pub struct GigPackageInput {
    /// The tier; each tier at most once per gig, and BASIC always present.
    pub tier: PackageTier,
    /// Short name of the package, 3 to 80 characters.
    pub title: String,
    /// What the package includes, up to 1,000 characters; empty by default.
    #[graphql(default)]
    pub description: String,
    /// Price in minor units of the gig's currency, 500 (5.00) to 100,000,000; a higher tier
    /// must not cost less than a lower one.
    pub price_cents: i64,
    /// Days from the start of work to delivery, 1 to 365.
    pub delivery_days: i32,
    /// Revisions the buyer may request, 0 to 100; 0 by default.
    #[graphql(default)]
    pub revisions: i32,
}

impl From<GigPackageInput> for PackageInput {
    fn from(p: GigPackageInput) -> Self {
        PackageInput {
            tier: p.tier.as_db().to_owned(),
            title: p.title,
            description: p.description,
            price_cents: p.price_cents,
            delivery_days: p.delivery_days,
            revisions: p.revisions,
        }
    }
}

/// A new gig. Every invalid field is named in one `VALIDATION_ERROR`.
#[derive(InputObject)]
pub struct CreateGigInput {
    /// 10 to 120 characters.
    pub title: String,
    /// 30 to 10,000 characters; line breaks kept.
    pub description: String,
    /// Free-text category, 2 to 60 characters, e.g. `Web development`.
    pub category: String,
    /// Up to 10 tags of at most 30 characters; trimmed, blanks and duplicates (ignoring case)
    /// dropped. None by default.
    #[graphql(default)]
    pub tags: Vec<String>,
    /// ISO 4217 code of the package prices (upper-cased); USD by default.
    #[graphql(default_with = "String::from(\"USD\")")]
    pub currency: String,
    /// One to three packages with distinct tiers, one of them BASIC.
    pub packages: Vec<GigPackageInput>,
}

/// Changes to a gig; omitted fields stay as they are. Same rules as `CreateGigInput`.
#[derive(InputObject, Default)]
pub struct UpdateGigInput {
    /// 10 to 120 characters.
    pub title: Option<String>,
    /// 30 to 10,000 characters.
    pub description: Option<String>,
    /// 2 to 60 characters.
    pub category: Option<String>,
    /// Replaces the tags: up to 10 of at most 30 characters.
    pub tags: Option<Vec<String>>,
    /// ISO 4217 code of the package prices; the amounts are not converted.
    pub currency: Option<String>,
    /// Replaces all packages: one to three with distinct tiers, one of them BASIC.
    pub packages: Option<Vec<GigPackageInput>>,
}

#[derive(Default)]
pub struct GigMutation;

fn owner_row<'a>(ctx: &'a Context<'_>) -> Result<&'a UserRow, AppError> {
    Ok(ctx.viewer()?.user.as_ref())
}

#[Object]
impl GigMutation {
    /// Creates a gig as a DRAFT owned by you; `setGigStatus(ACTIVE)` publishes it.
    /// `VALIDATION_ERROR` names each bad field.
    async fn create_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig and its packages.")] input: CreateGigInput,
    ) -> async_graphql::Result<Gig> {
        let owner = owner_row(ctx)?;
        let gig = service::create(
            ctx.app(),
            owner,
            GigInput {
                title: input.title,
                description: input.description,
                category: input.category,
                tags: input.tags,
                currency: input.currency,
                packages: input.packages.into_iter().map(Into::into).collect(),
            },
        )
        .await?;
        Ok(Gig(Arc::new(gig)))
    }

    /// Changes your gig in any status. `NOT_FOUND` when it does not exist or is someone
    /// else's unpublished gig; `FORBIDDEN` for someone else's ACTIVE gig.
    async fn update_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
        #[graphql(desc = "The fields to change.")] input: UpdateGigInput,
    ) -> async_graphql::Result<Gig> {
        let viewer = owner_row(ctx)?;
        let id = parse_id(&id, "id")?;
        let changes = GigChanges {
            title: input.title,
            description: input.description,
            category: input.category,
            tags: input.tags,
            currency: input.currency,
            packages: input.packages.map(|p| p.into_iter().map(Into::into).collect()),
        };
        Ok(Gig(Arc::new(service::update(ctx.app(), viewer, id, changes).await?)))
    }

    /// Deletes your gig with its packages and media files, for good; returns its id. Same
    /// errors as `updateGig`.
    async fn delete_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
    ) -> async_graphql::Result<ID> {
        let viewer = owner_row(ctx)?;
        let gig_id = parse_id(&id, "id")?;
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
        let viewer = owner_row(ctx)?;
        let id = parse_id(&id, "id")?;
        Ok(Gig(Arc::new(
            service::set_status(ctx.app(), viewer, id, status.as_db()).await?,
        )))
    }

    /// Saves a gig you can see to your list (`savedGigs`); saving again changes nothing.
    /// `NOT_FOUND` when you cannot see it.
    async fn save_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
    ) -> async_graphql::Result<Gig> {
        let viewer = owner_row(ctx)?;
        let id = parse_id(&id, "id")?;
        let (gig, owner) = service::set_saved(ctx.app(), viewer, id, true).await?;
        ctx.loader().feed_one(UserById(owner.id), Arc::new(owner)).await;
        Ok(Gig(Arc::new(gig)))
    }

    /// Removes a gig from your list (nothing happens if it was not there). `NOT_FOUND` when
    /// you cannot see the gig.
    async fn unsave_gig(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`.")] id: ID,
    ) -> async_graphql::Result<Gig> {
        let viewer = owner_row(ctx)?;
        let id = parse_id(&id, "id")?;
        let (gig, owner) = service::set_saved(ctx.app(), viewer, id, false).await?;
        ctx.loader().feed_one(UserById(owner.id), Arc::new(owner)).await;
        Ok(Gig(Arc::new(gig)))
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
        let viewer = owner_row(ctx)?;
        let gig_id = parse_id(&gig_id, "gigId")?;
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::field("file", "is missing from the request"))?;
        Ok(Gig(Arc::new(
            service::add_media(ctx.app(), viewer, gig_id, upload.content).await?,
        )))
    }

    /// Removes a media file from your gig and deletes the file; returns the gig.
    async fn remove_gig_media(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The `GigMedia.id` to remove.")] media_id: ID,
    ) -> async_graphql::Result<Gig> {
        let viewer = owner_row(ctx)?;
        let media_id = parse_id(&media_id, "mediaId")?;
        Ok(Gig(Arc::new(service::remove_media(ctx.app(), viewer, media_id).await?)))
    }
}
