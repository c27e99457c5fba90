//! Writing reviews and replies, publishing them (when both parties reviewed, or when the
//! window closes), and the lists that read them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::model::{self, ReviewRole, ReviewRow};
use crate::{
    admin::model as audit,
    db::{
        self,
        page::{Page, PageRequest},
        unique_violation, Batch,
    },
    error::{AppError, AppResult, FieldErrors},
    message::safety,
    notification::service::{self as notification, Kind},
    order::model::{self as orders, OrderOrigin, OrderRow, OrderStatus},
    profile::model::{self as profiles, UserRow},
    state::AppState,
    validation,
};

/// The longest comment or reply, in characters.
pub const TEXT_MAX: usize = 2000;
/// Hidden reviews published per transaction by [`publish_due`].
const DUE_BATCH: i64 = 500;

/// What `createReview` takes.
pub struct ReviewInput {
    pub order_id: Uuid,
    pub rating: i32,
    pub quality: i32,
    pub communication: i32,
    pub timeliness: i32,
    pub comment: String,
}

/// A score of 1 to 5, or a problem recorded under `field`.
fn score(field: &str, value: i32, errors: &mut FieldErrors) -> i16 {
    if (1..=5).contains(&value) {
        value as i16
    } else {
        errors.add(field, "must be between 1 and 5");
        0
    }
}

/// Trims, checks (at most [`TEXT_MAX`] characters, `min` at least) and screens a comment or
/// reply: the text to show, and the original when the safety filter masked something.
fn screened_text(field: &str, raw: &str, min: usize, errors: &mut FieldErrors) -> (String, Option<String>) {
    let text = validation::text(field, raw, min, TEXT_MAX, true, errors);
    let screened = safety::screen(&text, false);
    let original = screened.flagged.then_some(text);
    (screened.text, original)
}

/// When the review window of `order` closes: `window` after it completed.
pub fn window_closes_at(order: &OrderRow, window: std::time::Duration) -> DateTime<Utc> {
    let completed = order.settled_at.unwrap_or(order.updated_at);
    completed + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX)
}

/// The viewer's review of the other party of a completed order. Hidden until the other
/// party reviews too (then both become public in this transaction) or the window closes.
pub async fn create(app: &AppState, viewer: &UserRow, input: ReviewInput) -> AppResult<ReviewRow> {
    if viewer.is_banned() {
        return Err(crate::auth::banned());
    }
    let mut errors = FieldErrors::new();
    let rating = score("rating", input.rating, &mut errors);
    let quality = score("quality", input.quality, &mut errors);
    let communication = score("communication", input.communication, &mut errors);
    let timeliness = score("timeliness", input.timeliness, &mut errors);
    let (comment, comment_original) = screened_text("comment", &input.comment, 0, &mut errors);
    errors.into_result()?;

    let window = app.config.review_window;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            // The order row lock serialises the two parties' reviews.
            let order = orders::lock(conn, input.order_id)
                .await?
                .filter(|o| o.is_party(viewer.id) || viewer.is_admin)
                .ok_or_else(|| AppError::not_found("Order"))?;
            if !order.is_party(viewer.id) {
                return Err(AppError::Forbidden("Only the order's parties review it.".into()));
            }
            if order.status != OrderStatus::Completed {
                return Err(AppError::Conflict(format!(
                    "An order that is {} cannot be reviewed; reviews open when it is completed.",
                    order.status
                )));
            }
            let now = Utc::now();
            let closes = window_closes_at(&order, window);
            if now >= closes {
                return Err(AppError::Conflict("The review window of this order has closed.".into()));
            }
            let (reviewee_id, reviewee_role) = if viewer.id == order.client_id {
                (order.freelancer_id, ReviewRole::AsFreelancer)
            } else {
                (order.client_id, ReviewRole::AsClient)
            };
            let gig_order = matches!(order.origin, OrderOrigin::Gig | OrderOrigin::Booking);
            let row = ReviewRow {
                id: Uuid::now_v7(),
                order_id: order.id,
                gig_id: order
                    .gig_id
                    .filter(|_| gig_order && reviewee_role == ReviewRole::AsFreelancer),
                reviewer_id: viewer.id,
                reviewee_id,
                reviewee_role,
                rating,
                quality,
                communication,
                timeliness,
                comment,
                comment_original,
                reply: None,
                replied_at: None,
                created_at: now,
                window_closes_at: closes,
                published_at: None,
                removed_at: None,
                removed_by: None,
                removal_reason: None,
            };
            if let Err(e) = model::insert(conn, &row).await {
                return Err(match unique_violation(&e) {
                    Some(_) => AppError::Conflict("You already reviewed this order.".into()),
                    None => e.into(),
                });
            }
            let reviews = model::of_orders(conn, &[order.id]).await?;
            if reviews.len() < 2 {
                return Ok(row);
            }
            // Both parties reviewed: both become public now.
            let ids: Vec<Uuid> = reviews.iter().map(|r| r.id).collect();
            let published = publish(conn, &ids, now, &HashMap::from([(order.id, order)])).await?;
            Ok(published.into_iter().find(|r| r.id == row.id).unwrap_or(row))
        })
        .await
}

