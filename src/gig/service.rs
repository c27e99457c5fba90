//! Gig operations and their rules.
//!
//! The inputs below are also the GraphQL input objects (`CreateGigInput`, `UpdateGigInput`,
//! `GigPackageInput`, `GigFilter`): one type per concept, checked here, so no layer keeps a
//! mirror of them.

use std::collections::HashMap;

use async_graphql::InputObject;
use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

use super::model::{
    self, After, Filter, GigPatch, GigRow, GigStatus, Listed, MediaRow, NewGig, PackageRow, PackageTier, Sort,
};
use crate::{
    admin::model::{self as audit, HoldTarget},
    db::page::{Page, PageRequest},
    error::{AppError, AppResult, FieldErrors},
    notification::service::{self as notification, Kind},
    profile::model::UserRow,
    state::AppState,
    validation,
};

const TITLE: (usize, usize) = (10, 120);
const DESCRIPTION: (usize, usize) = (30, 10_000);
const CATEGORY: (usize, usize) = (2, 60);
const TAGS_MAX: usize = 10;
const TAG_MAX: usize = 30;
const PACKAGE_TITLE: (usize, usize) = (3, 80);
const PACKAGE_DESCRIPTION_MAX: usize = 1000;
/// Cheapest package: 5.00 in the gig's currency.
const PRICE_MIN_CENTS: i64 = 500;
const PRICE_MAX_CENTS: i64 = 100_000_000;
const MEDIA_MAX: i64 = 10;
const MEDIA_TYPES: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
    ("video/mp4", "mp4"),
];
const SEARCH_MAX: usize = 200;

/// One package of a gig, as the owner gives it. Errors name `packages.<index>.<field>`.
#[derive(Debug, Clone, InputObject)]
#[graphql(name = "GigPackageInput")]
pub struct PackageInput {
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

/// Checks a package set: one to three distinct tiers including BASIC, prices not falling
/// with the tier, each field in range.
pub fn validate_packages(gig_id: Uuid, packages: Vec<PackageInput>, errors: &mut FieldErrors) -> Vec<PackageRow> {
    if packages.is_empty() || packages.len() > 3 {
        errors.add("packages", "must have one to three packages");
    }
    let mut tiers: Vec<PackageTier> = packages.iter().map(|p| p.tier).collect();
    tiers.sort();
    tiers.dedup();
    if tiers.len() != packages.len() {
        errors.add("packages", "must not repeat a tier");
    }
    if !packages.is_empty() && !tiers.contains(&PackageTier::Basic) {
        errors.add("packages", "must include a BASIC package");
    }
    let mut rows: Vec<PackageRow> = packages
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let field = |name: &str| format!("packages.{i}.{name}");
            let title = validation::text(
                &field("title"),
                &p.title,
                PACKAGE_TITLE.0,
                PACKAGE_TITLE.1,
                false,
                errors,
            );
            let description = validation::text(
                &field("description"),
                &p.description,
                0,
                PACKAGE_DESCRIPTION_MAX,
                true,
                errors,
            );
            if !(PRICE_MIN_CENTS..=PRICE_MAX_CENTS).contains(&p.price_cents) {
                errors.add(
                    field("priceCents"),
                    format!("must be between {PRICE_MIN_CENTS} and {PRICE_MAX_CENTS}"),
                );
            }
            if !(1..=365).contains(&p.delivery_days) {
                errors.add(field("deliveryDays"), "must be between 1 and 365");
            }
            if !(0..=100).contains(&p.revisions) {
                errors.add(field("revisions"), "must be between 0 and 100");
            }
            PackageRow {
                gig_id,
                tier: p.tier,
                title,
                description,
                price_cents: p.price_cents,
                delivery_days: p.delivery_days,
                revisions: p.revisions,
            }
        })
        .collect();
    rows.sort_by_key(|p| p.tier);
    if rows.windows(2).any(|w| w[1].price_cents < w[0].price_cents) {
        errors.add("packages", "a higher tier must not cost less than a lower one");
    }
    rows
}

