//! Reviews over GraphQL: the `Review` type, `createReview`/`replyToReview`, `userReviews`,
//! `gigReviews`, and what `User` (`rating`, `reviews`) and `Order` (`reviews`) show of them.

use std::sync::Arc;

use async_graphql::{Context, InputObject, InputType, Lookahead, Object, SimpleObject, Value, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use super::model::ReviewRole;
use super::{
    loaders::{RatingsOf, ReviewPageOf, ReviewsOfOrder},
    model::ReviewRow,
    service::{self, ReviewInput},
};
use crate::{
    graphql::{
        context::ContextExt,
        loader::{group_by_owner, load_list},
        pagination::{connection, list_cost, page_request, ListConnection},
        types::parse_id,
    },
    profile::graphql::User,
};

/// A review one party of a completed order wrote about the other: an overall rating and
/// three sub-ratings (1 to 5 each), a comment, and the reviewee's reply. Reviews are blind
/// and two-sided: a review stays hidden from everyone but its author until both parties of
/// the order reviewed (both become public together) or the review window closed (14 days
/// after completion unless configured), so neither side can answer the other's review.
#[derive(async_graphql::Description)]
pub struct Review(Arc<ReviewRow>);

#[Object(use_type_description)]
impl Review {
    /// The review's id (pass it to `replyToReview`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The order reviewed (readable by its parties and admins through `order(id:)`).
    async fn order_id(&self) -> ID {
        ID(self.0.order_id.to_string())
    }
    /// The gig of a gig order, on reviews of its freelancer (they count toward `Gig.rating`).
    async fn gig_id(&self) -> Option<ID> {
        self.0.gig_id.map(|id| ID(id.to_string()))
    }
    /// Who wrote the review (null if they are no longer visible).
    async fn reviewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.reviewer_id).await
    }
    /// Who is reviewed.
    async fn reviewee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::load(ctx, self.0.reviewee_id).await
    }
    /// The side of the order the reviewee was on.
    async fn role(&self) -> ReviewRole {
        self.0.reviewee_role
    }
    /// Overall rating, 1 to 5.
    async fn rating(&self) -> i32 {
        self.0.rating.into()
    }
    /// Quality of the work (or, for a client, of the brief), 1 to 5.
    async fn quality(&self) -> i32 {
        self.0.quality.into()
    }
    /// Communication, 1 to 5.
    async fn communication(&self) -> i32 {
        self.0.communication.into()
    }
    /// Timeliness (delivery, or for a client, payment and feedback), 1 to 5.
    async fn timeliness(&self) -> i32 {
        self.0.timeliness.into()
    }
    /// The comment, up to 2,000 characters; contact details are masked (`[hidden]`).
    async fn comment(&self) -> &str {
        &self.0.comment
    }
    /// The reviewee's reply (once, to a public review); null until they reply.
    async fn reply(&self) -> Option<&str> {
        self.0.reply.as_deref()
    }
    /// When the reviewee replied.
    async fn replied_at(&self) -> Option<DateTime<Utc>> {
        self.0.replied_at
    }
    /// Whether the review is public yet (see the type's description); false only for your own
    /// review while the other party has not reviewed and the window is open.
    async fn is_public(&self) -> bool {
        self.0.published_at.is_some()
    }
    /// When the review became public; null while hidden.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }
    /// When the review window closes: a hidden review becomes public then at the latest.
    async fn window_closes_at(&self) -> DateTime<Utc> {
        self.0.window_closes_at
    }
    /// When the review was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A member's rating over the public reviews they received: averages (null while there are
/// none) and how many reviews they are over. Hidden reviews do not count until they become
/// public.
#[derive(SimpleObject)]
pub struct UserRating {
    /// Mean overall rating, 1 to 5.
    pub average: Option<f64>,
    /// How many public reviews the averages are over.
    pub count: i64,
    /// Mean quality sub-rating.
    pub quality: Option<f64>,
    /// Mean communication sub-rating.
    pub communication: Option<f64>,
    /// Mean timeliness sub-rating.
    pub timeliness: Option<f64>,
}

/// `User.rating`: the aggregate of `user_id` on `role`'s side, or on both.
pub async fn rating_of(
    ctx: &Context<'_>,
    user_id: Uuid,
    role: Option<ReviewRole>,
) -> async_graphql::Result<UserRating> {
    let rows = load_list(ctx, RatingsOf(user_id)).await?;
    let r = service::rating_of(&rows, role);
    Ok(UserRating {
        average: r.average,
        count: r.count,
        quality: r.quality,
        communication: r.communication,
        timeliness: r.timeliness,
    })
}

