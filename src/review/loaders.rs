//! Batched review lookups: an order's reviews, users' aggregates, and users' newest public
//! reviews for a whole page of users in one statement.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::{self, RatingRow, ReviewRole, ReviewRow};
use crate::{
    error::AppError,
    graphql::loader::{group_by_owner, grouped_loader, shared, DbLoader},
};

grouped_loader!(
    /// Key: an order id → its reviews (hidden ones too; the resolver decides who sees them).
    ReviewsOfOrder: model::of_orders => ReviewRow, by order_id
);

grouped_loader!(
    /// Key: a user id → their rating aggregates, one per side reviewed on.
    RatingsOf: model::ratings_of => RatingRow, by user_id
);

/// Key: one page of a user's public reviews (see `model::pages`). Keys of a list of
/// users share the side, cursor and limit, so a page of users costs one statement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReviewPageOf {
    pub reviewee: Uuid,
    pub role: Option<ReviewRole>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

impl Loader<ReviewPageOf> for DbLoader {
    type Value = Arc<Vec<ReviewRow>>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[ReviewPageOf]) -> Result<HashMap<ReviewPageOf, Self::Value>, Self::Error> {
        // Keys that differ only in the reviewee share a statement.
        let mut by_shape: HashMap<ReviewPageOf, Vec<Uuid>> = HashMap::new();
        for key in keys {
            let shape = ReviewPageOf {
                reviewee: Uuid::nil(),
                ..key.clone()
            };
            by_shape.entry(shape).or_default().push(key.reviewee);
        }
        let mut conn = self.db.conn().await.map_err(shared)?;
        let mut pages = HashMap::with_capacity(keys.len());
        for (shape, reviewees) in by_shape {
            let rows = model::pages(&mut conn, &reviewees, shape.role, shape.after, shape.limit)
                .await
                .map_err(shared)?;
            for (reviewee, rows) in group_by_owner(&reviewees, rows, |r| r.reviewee_id) {
                pages.insert(
                    ReviewPageOf {
                        reviewee,
                        ..shape.clone()
                    },
                    rows,
                );
            }
        }
        Ok(pages)
    }
}
