//! Batched lookups for orders and what hangs off them.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use super::model::{self, BoardItemRow, DeliverableRow, DisputeRow, HistoryRow, MilestoneRow, OrderRow, ProofRow};
use crate::{
    error::AppError,
    graphql::loader::{group_by_owner, DbLoader, RequestLoader},
};

fn shared(e: impl Into<AppError>) -> Arc<AppError> {
    Arc::new(e.into())
}

/// Key: an order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderById(pub Uuid);

impl Loader<OrderById> for DbLoader {
    type Value = Arc<OrderRow>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[OrderById]) -> Result<HashMap<OrderById, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut conn = self.db.conn().await.map_err(shared)?;
        let rows = model::find_many(&mut conn, &ids).await.map_err(shared)?;
        Ok(rows.into_iter().map(|o| (OrderById(o.id), Arc::new(o))).collect())
    }
}

/// One loader per list hanging off an order: key `$key(order_id)` → the order's rows, in
/// the order `$query` returns them; every requested order gets an entry. Also writes
/// [`forget_orders`], which clears the order loader and each of these.
macro_rules! per_order {
    ($($(#[$doc:meta])* $key:ident($row:ty) = $query:path;)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct $key(pub Uuid);

            impl Loader<$key> for DbLoader {
                type Value = Arc<Vec<$row>>;
                type Error = Arc<AppError>;

                async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                    let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
                    let mut conn = self.db.conn().await.map_err(shared)?;
                    let rows = $query(&mut conn, &ids).await.map_err(shared)?;
                    Ok(group_by_owner(&ids, rows, |r| r.order_id)
                        .into_iter()
                        .map(|(id, rows)| ($key(id), rows))
                        .collect())
                }
            }
        )+

        /// Drops what the loader remembers of orders. A subscription keeps one loader for its
        /// whole life; each delivery must read the order's lists as they are now.
        pub fn forget_orders(loader: &RequestLoader) {
            loader.clear::<OrderById>();
            $(loader.clear::<$key>();)+
        }
    };
}

per_order! {
    /// Key: an order id → its milestones, in order.
    MilestonesOf(MilestoneRow) = model::milestones_of;
    /// Key: an order id → its history, oldest first.
    HistoryOf(HistoryRow) = model::history_of;
    /// Key: an order id → its payment proofs, oldest first.
    ProofsOf(ProofRow) = model::proofs_of;
    /// Key: an order id → its deliveries, oldest first.
    DeliverablesOf(DeliverableRow) = model::deliverables_of;
    /// Key: an order id → its board items, oldest first.
    BoardOf(BoardItemRow) = model::board_of;
    /// Key: an order id → its disputes, oldest first.
    DisputesOf(DisputeRow) = model::disputes_of;
}
