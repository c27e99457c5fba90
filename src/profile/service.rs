//! Profile operations and their validation rules.

use async_graphql::InputObject;
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{
    model::{self, NewUser, UserPatch, UserRow},
    ranking::{self, FreelancerFilter, Ranked},
};
use crate::{
    db::{
        self,
        page::{Page, PageRequest},
        Db,
    },
    error::{AppError, AppResult, FieldErrors},
    storage::Storage,
    validation,
};

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 30;
const FULL_NAME_MAX: usize = 100;
const BIO_MAX: usize = 2000;
const HEADLINE_MAX: usize = 120;
const TAG_LIST_MAX: usize = 30;
const TAG_MAX: usize = 50;
const PORTFOLIO_MAX: usize = 10;
const URL_MAX: usize = 500;
const LOCATION_TEXT_MAX: usize = 200;
const TRAVEL_RADIUS_MAX_KM: i32 = 500;
const HOURLY_RATE_MAX_CENTS: i64 = 10_000_000;
const RESERVED_USERNAMES: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "me",
    "support",
    "system",
    "gigmarket",
    "api",
    "graphql",
    "null",
];
/// Image types accepted as avatars, decided by content, never by the client's claim.
const AVATAR_TYPES: &[(&str, &str)] = &[
    ("image/png", "png"),
    ("image/jpeg", "jpg"),
    ("image/webp", "webp"),
    ("image/gif", "gif"),
];

/// Why `username` is not acceptable.
pub fn username_problem(username: &str) -> Option<String> {
    let len = username.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Some(format!("must be {USERNAME_MIN} to {USERNAME_MAX} characters"));
    }
    if !username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("may contain only letters, digits and underscores".into());
    }
    if RESERVED_USERNAMES.contains(&username.to_ascii_lowercase().as_str()) {
        return Some("is reserved".into());
    }
    None
}

/// Why `name` is not acceptable as a full name (already trimmed).
pub fn full_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name.chars().count() > FULL_NAME_MAX {
        return Some(format!("must be at most {FULL_NAME_MAX} characters"));
    }
    if name.chars().any(char::is_control) {
        return Some("must not contain control characters".into());
    }
    None
}

/// Changes to a profile. `None`: leave as is; `Some(None)`: clear.
///
/// It shadows the model's `UserPatch` on purpose: this is what a caller may ask, unchecked;
/// the patch is what [`validate_changes`] lets through, plus the columns only this service
/// sets (the geohash derived from the location, `updated_at`).
#[derive(Debug, Default)]
pub struct ProfileChanges {
    pub username: Option<String>,
    pub full_name: Option<String>,
    pub bio: Option<Option<String>>,
    pub headline: Option<Option<String>>,
    pub skills: Option<Vec<String>>,
    pub ai_tools: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub hourly_rate_cents: Option<Option<i64>>,
    pub currency: Option<String>,
    pub portfolio_urls: Option<Vec<String>>,
    pub location_text: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub travel_radius_km: Option<Option<i32>>,
}

fn clean_tags(field: &str, tags: Vec<String>, errors: &mut FieldErrors) -> Vec<String> {
    validation::tags(field, tags, TAG_LIST_MAX, TAG_MAX, errors)
}

fn clean_text(field: &str, text: Option<String>, max: usize, errors: &mut FieldErrors) -> Option<String> {
    validation::optional_text(field, text, max, errors)
}

fn timezone_problem(tz: &str) -> Option<String> {
    let ok = tz.len() <= 64
        && !tz.starts_with('/')
        && !tz.ends_with('/')
        && !tz.contains("..")
        && tz.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
    (!ok).then(|| "must be an IANA time zone name such as Europe/Berlin".into())
}