/// Makes the hidden ones of `ids` public at `now`, in the caller's transaction: adds each to
/// its reviewee's aggregate (and its gig's), and notifies the reviewee. `orders` holds the
/// reviews' orders (for the notification's text) when the caller has them.
async fn publish(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
    orders: &HashMap<Uuid, OrderRow>,
) -> AppResult<Vec<ReviewRow>> {
    let published = model::publish(conn, ids, now).await?;
    let mut notes = Vec::with_capacity(published.len());
    for review in &published {
        model::add_to_user_rating(conn, review, 1).await?;
        if let Some(gig_id) = review.gig_id {
            model::add_to_gig_rating(conn, gig_id, review.rating, 1).await?;
        }
        let title = orders
            .get(&review.order_id)
            .map(|o| o.title.as_str())
            .unwrap_or("an order");
        notes.push((
            review.reviewee_id,
            "You have a new review".to_owned(),
            format!("{}/5 for \u{201c}{title}\u{201d}", review.rating),
            serde_json::json!({
                "reviewId": review.id,
                "orderId": review.order_id,
                "rating": review.rating,
            }),
        ));
    }
    notification::notify_many(conn, Kind::ReviewReceived, notes).await?;
    Ok(published)
}

/// Publishes the hidden reviews whose window has closed (the other party never reviewed),
/// in batches, each batch in one transaction with its aggregates and notifications. Safe with
/// several instances running (the rows are claimed with `SKIP LOCKED`). Returns how many it
/// published. The scheduler calls it.
pub async fn publish_due(app: &AppState) -> AppResult<usize> {
    db::drain(DUE_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        app.bus
            .transaction::<_, AppError, _>(&mut conn, async |conn| {
                let now = Utc::now();
                let due = model::lock_due(conn, now, DUE_BATCH).await?;
                if due.is_empty() {
                    return Ok(Batch::of(0));
                }
                let order_ids: Vec<Uuid> = due.iter().map(|r| r.order_id).collect();
                let orders = orders::find_many(conn, &order_ids)
                    .await?
                    .into_iter()
                    .map(|o| (o.id, o))
                    .collect();
                let ids: Vec<Uuid> = due.iter().map(|r| r.id).collect();
                Ok(Batch::of(publish(conn, &ids, now, &orders).await?.len()))
            })
            .await
    })
    .await
}

/// How long after completion a party who has not reviewed is reminded: three days, or half
/// the review window when that is shorter.
pub fn reminder_delay(window: std::time::Duration) -> chrono::Duration {
    let half = chrono::Duration::from_std(window / 2).unwrap_or(chrono::Duration::MAX);
    half.min(chrono::Duration::days(3))
}

/// Reminds each party of a completed order who has not reviewed it, once, [`reminder_delay`]
/// after completion while the window is open (orders whose window closed are passed over).
/// In batches, each in one transaction with its notifications (REVIEW_REMINDER); safe with
/// several instances running (orders are claimed with `SKIP LOCKED` and marked reminded).
/// Returns how many reminders it sent. The scheduler calls it.
pub async fn remind_due(app: &AppState) -> AppResult<usize> {
    let window = app.config.review_window;
    db::drain(DUE_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        app.bus
            .transaction::<_, AppError, _>(&mut conn, async |conn| {
                let now = Utc::now();
                let due = orders::lock_review_reminders_due(conn, now - reminder_delay(window), DUE_BATCH).await?;
                if due.is_empty() {
                    return Ok(Batch::of(0));
                }
                let ids: Vec<Uuid> = due.iter().map(|o| o.id).collect();
                let reviewed: std::collections::HashSet<(Uuid, Uuid)> =
                    model::reviewers_of(conn, &ids).await?.into_iter().collect();
                let mut reminders = Vec::new();
                for order in &due {
                    let closes = window_closes_at(order, window);
                    if closes <= now {
                        continue;
                    }
                    for (party, other) in [(order.client_id, "freelancer"), (order.freelancer_id, "client")] {
                        if reviewed.contains(&(order.id, party)) {
                            continue;
                        }
                        reminders.push((
                            party,
                            format!("How did \"{}\" go?", order.title),
                            format!(
                                "Review the {other} by {}. Reviews stay hidden until you both have written one or the window closes.",
                                closes.format("%Y-%m-%d %H:%M UTC")
                            ),
                            serde_json::json!({ "orderId": order.id, "windowClosesAt": closes }),
                        ));
                    }
                }
                let sent = reminders.len();
                notification::notify_many(conn, Kind::ReviewReminder, reminders).await?;
                orders::mark_review_reminded(conn, &ids, now).await?;
                Ok(Batch {
                    claimed: due.len(),
                    counted: sent,
                })
            })
            .await
    })
    .await
}

