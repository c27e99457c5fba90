//! Gig operations and their rules.

use chrono::Utc;
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{self, After, Filter, GigPatch, GigRow, Listed, MediaRow, NewGig, PackageRow, Sort};
use crate::{
    error::{AppError, AppResult, FieldErrors},
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

/// Package tiers, cheapest first.
pub const TIERS: [&str; 3] = ["BASIC", "STANDARD", "PREMIUM"];

/// A package as given by the owner.
#[derive(Debug, Clone)]
pub struct PackageInput {
    pub tier: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub delivery_days: i32,
    pub revisions: i32,
}

/// Checks a package set: one to three distinct tiers including BASIC, prices not falling
/// with the tier, each field in range.
pub fn validate_packages(gig_id: Uuid, packages: Vec<PackageInput>, errors: &mut FieldErrors) -> Vec<PackageRow> {
    if packages.is_empty() || packages.len() > 3 {
        errors.add("packages", "must have one to three packages");
    }
    let mut tiers: Vec<&str> = packages.iter().map(|p| p.tier.as_str()).collect();
    tiers.sort();
    tiers.dedup();
    if tiers.len() != packages.len() {
        errors.add("packages", "must not repeat a tier");
    }
    if !packages.is_empty() && !packages.iter().any(|p| p.tier == "BASIC") {
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
    rows.sort_by_key(|p| TIERS.iter().position(|t| *t == p.tier));
    if rows.windows(2).any(|w| w[1].price_cents < w[0].price_cents) {
        errors.add("packages", "a higher tier must not cost less than a lower one");
    }
    rows
}

fn price_and_days(packages: &[PackageRow]) -> (i64, i32) {
    (
        packages.iter().map(|p| p.price_cents).min().unwrap_or(0),
        packages.iter().map(|p| p.delivery_days).min().unwrap_or(1),
    )
}

/// What `createGig` takes.
pub struct GigInput {
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub currency: String,
    pub packages: Vec<PackageInput>,
}

/// Creates a DRAFT gig with its packages.
pub async fn create(app: &AppState, owner: &UserRow, input: GigInput) -> AppResult<GigRow> {
    let mut errors = FieldErrors::new();
    let id = Uuid::now_v7();
    let title = validation::text("title", &input.title, TITLE.0, TITLE.1, false, &mut errors);
    let description = validation::text(
        "description",
        &input.description,
        DESCRIPTION.0,
        DESCRIPTION.1,
        true,
        &mut errors,
    );
    let category = validation::text("category", &input.category, CATEGORY.0, CATEGORY.1, false, &mut errors);
    let tags = validation::tags("tags", input.tags, TAGS_MAX, TAG_MAX, &mut errors);
    let currency = validation::currency("currency", &input.currency, &mut errors);
    let packages = validate_packages(id, input.packages, &mut errors);
    errors.into_result()?;
    let (min_price_cents, min_delivery_days) = price_and_days(&packages);
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let gig = model::insert(
            conn,
            &NewGig {
                id,
                owner_id: owner.id,
                title: &title,
                description: &description,
                category: &category,
                tags: &tags,
                currency: &currency,
                min_price_cents,
                min_delivery_days,
            },
        )
        .await?;
        model::replace_packages(conn, id, &packages).await?;
        Ok(gig)
    })
    .await
}

/// What `updateGig` changes; `None` leaves a field as it is.
#[derive(Default)]
pub struct GigChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub currency: Option<String>,
    pub packages: Option<Vec<PackageInput>>,
}

fn not_found() -> AppError {
    AppError::not_found("Gig")
}

/// The gig, locked, if the viewer owns it: others learn only that it is not theirs to change.
async fn owned(conn: &mut diesel_async::AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<GigRow> {
    let gig = model::lock(conn, id).await?.ok_or_else(not_found)?;
    if gig.owner_id != viewer.id {
        return Err(if gig.status == "ACTIVE" {
            AppError::Forbidden("Only the gig's owner can change it.".into())
        } else {
            not_found()
        });
    }
    Ok(gig)
}

/// Updates the viewer's gig.
pub async fn update(app: &AppState, viewer: &UserRow, id: Uuid, changes: GigChanges) -> AppResult<GigRow> {
    let mut errors = FieldErrors::new();
    let mut patch = GigPatch {
        updated_at: Some(Utc::now()),
        ..Default::default()
    };
    if let Some(title) = changes.title {
        patch.title = Some(validation::text("title", &title, TITLE.0, TITLE.1, false, &mut errors));
    }
    if let Some(description) = changes.description {
        patch.description = Some(validation::text(
            "description",
            &description,
            DESCRIPTION.0,
            DESCRIPTION.1,
            true,
            &mut errors,
        ));
    }
    if let Some(category) = changes.category {
        patch.category = Some(validation::text(
            "category",
            &category,
            CATEGORY.0,
            CATEGORY.1,
            false,
            &mut errors,
        ));
    }
    if let Some(tags) = changes.tags {
        patch.tags = Some(validation::tags("tags", tags, TAGS_MAX, TAG_MAX, &mut errors));
    }
    if let Some(currency) = changes.currency {
        patch.currency = Some(validation::currency("currency", &currency, &mut errors));
    }
    let packages = changes.packages.map(|p| validate_packages(id, p, &mut errors));
    errors.into_result()?;
    if let Some(packages) = &packages {
        let (price, days) = price_and_days(packages);
        patch.min_price_cents = Some(price);
        patch.min_delivery_days = Some(days);
    }
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
pub fn transition_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("DRAFT", "ACTIVE")
            | ("ACTIVE", "PAUSED")
            | ("PAUSED", "ACTIVE")
            | ("DRAFT" | "ACTIVE" | "PAUSED", "ARCHIVED")
            | ("ARCHIVED", "DRAFT")
    )
}