/// Validates `changes` into a patch; every bad field is reported at once.
pub fn validate_changes(changes: ProfileChanges) -> AppResult<UserPatch> {
    let mut errors = FieldErrors::new();
    let mut patch = UserPatch::default();

    if let Some(username) = changes.username {
        let username = username.trim().to_owned();
        if let Some(problem) = username_problem(&username) {
            errors.add("username", problem);
        }
        patch.username = Some(username);
    }
    if let Some(name) = changes.full_name {
        let name = name.trim().to_owned();
        if let Some(problem) = full_name_problem(&name) {
            errors.add("fullName", problem);
        }
        patch.full_name = Some(name);
    }
    if let Some(bio) = changes.bio {
        patch.bio = Some(clean_text("bio", bio, BIO_MAX, &mut errors));
    }
    if let Some(headline) = changes.headline {
        patch.headline = Some(clean_text("headline", headline, HEADLINE_MAX, &mut errors));
    }
    if let Some(skills) = changes.skills {
        patch.skills = Some(clean_tags("skills", skills, &mut errors));
    }
    if let Some(tools) = changes.ai_tools {
        patch.ai_tools = Some(clean_tags("aiTools", tools, &mut errors));
    }
    if let Some(languages) = changes.languages {
        patch.languages = Some(clean_tags("languages", languages, &mut errors));
    }
    if let Some(rate) = changes.hourly_rate_cents {
        if let Some(cents) = rate {
            if !(0..=HOURLY_RATE_MAX_CENTS).contains(&cents) {
                errors.add(
                    "hourlyRateCents",
                    format!("must be between 0 and {HOURLY_RATE_MAX_CENTS}"),
                );
            }
        }
        patch.hourly_rate_cents = Some(rate);
    }
    if let Some(currency) = changes.currency {
        patch.currency = Some(validation::currency("currency", &currency, &mut errors));
    }
    if let Some(urls) = changes.portfolio_urls {
        let urls: Vec<String> = urls
            .into_iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.len() > PORTFOLIO_MAX {
            errors.add("portfolioUrls", format!("must have at most {PORTFOLIO_MAX} entries"));
        }
        for u in &urls {
            let valid = u.len() <= URL_MAX
                && url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if !valid {
                errors.add("portfolioUrls", "each entry must be an http(s) URL");
            }
        }
        patch.portfolio_urls = Some(urls);
    }
    if let Some(text) = changes.location_text {
        patch.location_text = Some(clean_text("locationText", text, LOCATION_TEXT_MAX, &mut errors));
    }
    if let Some(tz) = changes.timezone {
        let tz = tz.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if let Some(problem) = tz.as_deref().and_then(timezone_problem) {
            errors.add("timezone", problem);
        }
        patch.timezone = Some(tz);
    }
    if let Some(radius) = changes.travel_radius_km {
        if radius.is_some_and(|r| !(0..=TRAVEL_RADIUS_MAX_KM).contains(&r)) {
            errors.add(
                "travelRadiusKm",
                format!("must be between 0 and {TRAVEL_RADIUS_MAX_KM}"),
            );
        }
        patch.travel_radius_km = Some(radius);
    }
    errors.into_result()?;
    Ok(patch)
}

/// Maps a unique violation on `users` to the conflict a person understands.
fn conflict_or_internal(e: diesel::result::Error) -> AppError {
    match db::unique_violation(&e).as_deref() {
        Some("users_email_lower_key") => AppError::Conflict("An account with this email already exists.".into()),
        Some("users_username_lower_key") => AppError::Conflict("This username is already taken.".into()),
        _ => AppError::from(e),
    }
}

/// Creates the user row of a new account (inside the caller's transaction).
pub async fn create(conn: &mut AsyncPgConnection, email: &str, username: &str, full_name: &str) -> AppResult<UserRow> {
    let new = NewUser {
        id: Uuid::now_v7(),
        email,
        username,
        full_name,
        is_admin: false,
    };
    model::insert(conn, &new).await.map_err(conflict_or_internal)
}

/// A user by id, banned ones included (callers decide visibility).
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Option<UserRow>> {
    Ok(model::find(conn, id).await?)
}

/// A user by email, ignoring case.
pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> AppResult<Option<UserRow>> {
    Ok(model::find_by_email(conn, email).await?)
}

/// A user by username, ignoring case.
pub async fn find_by_username(db: &Db, username: &str) -> AppResult<Option<UserRow>> {
    let mut conn = db.conn().await?;
    Ok(model::find_by_username(&mut conn, username).await?)
}

async fn apply(db: &Db, user_id: Uuid, mut patch: UserPatch) -> AppResult<UserRow> {
    patch.updated_at = Some(Utc::now());
    let mut conn = db.conn().await?;
    model::update(&mut conn, user_id, &patch)
        .await
        .map_err(conflict_or_internal)
}

/// Updates the viewer's profile.
pub async fn update_profile(db: &Db, user_id: Uuid, changes: ProfileChanges) -> AppResult<UserRow> {
    let patch = validate_changes(changes)?;
    apply(db, user_id, patch).await
}

/// Marks the viewer available for work or not.
pub async fn set_availability(db: &Db, user_id: Uuid, available: bool) -> AppResult<UserRow> {
    apply(
        db,
        user_id,
        UserPatch {
            is_available: Some(available),
            ..Default::default()
        },
    )
    .await
}

