//! The `User` type and profile operations.

use std::sync::Arc;

use async_graphql::{
    connection::{Connection, ConnectionNameType, EdgeNameType, EmptyFields},
    Context, InputObject, MaybeUndefined, Object, SimpleObject, Upload, ID,
};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use super::model::VerificationStatus;
use super::{
    loaders::UserById,
    model::UserRow,
    service::{self, FreelancerSearch},
};
use crate::{
    error::AppError,
    graphql::{
        context::{visible_to, ContextExt},
        loader::shared_error,
        pagination::{connection, connection_with_edges, list_cost, page_request, ListConnection, Total},
        types::{parse_id, patch, GeoPoint, GeoPointInput},
    },
    review::{
        self,
        graphql::{Review, ReviewRole, UserRating},
    },
    vouch::{
        self,
        graphql::{SkillVouches, Vouch},
    },
};

/// A marketplace member: the same account acts as client (posts tasks, orders gigs) and as
/// freelancer. Banned members are visible to admins only. Private fields (`email`, exact
/// `location`, `commissionBps`) are shown only to the member themself and to admins.
#[derive(async_graphql::Description)]
pub struct User(pub Arc<UserRow>, Audience);

/// Who a `User` value is being shown to, when the caller already knows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Decide from the request's viewer.
    FromViewer,
    /// The user themself, e.g. in the payload of their own sign-in.
    Owner,
}

impl User {
    /// The user as seen by the request's viewer.
    pub fn new(row: Arc<UserRow>) -> Self {
        Self(row, Audience::FromViewer)
    }

    /// The user as seen by themself (the request may still be anonymous, as in `signIn`).
    pub fn owner(row: Arc<UserRow>) -> Self {
        Self(row, Audience::Owner)
    }