/// A new gig. Every invalid field is named in one `VALIDATION_ERROR`.
#[derive(InputObject)]
#[graphql(name = "CreateGigInput")]
pub struct GigInput {
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
    pub packages: Vec<PackageInput>,
    /// A deposit that bookings (`requestBooking`) of the gig pay first, as a share of the
    /// package price in basis points: 1 to 9,999 (2500 = 25%); 0 or omitted: bookings are
    /// paid at once. The deposit is rounded half up and kept so that deposit and balance are
    /// each at least one cent. Direct orders (`orderGig`) are always paid at once.
    #[graphql(default)]
    pub booking_deposit_bps: i32,
}

/// Changes to a gig; omitted fields stay as they are. Same rules as `CreateGigInput`.
#[derive(Default, InputObject)]
#[graphql(name = "UpdateGigInput")]
pub struct GigChanges {
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
    pub packages: Option<Vec<PackageInput>>,
    /// The booking deposit in basis points (1 to 9,999), or 0 to stop asking one. Bookings
    /// already requested keep the deposit fixed on them.
    pub booking_deposit_bps: Option<i32>,
}

impl From<GigInput> for GigChanges {
    fn from(input: GigInput) -> Self {
        Self {
            title: Some(input.title),
            description: Some(input.description),
            category: Some(input.category),
            tags: Some(input.tags),
            currency: Some(input.currency),
            packages: Some(input.packages),
            booking_deposit_bps: Some(input.booking_deposit_bps),
        }
    }
}

/// Checks the given fields of gig `id` into a patch (with the packages' minimum price and
/// delivery time) and the package rows; every bad field is named at once.
fn validate(id: Uuid, changes: GigChanges) -> AppResult<(GigPatch, Option<Vec<PackageRow>>)> {
    let mut errors = FieldErrors::new();
    let mut text = |field: &str, value: Option<String>, (min, max): (usize, usize), multiline: bool| {
        value.map(|v| validation::text(field, &v, min, max, multiline, &mut errors))
    };
    let mut patch = GigPatch {
        title: text("title", changes.title, TITLE, false),
        description: text("description", changes.description, DESCRIPTION, true),
        category: text("category", changes.category, CATEGORY, false),
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    patch.tags = changes
        .tags
        .map(|tags| validation::tags("tags", tags, TAGS_MAX, TAG_MAX, &mut errors));
    patch.currency = changes
        .currency
        .map(|c| validation::currency("currency", &c, &mut errors));
    let packages = changes.packages.map(|p| validate_packages(id, p, &mut errors));
    patch.booking_deposit_bps = changes.booking_deposit_bps.map(|bps| {
        if !(0..10_000).contains(&bps) {
            errors.add(
                "bookingDepositBps",
                "must be between 1 and 9999 basis points, or 0 for no deposit",
            );
        }
        Some(bps).filter(|bps| *bps > 0)
    });
    errors.into_result()?;
    if let Some(packages) = &packages {
        patch.min_price_cents = packages.iter().map(|p| p.price_cents).min();
        patch.min_delivery_days = packages.iter().map(|p| p.delivery_days).min();
    }
    Ok((patch, packages))
}

/// Creates a DRAFT gig with its packages.
pub async fn create(app: &AppState, owner: &UserRow, input: GigInput) -> AppResult<GigRow> {
    let id = Uuid::now_v7();
    let (patch, packages) = validate(id, input.into())?;
    let packages = packages.unwrap_or_default();
    let new = NewGig {
        id,
        owner_id: owner.id,
        title: patch.title.as_deref().unwrap_or_default(),
        description: patch.description.as_deref().unwrap_or_default(),
        category: patch.category.as_deref().unwrap_or_default(),
        tags: patch.tags.as_deref().unwrap_or_default(),
        currency: patch.currency.as_deref().unwrap_or_default(),
        min_price_cents: patch.min_price_cents.unwrap_or(0),
        min_delivery_days: patch.min_delivery_days.unwrap_or(1),
        booking_deposit_bps: patch.booking_deposit_bps.flatten(),
    };
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let gig = model::insert(conn, &new).await?;
        model::replace_packages(conn, id, &packages).await?;
        Ok(gig)
    })
    .await
}

fn not_found() -> AppError {
    AppError::not_found("Gig")
}