/// The public reviews `user_id` received (on `role`'s side, or both), newest first. The page
/// comes through the loader, so a list of users (the gig feed's owners) costs one statement;
/// `totalCount` comes from the rating aggregates.
pub async fn reviews_of(
    ctx: &Context<'_>,
    user_id: Uuid,
    role: Option<ReviewRole>,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ListConnection<Review>> {
    let request = page_request(ctx, first, after.as_deref())?;
    let total = if request.with_total {
        Some(service::rating_of(&load_list(ctx, RatingsOf(user_id)).await?, role).count)
    } else {
        None
    };
    let key = ReviewPageOf {
        reviewee: user_id,
        role,
        after: request.after,
        limit: request.limit(),
    };
    let rows = load_list(ctx, key).await?;
    let page = request.paginate(rows.iter().cloned().map(Arc::new).collect(), total);
    Ok(connection(page, review_key, Review))
}

/// Primes the request's loader with the pages that the `reviews` fields of `users` (a
/// lookahead at a `User` selection, such as a gig page's owners) ask for, for every one of
/// `user_ids` in one statement per distinct set of arguments. A long page's nested resolvers
/// then find their pages in the cache: without this, the DataLoader would flush after the
/// first few of a hundred owners and read their reviews in dozens of batches.
pub async fn prime_reviews(ctx: &Context<'_>, users: Lookahead<'_>, user_ids: &[Uuid]) -> async_graphql::Result<()> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for field in users.field("reviews").selection_fields() {
        let args = field.arguments()?;
        let arg = |name: &str| args.iter().find(|(n, _)| n.as_str() == name).map(|(_, v)| v.clone());
        let first = match arg("first") {
            Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            _ => None,
        };
        let after = match arg("after") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let Ok(role) = <Option<ReviewRole> as InputType>::parse(arg("role")) else {
            continue;
        };
        // A bad argument is the field's own error to report; nothing to prime then.
        let Ok(request) = page_request::<(DateTime<Utc>, Uuid)>(ctx, first, after.as_deref()) else {
            continue;
        };
        let rows = service::pages(ctx.app(), &ids, role, request.after, request.limit()).await?;
        let pages = group_by_owner(&ids, rows, |r| r.reviewee_id)
            .into_iter()
            .map(|(reviewee, rows)| {
                let key = ReviewPageOf {
                    reviewee,
                    role,
                    after: request.after,
                    limit: request.limit(),
                };
                (key, rows)
            });
        ctx.loader().feed_many(pages).await;
    }
    Ok(())
}

fn review_key(row: &Arc<ReviewRow>) -> (DateTime<Utc>, Uuid) {
    (row.published_at.unwrap_or(row.created_at), row.id)
}

/// `Order.reviews`: the order's public reviews, and the viewer's own even while hidden.
pub async fn of_order(ctx: &Context<'_>, order_id: Uuid) -> async_graphql::Result<Vec<Review>> {
    let viewer = ctx.viewer_opt().map(|v| v.id());
    Ok(load_list(ctx, ReviewsOfOrder(order_id))
        .await?
        .iter()
        .filter(|r| service::readable_by(r, viewer))
        .map(|r| Review(Arc::new(r.clone())))
        .collect())
}

#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// Public reviews a member received, newest first; `role` narrows to reviews of their
    /// work (AS_FREELANCER) or of them as a client (AS_CLIENT). Reviews are blind: one appears
    /// only once both parties of the order reviewed or the review window closed.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn user_reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The member's `id`; `VALIDATION_ERROR` when it is not an id.")] user_id: ID,
        #[graphql(desc = "Only reviews received on this side of an order; both when omitted.")] role: Option<
            ReviewRole,
        >,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Review>> {
        let user_id = parse_id(&user_id, "userId")?;
        reviews_of(ctx, user_id, role, first, after).await
    }

    /// Public reviews of a gig's orders (the clients' reviews of its freelancer), newest
    /// first. Blind like every review: hidden until both parties reviewed or the window
    /// closed.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn gig_reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The gig's `id`; `VALIDATION_ERROR` when it is not an id.")] gig_id: ID,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Review>> {
        let gig_id = parse_id(&gig_id, "gigId")?;
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::gig_reviews(ctx.app(), gig_id, &request).await?;
        Ok(connection(page.map(Arc::new), review_key, Review))
    }
}

/// A review of the other party of a completed order.
#[derive(InputObject)]
pub struct CreateReviewInput {
    /// The COMPLETED order you were a party of.
    pub order_id: ID,
    /// Overall rating, 1 to 5.
    pub rating: i32,
    /// Quality, 1 to 5.
    pub quality: i32,
    /// Communication, 1 to 5.
    pub communication: i32,
    /// Timeliness, 1 to 5.
    pub timeliness: i32,
    /// Up to 2,000 characters (may be empty); phone numbers, emails and off-platform contact
    /// words are masked.
    pub comment: String,
}

#[derive(Default)]
pub struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Reviews the other party of a COMPLETED order, once, within the review window (14 days
    /// after completion unless configured). The review is blind: hidden from everyone but you
    /// until the other party reviews too (both become public at once, and each reviewee is
    /// notified with REVIEW_RECEIVED) or the window closes. Ratings move only when a review
    /// becomes public. `VALIDATION_ERROR` names each bad field; `NOT_FOUND` for an order that
    /// is not yours; `CONFLICT` when the order is not completed, the window has closed, or you
    /// already reviewed it.
    async fn create_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order, the ratings and the comment.")] input: CreateReviewInput,
    ) -> async_graphql::Result<Review> {
        let viewer = ctx.viewer()?;
        let order_id = parse_id(&input.order_id, "orderId")?;
        let row = service::create(
            ctx.app(),
            &viewer.user,
            ReviewInput {
                order_id,
                rating: input.rating,
                quality: input.quality,
                communication: input.communication,
                timeliness: input.timeliness,
                comment: input.comment,
            },
        )
        .await?;
        Ok(Review(Arc::new(row)))
    }

    /// The reviewee's reply to a public review of them, once (1 to 2,000 characters, screened
    /// like comments). `FORBIDDEN` for a review of someone else, `CONFLICT` when you already
    /// replied, `NOT_FOUND` when there is no such review you may see (a hidden review of you
    /// is not there for you until it becomes public).
    async fn reply_to_review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The review's `id`.")] review_id: ID,
        #[graphql(desc = "Your answer, 1 to 2,000 characters.")] reply: String,
    ) -> async_graphql::Result<Review> {
        let viewer = ctx.viewer()?;
        let review_id = parse_id(&review_id, "reviewId")?;
        let row = service::reply(ctx.app(), &viewer.user, review_id, &reply).await?;
        Ok(Review(Arc::new(row)))
    }
}