    /// The user with `id` through the request's loader, as the viewer may see them (banned
    /// users only for admins).
    pub async fn load(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Self>> {
        let row = ctx.loader().load_one(UserById(id)).await.map_err(shared_error)?;
        Ok(row.filter(|r| visible_to(ctx, r)).map(User::new))
    }

    /// The user with `id` through the request's loader whatever their standing: a party or
    /// author of a record (an order, a task, a message) stays on it even when banned.
    pub async fn on_record(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<Self>> {
        let row = ctx.loader().load_one(UserById(id)).await.map_err(shared_error)?;
        Ok(row.map(User::new))
    }

    /// Whether the viewer is this user or an admin.
    fn is_admin_viewing(&self, ctx: &Context<'_>) -> bool {
        ctx.viewer_opt().is_some_and(|v| v.user.is_admin)
    }

    fn is_privileged(&self, ctx: &Context<'_>) -> bool {
        self.1 == Audience::Owner || ctx.viewer_opt().is_some_and(|v| v.id() == self.0.id || v.user.is_admin)
    }
}

/// Rounds a coordinate to two decimals (about 1 km), for people who are not the user.
fn coarse(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[Object(use_type_description)]
impl User {
    /// Opaque global id; pass it to `user(id:)`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Unique handle, 3 to 30 letters, digits or underscores; unique ignoring case (see
    /// `userByUsername`).
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// The name shown to others, up to 100 characters.
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
    /// The email address: only for the user themself and admins, null for everyone else.
    async fn email(&self, ctx: &Context<'_>) -> Option<&str> {
        self.is_privileged(ctx).then_some(self.0.email.as_str())
    }
    /// Public URL of the profile picture (`uploadAvatar`); null when none was uploaded.
    async fn avatar_url(&self) -> Option<&str> {
        self.0.avatar_url.as_deref()
    }
    /// Free text about the member, up to 2,000 characters; null when not given.
    async fn bio(&self) -> Option<&str> {
        self.0.bio.as_deref()
    }
    /// One line under the name, e.g. "Rust backend engineer".
    async fn headline(&self) -> Option<&str> {
        self.0.headline.as_deref()
    }
    /// Skills as the member wrote them (up to 30; `freelancers` matches them ignoring case).
    async fn skills(&self) -> &[String] {
        &self.0.skills
    }
    /// AI tools the user works with.
    async fn ai_tools(&self) -> &[String] {
        &self.0.ai_tools
    }
    /// Languages the member speaks, as they wrote them (up to 30).
    async fn languages(&self) -> &[String] {
        &self.0.languages
    }
    /// Hourly rate in minor units of `currency`.
    async fn hourly_rate_cents(&self) -> Option<i64> {
        self.0.hourly_rate_cents
    }
    /// ISO 4217 currency of the user's rates.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// Links to past work: up to 10 http(s) URLs.
    async fn portfolio_urls(&self) -> &[String] {
        &self.0.portfolio_urls
    }
    /// Place name shown with the location, e.g. "Berlin, Germany".
    async fn location_text(&self) -> Option<&str> {
        self.0.location_text.as_deref()
    }
    /// Exact for the user themself and admins; rounded to about 1 km for everyone else.
    async fn location(&self, ctx: &Context<'_>) -> Option<GeoPoint> {
        let (lat, lng) = (self.0.latitude?, self.0.longitude?);
        Some(if self.is_privileged(ctx) {
            GeoPoint { lat, lng }
        } else {
            GeoPoint {
                lat: coarse(lat),
                lng: coarse(lng),
            }
        })
    }
    /// IANA time zone, e.g. "Europe/Berlin".
    async fn timezone(&self) -> Option<&str> {
        self.0.timezone.as_deref()
    }
    /// How far the user travels for on-site work.
    async fn travel_radius_km(&self) -> Option<i32> {
        self.0.travel_radius_km
    }
    /// Whether the user takes new work now.
    async fn is_available(&self) -> bool {
        self.0.is_available
    }
    /// True once name, headline, bio, skills and avatar are filled in.
    async fn profile_completed(&self) -> bool {
        let u = &self.0;
        u.headline.is_some() && u.bio.is_some() && !u.skills.is_empty() && u.avatar_url.is_some()
    }
    /// Where the member stands with identity verification.
    async fn verification_status(&self) -> VerificationStatus {
        self.0.verification_status
    }
    /// Platform commission on this user's earnings, in basis points, under the fee policy in
    /// force (800 by default; with verification-based commission 1000 when verified, 5000
    /// otherwise); an order fixes the rate when it is funded. Only for the user and admins.
    async fn commission_bps(&self, ctx: &Context<'_>) -> Option<i32> {
        self.is_privileged(ctx).then(|| {
            crate::ledger::policy::commission_bps(
                ctx.app().config.verification_commission,
                self.0.verification_status,
                self.0.commission_bps,
            )
        })
    }
    /// Whether the member is a platform administrator (may use the admin-only fields).
    async fn is_admin(&self) -> bool {
        self.0.is_admin
    }
    /// When the account was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When an admin suspended the member (`banUser`); null when not suspended. Admins only:
    /// null for everyone else.
    async fn banned_at(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        self.is_admin_viewing(ctx).then_some(self.0.banned_at).flatten()
    }
    /// Why the member was suspended; admins only (null for everyone else, and when not
    /// suspended).
    async fn ban_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        self.is_admin_viewing(ctx)
            .then_some(self.0.ban_reason.as_deref())
            .flatten()
    }
    /// Members vouching for this user's skills, newest first; `skillArea` narrows to one area.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn vouches(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only vouches in this skill area, compared ignoring case and spacing \
                          (`VALIDATION_ERROR` when it is not a valid area).")]
        skill_area: Option<String>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Vouch>> {
        vouch::graphql::vouches_of(ctx, self.0.id, skill_area, first, after).await
    }
    /// Per skill area, how many members vouch for this user; most vouched first.
    async fn vouch_summary(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SkillVouches>> {
        vouch::graphql::summary_of(ctx, self.0.id).await
    }
    /// How many vouches this user has in all skill areas.
    async fn vouch_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        vouch::graphql::count_of(ctx, self.0.id).await
    }
    /// This member's rating over the public reviews they received; `role` narrows to reviews
    /// of their work (AS_FREELANCER, what `freelancers` ranks by) or of them as a client.
    /// Reviews are blind: one counts only once both parties reviewed or the window closed.
    async fn rating(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only reviews received on this side of an order; both when omitted.")] role: Option<
            ReviewRole,
        >,
    ) -> async_graphql::Result<UserRating> {
        review::graphql::rating_of(ctx, self.0.id, role).await
    }
    /// The public reviews this member received, newest first (as `userReviews`). A page of
    /// users (a gig feed's owners) reads its reviews in one statement.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only reviews received on this side of an order; both when omitted.")] role: Option<
            ReviewRole,
        >,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Review>> {
        review::graphql::reviews_of(ctx, self.0.id, role, first, after).await
    }
}

/// Names the saved-freelancers list apart from the ranked search (another edge shape).
pub struct SavedFreelancerNames;

impl ConnectionNameType for SavedFreelancerNames {
    fn type_name<T: async_graphql::OutputType>() -> String {
        "SavedFreelancerConnection".into()
    }
}

impl EdgeNameType for SavedFreelancerNames {
    fn type_name<T: async_graphql::OutputType>() -> String {
        "SavedFreelancerEdge".into()
    }
}

type SavedFreelancerConnection =
    Connection<String, User, Total, EmptyFields, SavedFreelancerNames, SavedFreelancerNames>;

/// How a freelancer ranked.
#[derive(SimpleObject)]
pub struct RankFields {
    /// The ranking score (0 to 1): skill match, portfolio, availability, verified boost,
    /// reviews.
    pub score: f64,
}

#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// A user by id, public; null when there is none (or they are banned and you are not an
    /// admin).
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `id`; `VALIDATION_ERROR` when it is not an id.")] id: ID,
    ) -> async_graphql::Result<Option<User>> {
        let id = parse_id(&id, "id")?;
        User::load(ctx, id).await
    }