/// What a freelancer search is narrowed to. Every condition given must hold.
// The GraphQL input object itself: checked and lower-cased into the query's `FreelancerFilter`.
#[derive(InputObject, Default)]
#[graphql(name = "FreelancerFilter")]
pub struct FreelancerSearch {
    /// Wanted skills, ignoring case (at most 20): freelancers listing none of them are left
    /// out; more matches rank higher.
    pub skills: Option<Vec<String>>,
    /// Only freelancers who take new work now (`isAvailable`); false by default.
    #[graphql(default)]
    pub available_only: bool,
    /// Only VERIFIED freelancers; false by default.
    #[graphql(default)]
    pub verified_only: bool,
    /// Only freelancers whose `hourlyRateCents` is at most this (minor units, compared without
    /// converting currencies); freelancers without a rate are then left out.
    pub max_hourly_rate_cents: Option<i64>,
    /// Speaks any of these languages, ignoring case (at most 20).
    pub languages: Option<Vec<String>>,
}

/// At most this many skills and this many languages in a search.
const SEARCH_TERMS_MAX: usize = 20;

/// Checks a search and lower-cases its terms into the filter the ranking query runs with.
pub fn freelancer_filter(search: Option<FreelancerSearch>) -> AppResult<FreelancerFilter> {
    let search = search.unwrap_or_default();
    let lower = |terms: Option<Vec<String>>| -> Vec<String> {
        terms
            .unwrap_or_default()
            .iter()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let filter = FreelancerFilter {
        skills: lower(search.skills),
        available_only: search.available_only,
        verified_only: search.verified_only,
        max_hourly_rate_cents: search.max_hourly_rate_cents,
        languages: lower(search.languages),
    };
    if filter.skills.len() > SEARCH_TERMS_MAX || filter.languages.len() > SEARCH_TERMS_MAX {
        return Err(AppError::field("filter.skills", "at most 20 skills and 20 languages"));
    }
    Ok(filter)
}

/// A page of the freelancer search, best ranked first, each with its score.
pub async fn freelancers(
    db: &Db,
    search: Option<FreelancerSearch>,
    request: &PageRequest<(f64, Uuid)>,
) -> AppResult<Page<Ranked>> {
    let filter = freelancer_filter(search)?;
    let mut conn = db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |conn, after, limit| ranking::page(conn, &filter, after.copied(), limit).await,
            async |conn| ranking::count(conn, &filter).await,
        )
        .await?)
}

/// A page of the freelancers `user_id` saved (banned ones left out), newest save first,
/// each with when it was saved.
pub async fn saved_freelancers(
    db: &Db,
    user_id: Uuid,
    request: &PageRequest<(DateTime<Utc>, Uuid)>,
) -> AppResult<Page<(DateTime<Utc>, UserRow)>> {
    let mut conn = db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |conn, after, limit| model::saved_freelancers_page(conn, user_id, after.copied(), limit).await,
            async |conn| model::saved_freelancers_count(conn, user_id).await,
        )
        .await?)
}

/// Puts `freelancer_id` on `user_id`'s saved list (again: no change) and returns them;
/// `NOT_FOUND` when there is no such member who is not banned.
pub async fn save_freelancer(db: &Db, user_id: Uuid, freelancer_id: Uuid) -> AppResult<UserRow> {
    if freelancer_id == user_id {
        return Err(AppError::field("userId", "must be someone other than you"));
    }
    let mut conn = db.conn().await?;
    let freelancer = model::find(&mut conn, freelancer_id)
        .await?
        .filter(|u| !u.is_banned())
        .ok_or_else(|| AppError::not_found("User"))?;
    model::save_freelancer(&mut conn, user_id, freelancer_id).await?;
    Ok(freelancer)
}

/// Takes `freelancer_id` off `user_id`'s saved list (nothing happens if they were not on it).
pub async fn unsave_freelancer(db: &Db, user_id: Uuid, freelancer_id: Uuid) -> AppResult<()> {
    let mut conn = db.conn().await?;
    Ok(model::unsave_freelancer(&mut conn, user_id, freelancer_id).await?)
}

/// Validates WGS84 coordinates, naming the bad fields.
pub fn check_coordinates(lat: f64, lng: f64) -> AppResult<()> {
    let mut errors = FieldErrors::new();
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        errors.add("location.lat", "must be between -90 and 90");
    }
    if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
        errors.add("location.lng", "must be between -180 and 180");
    }
    errors.into_result()
}