/// The gig, locked, if the viewer owns it: others learn only that it is not theirs to change.
async fn owned(conn: &mut AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<GigRow> {
    let gig = model::lock(conn, id).await?.ok_or_else(not_found)?;
    if gig.owner_id != viewer.id {
        return Err(if gig.status == GigStatus::Active {
            AppError::Forbidden("Only the gig's owner can change it.".into())
        } else {
            not_found()
        });
    }
    Ok(gig)
}

/// Updates the viewer's gig.
pub async fn update(app: &AppState, viewer: &UserRow, id: Uuid, changes: GigChanges) -> AppResult<GigRow> {
    let (patch, packages) = validate(id, changes)?;
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        owned(conn, viewer, id).await?;
        if let Some(packages) = &packages {
            model::replace_packages(conn, id, packages).await?;
        }
        Ok(model::update(conn, id, &patch).await?)
    })
    .await
}

/// Deletes the viewer's gig.
pub async fn delete(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<()> {
    let mut conn = app.db.conn().await?;
    let media = conn
        .transaction::<_, AppError, _>(async |conn| {
            owned(conn, viewer, id).await?;
            let media = model::media_of(conn, &[id]).await?;
            model::delete(conn, id).await?;
            Ok(media)
        })
        .await?;
    for item in media {
        app.storage.remove_by_url(&item.url).await;
    }
    Ok(())
}

/// Whether a gig may move from `from` to `to`.
pub fn transition_allowed(from: GigStatus, to: GigStatus) -> bool {
    use GigStatus::{Active, Archived, Draft, Paused};
    matches!(
        (from, to),
        (Draft, Active) | (Active, Paused) | (Paused, Active) | (Draft | Active | Paused, Archived) | (Archived, Draft)
    )
}

/// Moves the viewer's gig to `status`. A gig an admin deactivated cannot become ACTIVE
/// (`FORBIDDEN`, with the admin's reason).
pub async fn set_status(app: &AppState, viewer: &UserRow, id: Uuid, status: GigStatus) -> AppResult<GigRow> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let gig = owned(conn, viewer, id).await?;
        if gig.status == status {
            return Ok(gig);
        }
        if status == GigStatus::Active {
            if let Some(hold) = audit::hold_on(conn, HoldTarget::Gig, id).await? {
                return Err(AppError::Forbidden(format!(
                    "An admin deactivated this gig: {}",
                    hold.reason
                )));
            }
        }
        if !transition_allowed(gig.status, status) {
            return Err(AppError::Conflict(format!(
                "A {} gig cannot become {status}.",
                gig.status
            )));
        }
        let now = Utc::now();
        let patch = GigPatch {
            status: Some(status),
            published_at: (status == GigStatus::Active && gig.published_at.is_none()).then_some(Some(now)),
            updated_at: Some(now),
            ..Default::default()
        };
        Ok(model::update(conn, id, &patch).await?)
    })
    .await
}

/// An admin takes a gig out of the catalogue for `reason`: an ACTIVE gig is PAUSED, and
/// its owner cannot make it ACTIVE again; orders already placed go on. The owner is told,
/// and the action audit-logged, in one transaction. `CONFLICT` when already deactivated.
pub async fn deactivate(app: &AppState, admin: &UserRow, id: Uuid, reason: &str) -> AppResult<GigRow> {
    let reason = crate::validation::reason("reason", reason)?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let gig = model::lock(conn, id).await?.ok_or_else(not_found)?;
            if !audit::hold(conn, HoldTarget::Gig, id, admin.id, &reason).await? {
                return Err(AppError::Conflict("This gig is already deactivated.".into()));
            }
            let after = if gig.status == GigStatus::Active {
                let patch = GigPatch {
                    status: Some(GigStatus::Paused),
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                };
                model::update(conn, id, &patch).await?
            } else {
                gig.clone()
            };
            audit::record(
                conn,
                admin.id,
                "DEACTIVATE_GIG",
                "GIG",
                id,
                &reason,
                serde_json::json!({ "before": { "status": gig.status }, "after": { "status": after.status } }),
            )
            .await?;
            notification::notify(
                conn,
                gig.owner_id,
                Kind::GigUpdate,
                "Your gig was deactivated",
                &format!("An admin took \"{}\" out of the catalogue: {reason}", gig.title),
                serde_json::json!({ "gigId": id }),
            )
            .await?;
            Ok(after)
        })
        .await
}