    /// Public freelancer search: members listing at least one skill, not banned, best ranked
    /// first. The score (0 to 1, on each edge) weighs skill match against `filter.skills`
    /// (0.45), portfolio links (0.15, full at three), availability (0.15), verification
    /// (0.10) and reviews (0.15: the average public rating of their work over 5, in full from
    /// five reviews).
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn freelancers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to narrow the search to; everyone listed when omitted.")] filter: Option<
            FreelancerSearch,
        >,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<User, RankFields>> {
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::freelancers(&ctx.app().db, filter, &request).await?;
        Ok(connection_with_edges(
            page,
            |r| (r.score, r.user.id),
            |r| (User::new(Arc::new(r.user)), RankFields { score: r.score }),
        ))
    }

    /// Freelancers you saved (`saveFreelancer`), most recently saved first. Signed in.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn saved_freelancers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<SavedFreelancerConnection> {
        let viewer = ctx.viewer()?.id();
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::saved_freelancers(&ctx.app().db, viewer, &request).await?;
        Ok(connection(
            page,
            |(saved_at, user)| (*saved_at, user.id),
            |(_, user)| User::new(Arc::new(user)),
        ))
    }

    /// A user by username, ignoring case, public; null when there is none (or they are banned
    /// and you are not an admin).
    async fn user_by_username(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username, in any case; surrounding spaces are ignored.")] username: String,
    ) -> async_graphql::Result<Option<User>> {
        if username.len() > 64 {
            return Ok(None);
        }
        let row = service::find_by_username(&ctx.app().db, username.trim())
            .await?
            .map(Arc::new);
        Ok(row.filter(|r| visible_to(ctx, r)).map(User::new))
    }
}

/// Profile fields to change. Omitted fields stay as they are; `null` clears a clearable one.
/// Every invalid field is named in one `VALIDATION_ERROR`.
#[derive(InputObject, Default)]
pub struct UpdateProfileInput {
    /// 3 to 30 letters, digits or underscores; `CONFLICT` when another member has it
    /// (ignoring case); a few names such as `admin` are reserved.
    pub username: Option<String>,
    /// 1 to 100 characters after trimming, no control characters.
    pub full_name: Option<String>,
    /// Up to 2,000 characters; `null` or blank clears it.
    pub bio: MaybeUndefined<String>,
    /// Up to 120 characters; `null` or blank clears it.
    pub headline: MaybeUndefined<String>,
    /// Replaces the skill list: up to 30 entries of at most 50 characters; entries are trimmed,
    /// blanks dropped and duplicates (ignoring case) removed.
    pub skills: Option<Vec<String>>,
    /// Replaces the AI tool list; same rules as `skills`.
    pub ai_tools: Option<Vec<String>>,
    /// Replaces the language list; same rules as `skills`.
    pub languages: Option<Vec<String>>,
    /// Hourly rate in minor units of `currency` (e.g. cents), 0 to 10,000,000; `null`
    /// clears it.
    pub hourly_rate_cents: MaybeUndefined<i64>,
    /// ISO 4217 code of the member's rates, e.g. `EUR` (upper-cased); USD for new accounts.
    pub currency: Option<String>,
    /// Replaces the portfolio: up to 10 http(s) URLs of at most 500 characters.
    pub portfolio_urls: Option<Vec<String>>,
    /// Place name shown with the location, up to 200 characters; `null` or blank clears it.
    /// Coordinates are set with `updateLocation`.
    pub location_text: MaybeUndefined<String>,
    /// IANA time zone name such as `Europe/Berlin`; `null` or blank clears it.
    pub timezone: MaybeUndefined<String>,
    /// How far the member travels for on-site work, 0 to 500 km; `null` clears it.
    pub travel_radius_km: MaybeUndefined<i32>,
}

