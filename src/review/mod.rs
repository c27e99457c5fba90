//! Reviews (seeds 002 and 003): after a COMPLETED order, each party rates the other once,
//! with sub-ratings, a comment, and later the reviewee's reply.
//!
//! Owns `reviews` and `user_ratings`, and the review columns of `gigs` (`rating_sum`,
//! `rating_count`, `rating_average`). Invariants:
//! - only the two parties of a COMPLETED order review, each the other, once per order (a
//!   unique constraint), within the review window (`REVIEW_WINDOW_DAYS` after completion);
//! - rating, quality, communication and timeliness are 1 to 5; the comment is at most 2,000
//!   characters and goes through the message safety filter (contact details masked; the
//!   original kept for moderation when something was masked);
//! - blind and two-sided: a review is hidden from everyone but its author until both parties
//!   reviewed (the second review publishes both, in its transaction) or the window closed
//!   ([`service::publish_due`], called by the scheduler); creating a review locks the order
//!   row, so two parties reviewing at once still publish both;
//! - aggregates move only when a review becomes public, in that transaction, by exact sums
//!   and counts: the reviewee's `user_ratings` row for their side of the order, and for a
//!   reviewed freelancer of a gig order the gig's rating; nothing is recomputed on read;
//! - the reviewee is notified (REVIEW_RECEIVED) when a review of them becomes public; they
//!   may reply once, to a public review;
//! - an admin may remove a review (`removeReview`, or all of a member's with
//!   `banUser(removeReviews)`): it is kept for the record but public to nobody and never
//!   published, and a public one leaves the aggregates in the removing transaction.

pub mod graphql;
pub mod loaders;
pub mod model;
pub mod service;