/// Moves the viewer's gig to `status`.
pub async fn set_status(app: &AppState, viewer: &UserRow, id: Uuid, status: &str) -> AppResult<GigRow> {
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let gig = owned(conn, viewer, id).await?;
        if gig.status == status {
            return Ok(gig);
        }
        if !transition_allowed(&gig.status, status) {
            return Err(AppError::Conflict(format!(
                "A {} gig cannot become {status}.",
                gig.status
            )));
        }
        let now = Utc::now();
        let patch = GigPatch {
            status: Some(status.to_owned()),
            published_at: (status == "ACTIVE" && gig.published_at.is_none()).then_some(Some(now)),
            updated_at: Some(now),
            ..Default::default()
        };
        Ok(model::update(conn, id, &patch).await?)
    })
    .await
}

/// Whether `viewer` may see `gig` of `owner`.
pub fn visible(gig: &GigRow, owner: &UserRow, viewer: Option<&UserRow>) -> bool {
    let privileged = viewer.is_some_and(|v| v.id == gig.owner_id || v.is_admin);
    privileged || (gig.status == "ACTIVE" && !owner.is_banned())
}

/// A gig with its owner, and with `with_packages` its packages (cheapest first, read on the
/// same connection), if the viewer may see it; counts the view when it is someone else's.
pub async fn get(
    app: &AppState,
    viewer: Option<&UserRow>,
    id: Uuid,
    with_packages: bool,
) -> AppResult<Option<(GigRow, UserRow, Option<Vec<PackageRow>>)>> {
    let mut conn = app.db.conn().await?;
    let Some((gig, owner)) = model::find_with_owner(&mut conn, id).await? else {
        return Ok(None);
    };
    if !visible(&gig, &owner, viewer) {
        return Ok(None);
    }
    let packages = if with_packages {
        Some(model::packages_of(&mut conn, &[gig.id]).await?)
    } else {
        None
    };
    drop(conn);
    if viewer.is_none_or(|v| v.id != gig.owner_id) {
        app.gig_views.record(gig.id);
    }
    Ok(Some((gig, owner, packages)))
}

/// A page of gigs and whether more follow, on the caller's connection (a page and its
/// relations share one pool checkout).
pub async fn list(
    conn: &mut diesel_async::AsyncPgConnection,
    filter: &Filter,
    sort: Sort,
    after: Option<&After>,
    size: usize,
) -> AppResult<(Vec<Listed>, bool)> {
    let rows = model::page(conn, filter, sort, after, size as i64 + 1).await?;
    let (rows, more) = crate::db::page::split_page(rows, size);
    Ok((rows, more))
}

pub async fn count(conn: &mut diesel_async::AsyncPgConnection, filter: &Filter) -> AppResult<i64> {
    Ok(model::count(conn, filter).await?)
}

/// Saves (or with `saved = false`, unsaves) a gig the viewer can see.
pub async fn set_saved(app: &AppState, viewer: &UserRow, id: Uuid, saved: bool) -> AppResult<(GigRow, UserRow)> {
    let mut conn = app.db.conn().await?;
    let (gig, owner) = model::find_with_owner(&mut conn, id).await?.ok_or_else(not_found)?;
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
            tier: tier.into(),
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
        assert_eq!(rows.iter().map(|r| r.tier.as_str()).collect::<Vec<_>>(), TIERS);
        assert_eq!(price_and_days(&rows), (1000, 3));

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
    fn status_transitions() {
        assert!(transition_allowed("DRAFT", "ACTIVE"));
        assert!(transition_allowed("ACTIVE", "PAUSED"));
        assert!(transition_allowed("PAUSED", "ARCHIVED"));
        assert!(transition_allowed("ARCHIVED", "DRAFT"));
        assert!(!transition_allowed("ARCHIVED", "ACTIVE"));
        assert!(!transition_allowed("DRAFT", "PAUSED"));
    }
}