#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Keeps a member on your saved list (`savedFreelancers`); saving again changes nothing.
    /// `NOT_FOUND` when there is no such (visible) member; `VALIDATION_ERROR` for yourself.
    async fn save_freelancer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to save: anyone but yourself.")] user_id: ID,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&user_id, "userId")?;
        let row = service::save_freelancer(&ctx.app().db, viewer, id).await?;
        Ok(User::new(Arc::new(row)))
    }

    /// Removes a member from your saved list; true also when they were not on it.
    async fn unsave_freelancer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member to remove from your saved list.")] user_id: ID,
    ) -> async_graphql::Result<bool> {
        let viewer = ctx.viewer()?.id();
        let id = parse_id(&user_id, "userId")?;
        service::unsave_freelancer(&ctx.app().db, viewer, id).await?;
        Ok(true)
    }

    /// Updates the signed-in user's profile and returns it. `VALIDATION_ERROR` names each bad
    /// field; `CONFLICT` when the new username is taken.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The fields to change; omitted ones stay as they are.")] input: UpdateProfileInput,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let changes = service::ProfileChanges {
            username: input.username,
            full_name: input.full_name,
            bio: patch(input.bio),
            headline: patch(input.headline),
            skills: input.skills,
            ai_tools: input.ai_tools,
            languages: input.languages,
            hourly_rate_cents: patch(input.hourly_rate_cents),
            currency: input.currency,
            portfolio_urls: input.portfolio_urls,
            location_text: patch(input.location_text),
            timezone: patch(input.timezone),
            travel_radius_km: patch(input.travel_radius_km),
        };
        let row = service::update_profile(&ctx.app().db, viewer.id(), changes).await?;
        Ok(User::owner(Arc::new(row)))
    }

    /// Says whether the signed-in user takes new work (`User.isAvailable`); available members
    /// rank higher in `freelancers`.
    async fn set_availability(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "True to take new work, false to pause.")] is_available: bool,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let row = service::set_availability(&ctx.app().db, viewer.id(), is_available).await?;
        Ok(User::owner(Arc::new(row)))
    }

    /// Sets the signed-in user's position (and optionally the place name shown with it).
    async fn update_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The exact position; others see it rounded to about 1 km.")] location: GeoPointInput,
        #[graphql(desc = "Place name shown with it, up to 200 characters; omitted: unchanged; \
                          `null`: cleared.")]
        location_text: MaybeUndefined<String>,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let row = service::update_location(
            &ctx.app().db,
            viewer.id(),
            location.lat,
            location.lng,
            patch(location_text),
        )
        .await?;
        Ok(User::owner(Arc::new(row)))
    }

    /// Replaces the signed-in user's avatar: a PNG, JPEG, WebP or GIF (judged by content)
    /// of at most UPLOAD_MAX_BYTES (5 MiB unless configured), sent as a GraphQL multipart
    /// request. Other files answer `VALIDATION_ERROR` on `file`.
    async fn upload_avatar(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image, as a multipart upload.")] file: Upload,
    ) -> async_graphql::Result<User> {
        let viewer = ctx.viewer()?;
        let upload = file
            .value(ctx)
            .map_err(|_| AppError::field("file", "is missing from the request"))?;
        let app = ctx.app();
        let row = service::set_avatar(
            &app.db,
            &app.storage,
            &viewer.user,
            upload.content,
            app.config.limits.upload_max_bytes,
        )
        .await?;
        Ok(User::owner(Arc::new(row)))
    }
}