/// Sets the viewer's coordinates (and optionally the place name shown with them).
pub async fn update_location(
    db: &Db,
    user_id: Uuid,
    lat: f64,
    lng: f64,
    location_text: Option<Option<String>>,
) -> AppResult<UserRow> {
    check_coordinates(lat, lng)?;
    let mut errors = FieldErrors::new();
    let text = location_text.map(|t| clean_text("locationText", t, LOCATION_TEXT_MAX, &mut errors));
    errors.into_result()?;
    let patch = UserPatch {
        latitude: Some(Some(lat)),
        longitude: Some(Some(lng)),
        geohash: Some(crate::geocell::cell_of(lat, lng, crate::geocell::POINT_PRECISION)),
        location_text: text,
        ..Default::default()
    };
    apply(db, user_id, patch).await
}

/// The extension of an accepted avatar image, judged by its bytes.
pub fn sniff_avatar(bytes: &[u8]) -> Option<&'static str> {
    let kind = infer::get(bytes)?;
    AVATAR_TYPES
        .iter()
        .find(|(mime, _)| *mime == kind.mime_type())
        .map(|(_, ext)| *ext)
}

/// Stores a new avatar for the viewer and removes the previous one.
pub async fn set_avatar(
    db: &Db,
    storage: &Storage,
    user: &UserRow,
    bytes: bytes::Bytes,
    max_bytes: usize,
) -> AppResult<UserRow> {
    if bytes.is_empty() {
        return Err(AppError::field("file", "is empty"));
    }
    if bytes.len() > max_bytes {
        return Err(AppError::field("file", format!("must be at most {max_bytes} bytes")));
    }
    let ext = sniff_avatar(&bytes).ok_or_else(|| AppError::field("file", "must be a PNG, JPEG, WebP or GIF image"))?;
    let stored = storage.put("avatars", ext, bytes).await.map_err(AppError::internal)?;
    let updated = apply(
        db,
        user.id,
        UserPatch {
            avatar_url: Some(Some(stored.url.clone())),
            ..Default::default()
        },
    )
    .await;
    match updated {
        Ok(row) => {
            if let Some(previous) = user.avatar_url.as_deref() {
                storage.remove_by_url(previous).await;
            }
            Ok(row)
        }
        Err(e) => {
            // The row did not change: the new file is an orphan.
            storage.remove_by_url(&stored.url).await;
            Err(e)
        }
    }
}

/// Longest search text of the admins' member list.
pub const MEMBER_SEARCH_MAX: usize = 200;

/// A page of members for admins, newest first, narrowed by `filter` (banned ones included
/// unless filtered out). `VALIDATION_ERROR` on `filter.search` when it is longer than
/// [`MEMBER_SEARCH_MAX`].
pub async fn members(db: &Db, filter: &model::MemberFilter, request: &PageRequest<Uuid>) -> AppResult<Page<UserRow>> {
    if filter
        .search
        .as_ref()
        .is_some_and(|s| s.chars().count() > MEMBER_SEARCH_MAX)
    {
        return Err(AppError::field(
            "filter.search",
            format!("must be at most {MEMBER_SEARCH_MAX} characters"),
        ));
    }
    let mut conn = db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |conn, before, limit| model::members_page(conn, filter, before.copied(), limit).await,
            async |conn| model::members_count(conn, filter).await,
        )
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(username_problem("ada_lovelace").is_none());
        assert!(username_problem("ab").is_some());
        assert!(username_problem("has space").is_some());
        assert!(username_problem("Admin").is_some());
        assert!(username_problem(&"x".repeat(31)).is_some());
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = validate_changes(ProfileChanges {
            full_name: Some("   ".into()),
            currency: Some("dollars".into()),
            portfolio_urls: Some(vec!["javascript:alert(1)".into()]),
            travel_radius_km: Some(Some(-1)),
            timezone: Some(Some("../etc/passwd".into())),
            ..Default::default()
        })
        .unwrap_err();
        let AppError::Validation(fields) = err else {
            panic!("not a validation error")
        };
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["currency", "fullName", "portfolioUrls", "timezone", "travelRadiusKm"]
        );
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let patch = validate_changes(ProfileChanges {
            skills: Some(vec![" Rust ".into(), "rust".into(), "".into(), "GraphQL".into()]),
            bio: Some(Some("   ".into())),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(patch.skills.unwrap(), ["Rust", "GraphQL"]);
        assert_eq!(patch.bio, Some(None));
    }

    #[test]
    fn coordinates_are_checked() {
        assert!(check_coordinates(52.5, 13.4).is_ok());
        assert!(check_coordinates(91.0, 0.0).is_err());
        assert!(check_coordinates(0.0, f64::NAN).is_err());
    }

    #[test]
    fn avatars_are_sniffed_by_content() {
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D];
        assert_eq!(sniff_avatar(&png), Some("png"));
        assert_eq!(sniff_avatar(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), None);
        assert_eq!(sniff_avatar(b"GIF89a...."), Some("gif"));
    }
}