/// The reviewee's one reply to a public review of them.
pub async fn reply(app: &AppState, viewer: &UserRow, review_id: Uuid, raw: &str) -> AppResult<ReviewRow> {
    if viewer.is_banned() {
        return Err(crate::auth::banned());
    }
    let mut errors = FieldErrors::new();
    let (text, _original) = screened_text("reply", raw, 1, &mut errors);
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let review = model::lock(conn, review_id)
                .await?
                // Blind: a hidden review does not exist for anyone but its author.
                .filter(|r| readable_by(r, Some(viewer.id)))
                .ok_or_else(|| AppError::not_found("Review"))?;
            if review.reviewee_id != viewer.id || review.published_at.is_none() {
                return Err(AppError::Forbidden(
                    "Only the member reviewed replies to a review.".into(),
                ));
            }
            if review.reply.is_some() {
                return Err(AppError::Conflict("You already replied to this review.".into()));
            }
            Ok(model::set_reply(conn, review.id, &text, Utc::now()).await?)
        })
        .await
}

/// Removes a review for `reason` (3 to 2,000 characters), as `admin`: public to nobody from
/// now on, taken out of the reviewee's (and the gig's) aggregate if it was public, its author
/// told why (SYSTEM), audit-logged with the review as it was. The other party's review is
/// untouched (a hidden one still becomes public when its window closes). Answers the
/// reviewee as they now stand. `NOT_FOUND` for no such review, `CONFLICT` when already
/// removed.
pub async fn remove(app: &AppState, admin: &UserRow, review_id: Uuid, reason: &str) -> AppResult<UserRow> {
    let reason = validation::reason("reason", reason)?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let review = model::lock(conn, review_id)
                .await?
                .ok_or_else(|| AppError::not_found("Review"))?;
            if review.removed_at.is_some() {
                return Err(AppError::Conflict("This review is already removed.".into()));
            }
            withdraw(conn, admin, &review, &reason, Utc::now()).await?;
            notification::notify(
                conn,
                review.reviewer_id,
                Kind::System,
                "Your review was removed",
                &format!("An admin removed your review: {reason}"),
                serde_json::json!({ "reviewId": review.id, "orderId": review.order_id }),
            )
            .await?;
            profiles::find(conn, review.reviewee_id)
                .await?
                .ok_or_else(|| AppError::not_found("User"))
        })
        .await
}

/// Removes every review `reviewer_id` wrote that is not removed yet, as `admin`, in the
/// caller's transaction (suspending a member with `removeReviews`); each is audit-logged as
/// by [`remove`]. Returns how many it removed.
pub async fn remove_written_by(
    conn: &mut AsyncPgConnection,
    admin: &UserRow,
    reviewer_id: Uuid,
    reason: &str,
) -> AppResult<usize> {
    let now = Utc::now();
    let reviews = model::lock_by_reviewer(conn, reviewer_id).await?;
    for review in &reviews {
        withdraw(conn, admin, review, reason, now).await?;
    }
    Ok(reviews.len())
}

/// Marks `review` (locked, not removed) removed and takes a public one out of the
/// aggregates, with the audit entry, in the caller's transaction.
async fn withdraw(
    conn: &mut AsyncPgConnection,
    admin: &UserRow,
    review: &ReviewRow,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if review.published_at.is_some() {
        model::add_to_user_rating(conn, review, -1).await?;
        if let Some(gig_id) = review.gig_id {
            model::add_to_gig_rating(conn, gig_id, review.rating, -1).await?;
        }
    }
    model::remove(conn, review.id, admin.id, reason, now).await?;
    audit::record(
        conn,
        admin.id,
        "REMOVE_REVIEW",
        "REVIEW",
        review.id,
        reason,
        serde_json::json!({
            "before": { "publishedAt": review.published_at, "rating": review.rating, "comment": review.comment },
            "after": { "removedAt": now },
            "orderId": review.order_id,
            "reviewerId": review.reviewer_id,
            "revieweeId": review.reviewee_id,
        }),
    )
    .await?;
    Ok(())
}