/// Whether `viewer` may see `gig` of `owner`.
pub fn visible(gig: &GigRow, owner: &UserRow, viewer: Option<&UserRow>) -> bool {
    let privileged = viewer.is_some_and(|v| v.id == gig.owner_id || v.is_admin);
    privileged || (gig.status == GigStatus::Active && !owner.is_banned())
}

/// A gig with its owner, and with `with_packages` its packages (cheapest first, read on the
/// same connection), if the viewer may see it; counts the view when it is someone else's.
pub async fn get(
    app: &AppState,
    viewer: Option<&UserRow>,
    id: Uuid,
    with_packages: bool,
) -> AppResult<Option<(GigRow, UserRow, Option<Vec<PackageRow>>)>> {
    let conn = app.db.conn().await?;
    // The gig and its packages in one round trip (pipelined on the one connection); the
    // packages of a gig the viewer may not see are read and dropped.
    let packages = async {
        if with_packages {
            model::read_packages(&conn, &[id]).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (found, packages) = futures_util::try_join!(model::find_with_owner(&conn, id), packages)?;
    drop(conn);
    let Some((gig, owner)) = found else {
        return Ok(None);
    };
    if !visible(&gig, &owner, viewer) {
        return Ok(None);
    }
    if viewer.is_none_or(|v| v.id != gig.owner_id) {
        app.gig_views.record(gig.id);
    }
    Ok(Some((gig, owner, packages)))
}

/// What a gig list is narrowed to. Every condition given must hold; bad values answer
/// `VALIDATION_ERROR` naming `filter.<field>`.
#[derive(InputObject, Default)]
#[graphql(name = "GigFilter")]
pub struct FilterInput {
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

/// Checks a catalogue filter and trims it into the one the queries run with, naming every
/// bad field (`filter.<field>`).
pub fn catalogue_filter(input: Option<FilterInput>) -> AppResult<Filter> {
    let input = input.unwrap_or_default();
    let mut errors = FieldErrors::new();
    let trimmed = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let search = input.search.and_then(trimmed);
    if search.as_ref().is_some_and(|s| s.chars().count() > SEARCH_MAX) {
        errors.add("filter.search", format!("must be at most {SEARCH_MAX} characters"));
    }
    let tags = input.tags.unwrap_or_default();
    if tags.len() > TAGS_MAX {
        errors.add("filter.tags", format!("must have at most {TAGS_MAX} entries"));
    }
    if input.price_min.is_some_and(|p| p < 0) {
        errors.add("filter.priceMin", "must not be negative");
    }
    if let (Some(min), Some(max)) = (input.price_min, input.price_max) {
        if max < min {
            errors.add("filter.priceMax", "must not be below priceMin");
        }
    }
    if input.max_delivery_days.is_some_and(|d| d < 1) {
        errors.add("filter.maxDeliveryDays", "must be at least 1");
    }
    if input.min_rating.is_some_and(|r| !(0.0..=5.0).contains(&r)) {
        errors.add("filter.minRating", "must be between 0 and 5");
    }
    errors.into_result()?;
    Ok(Filter {
        search,
        category: input.category.and_then(trimmed),
        tags: tags.into_iter().filter_map(trimmed).collect(),
        price_min: input.price_min,
        price_max: input.price_max,
        max_delivery_days: input.max_delivery_days,
        min_rating: input.min_rating,
        owner: None,
        status: None,
    })
}

/// A page of a gig list with what it was read with.
pub struct Listing {
    /// The gigs with their owners.
    pub page: Page<Listed>,
    /// The order it was read in (its rows' cursors depend on it).
    pub sort: Sort,
    /// Whether it is an owner's own list (ordered by creation, not publication).
    pub own_list: bool,
    /// With `with_packages`, the packages of the page's gigs, by gig, cheapest first.
    pub packages: Option<HashMap<Uuid, Vec<PackageRow>>>,
}

/// A page of gigs: the public catalogue, or with `filter.owner` an owner's own list. The
/// page, its count (when wanted) and, with `with_packages`, the packages of all its gigs are
/// read on one pool checkout: at most three statements, whatever the page size.
pub async fn list(
    app: &AppState,
    filter: &Filter,
    sort: Sort,
    request: &PageRequest<After>,
    with_packages: bool,
) -> AppResult<Listing> {
    let sort = sort.for_search(filter.search.is_some());
    let mut conn = app.db.conn().await?;
    let page = request
        .fetch(
            &mut conn,
            async |conn, after, limit| model::page(conn, filter, sort, after, limit).await,
            async |conn| model::count(conn, filter).await,
        )
        .await?;
    let packages = if with_packages && !page.items.is_empty() {
        let ids: Vec<Uuid> = page.items.iter().map(|l| l.gig.id).collect();
        let rows = model::packages_of(&mut conn, &ids).await?;
        Some(crate::db::group_by_owner(&ids, rows, |p| p.gig_id))
    } else {
        None
    };
    Ok(Listing {
        page,
        sort,
        own_list: filter.owner.is_some(),
        packages,
    })
}

/// A page of the gigs the viewer saved, newest save first, with their owners and when each
/// was saved; gigs the viewer may no longer see are left out of the page. Its cursor is a
/// `Newest` key: the save time and the gig.
pub async fn saved(
    app: &AppState,
    viewer: &UserRow,
    request: &PageRequest<After>,
) -> AppResult<Page<(DateTime<Utc>, GigRow, UserRow)>> {
    let after = match request.after {
        None => None,
        Some(After::Newest(at, id)) => Some((at, id)),
        Some(_) => return Err(AppError::field("after", "is not a cursor from this list")),
    };
    let mut conn = app.db.conn().await?;
    let mut page = request
        .fetch(
            &mut conn,
            async |conn, _, limit| model::saved_page(conn, viewer.id, after, limit).await,
            async |conn| model::saved_count(conn, viewer.id).await,
        )
        .await?;
    page.items.retain(|(_, gig, owner)| visible(gig, owner, Some(viewer)));
    Ok(page)
}

/// Saves (or with `saved = false`, unsaves) a gig the viewer can see.
pub async fn set_saved(app: &AppState, viewer: &UserRow, id: Uuid, saved: bool) -> AppResult<(GigRow, UserRow)> {
    let mut conn = app.db.conn().await?;
    let (gig, owner) = model::find_with_owner(&conn, id).await?.ok_or_else(not_found)?;
    if !visible(&gig, &owner, Some(viewer)) {
        return Err(not_found());
    }
    if saved {
        model::save(&mut conn, viewer.id, id).await?;
    } else {
        model::unsave(&mut conn, viewer.id, id).await?;
    }
    Ok((gig, owner))
}

/// Adds an image or video to the viewer's gig.
pub async fn add_media(app: &AppState, viewer: &UserRow, gig_id: Uuid, bytes: bytes::Bytes) -> AppResult<GigRow> {
    let max = app.config.limits.upload_max_bytes;
    if bytes.is_empty() || bytes.len() > max {
        return Err(AppError::field("file", format!("must be 1 to {max} bytes")));
    }
    let kind = infer::get(&bytes).map(|k| k.mime_type());
    let Some((content_type, ext)) = MEDIA_TYPES.iter().find(|(mime, _)| Some(*mime) == kind) else {
        return Err(AppError::field(
            "file",
            "must be a PNG, JPEG, WebP or GIF image, or an MP4 video",
        ));
    };
    let mut conn = app.db.conn().await?;
    {
        let gig = model::find(&mut conn, gig_id).await?.ok_or_else(not_found)?;
        if gig.owner_id != viewer.id {
            return Err(not_found());
        }
        if model::media_count(&mut conn, gig_id).await? >= MEDIA_MAX {
            return Err(AppError::LimitExceeded(format!(
                "A gig has at most {MEDIA_MAX} media files."
            )));
        }
    }
    let stored = app.storage.put("gigs", ext, bytes).await.map_err(AppError::internal)?;
    let result = conn
        .transaction::<_, AppError, _>(async |conn| {
            owned(conn, viewer, gig_id).await?;
            let position = model::media_count(conn, gig_id).await? as i32;
            let media = MediaRow {
                id: Uuid::now_v7(),
                gig_id,
                url: stored.url.clone(),
                content_type: (*content_type).to_owned(),
                position,
                created_at: Utc::now(),
            };
            model::insert_media(conn, &media).await?;
            Ok(model::update(
                conn,
                gig_id,
                &GigPatch {
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                },
            )
            .await?)
        })
        .await;
    if result.is_err() {
        app.storage.remove_by_url(&stored.url).await;
    }
    result
}

/// Removes a media file from the viewer's gig.
pub async fn remove_media(app: &AppState, viewer: &UserRow, media_id: Uuid) -> AppResult<GigRow> {
    let mut conn = app.db.conn().await?;
    let media = model::find_media(&mut conn, media_id)
        .await?
        .ok_or_else(|| AppError::not_found("Media"))?;
    let gig = conn
        .transaction::<_, AppError, _>(async |conn| {
            owned(conn, viewer, media.gig_id).await?;
            model::delete_media(conn, media_id).await?;
            Ok(model::update(
                conn,
                media.gig_id,
                &GigPatch {
                    updated_at: Some(Utc::now()),
                    ..Default::default()
                },
            )
            .await?)
        })
        .await?;
    app.storage.remove_by_url(&media.url).await;
    Ok(gig)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(tier: &str, price: i64) -> PackageInput {
        PackageInput {
            tier: PackageTier::parse(tier).unwrap(),
            title: format!("{tier} package"),
            description: String::new(),
            price_cents: price,
            delivery_days: 3,
            revisions: 1,
        }
    }

    #[test]
    fn packages_need_basic_distinct_tiers_and_rising_prices() {
        let mut errors = FieldErrors::new();
        let rows = validate_packages(
            Uuid::nil(),
            vec![
                package("PREMIUM", 9000),
                package("BASIC", 1000),
                package("STANDARD", 5000),
            ],
            &mut errors,
        );
        assert!(errors.is_empty());
        assert_eq!(rows.iter().map(|r| r.tier).collect::<Vec<_>>(), PackageTier::ALL);

        let mut errors = FieldErrors::new();
        validate_packages(
            Uuid::nil(),
            vec![package("STANDARD", 1000), package("STANDARD", 2000)],
            &mut errors,
        );
        assert_eq!(errors.iter().count(), 1, "{errors:?}");

        let mut errors = FieldErrors::new();
        validate_packages(
            Uuid::nil(),
            vec![package("BASIC", 5000), package("PREMIUM", 1000)],
            &mut errors,
        );
        assert!(errors.iter().any(|(_, m)| m.contains("must not cost less")));

        let mut errors = FieldErrors::new();
        validate_packages(Uuid::nil(), vec![package("BASIC", 1)], &mut errors);
        assert_eq!(
            errors.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["packages.0.priceCents"]
        );
    }

    #[test]
    fn the_patch_carries_the_cheapest_and_fastest_package() {
        let mut changes = GigChanges {
            title: Some("  A title long enough  ".into()),
            packages: Some(vec![package("BASIC", 1000), package("PREMIUM", 3000)]),
            ..Default::default()
        };
        if let Some(packages) = &mut changes.packages {
            packages[1].delivery_days = 1;
        }
        let (patch, packages) = validate(Uuid::nil(), changes).unwrap();
        assert_eq!(patch.title.as_deref(), Some("A title long enough"));
        assert_eq!((patch.min_price_cents, patch.min_delivery_days), (Some(1000), Some(1)));
        assert_eq!(packages.map(|p| p.len()), Some(2));
        assert!(patch.description.is_none() && patch.tags.is_none());
    }

    #[test]
    fn status_transitions() {
        use GigStatus::{Active, Archived, Draft, Paused};
        assert!(transition_allowed(Draft, Active));
        assert!(transition_allowed(Active, Paused));
        assert!(transition_allowed(Paused, Archived));
        assert!(transition_allowed(Archived, Draft));
        assert!(!transition_allowed(Archived, Active));
        assert!(!transition_allowed(Draft, Paused));
    }

    #[test]
    fn catalogue_filters_are_trimmed_and_checked() {
        let filter = catalogue_filter(Some(FilterInput {
            search: Some("  ".into()),
            category: Some(" design ".into()),
            tags: Some(vec![" rust ".into(), " ".into()]),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(
            (filter.search, filter.category.as_deref(), filter.tags),
            (None, Some("design"), vec!["rust".to_owned()])
        );
        let err = catalogue_filter(Some(FilterInput {
            price_min: Some(500),
            price_max: Some(100),
            min_rating: Some(6.0),
            ..Default::default()
        }))
        .unwrap_err();
        let AppError::Validation(fields) = err else {
            panic!("not a validation error")
        };
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["filter.minRating", "filter.priceMax"]);
    }
}