/// A page of public reviews of each of `reviewees` (see `model::pages`), in one
/// statement.
pub async fn pages(
    app: &AppState,
    reviewees: &[Uuid],
    role: Option<ReviewRole>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> AppResult<Vec<ReviewRow>> {
    let mut conn = app.db.conn().await?;
    Ok(model::pages(&mut conn, reviewees, role, after, limit).await?)
}

/// A page of a gig's public reviews, newest first.
pub async fn gig_reviews(
    app: &AppState,
    gig_id: Uuid,
    request: &PageRequest<(DateTime<Utc>, Uuid)>,
) -> AppResult<Page<ReviewRow>> {
    let mut conn = app.db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, after, limit| model::gig_page(c, gig_id, after.copied(), limit).await,
            async |c| model::gig_count(c, gig_id).await,
        )
        .await?)
}

/// Whether `viewer` may read `review`: everyone once it is public, its author before;
/// nobody once an admin removed it.
pub fn readable_by(review: &ReviewRow, viewer: Option<Uuid>) -> bool {
    review.removed_at.is_none() && (review.published_at.is_some() || viewer == Some(review.reviewer_id))
}

/// A member's rating as shown: the average and sub-rating averages over `rows` (their
/// aggregates on the sides asked for).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rating {
    pub count: i64,
    pub average: Option<f64>,
    pub quality: Option<f64>,
    pub communication: Option<f64>,
    pub timeliness: Option<f64>,
}

/// Adds up the aggregates of the sides in `rows` that `role` asks for (every side when
/// `None`).
pub fn rating_of(rows: &[model::RatingRow], role: Option<ReviewRole>) -> Rating {
    let rows = || rows.iter().filter(|r| role.is_none_or(|role| r.role == role));
    let count: i64 = rows().map(|r| i64::from(r.count)).sum();
    let mean = |sum: i64| (count > 0).then(|| sum as f64 / count as f64);
    Rating {
        count,
        average: mean(rows().map(|r| r.rating_sum).sum()),
        quality: mean(rows().map(|r| r.quality_sum).sum()),
        communication: mean(rows().map(|r| r.communication_sum).sum()),
        timeliness: mean(rows().map(|r| r.timeliness_sum).sum()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::RatingRow;

    #[test]
    fn scores_are_one_to_five_and_name_their_field() {
        let mut errors = FieldErrors::new();
        assert_eq!(score("rating", 5, &mut errors), 5);
        assert_eq!(score("quality", 1, &mut errors), 1);
        assert!(errors.is_empty());
        score("timeliness", 0, &mut errors);
        score("communication", 6, &mut errors);
        let fields: Vec<&String> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["communication", "timeliness"]);
    }

    #[test]
    fn comments_are_bounded_and_screened() {
        let mut errors = FieldErrors::new();
        let (text, original) = screened_text("comment", " Great, email me at ann@example.com ", 0, &mut errors);
        assert!(errors.is_empty());
        assert!(!text.contains("ann@example.com"), "{text}");
        assert_eq!(original.as_deref(), Some("Great, email me at ann@example.com"));
        screened_text("comment", &"x".repeat(TEXT_MAX + 1), 0, &mut errors);
        assert!(!errors.is_empty());
    }

    #[test]
    fn ratings_add_up_the_sides_asked_for() {
        let side = |role, count, sum| RatingRow {
            user_id: Uuid::nil(),
            role,
            count,
            rating_sum: sum,
            quality_sum: sum,
            communication_sum: sum,
            timeliness_sum: 2 * i64::from(count),
        };
        let rows = [side(ReviewRole::AsFreelancer, 2, 9), side(ReviewRole::AsClient, 1, 3)];
        let all = rating_of(&rows, None);
        assert_eq!((all.count, all.average, all.timeliness), (3, Some(4.0), Some(2.0)));
        let freelancer = rating_of(&rows, Some(ReviewRole::AsFreelancer));
        assert_eq!((freelancer.count, freelancer.average), (2, Some(4.5)));
        assert_eq!(rating_of(&[], None), Rating::default());
    }
}
