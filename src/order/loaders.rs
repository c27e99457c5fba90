//! Batched lookups for orders and what hangs off them.

use super::model::{self, BoardItemRow, DeliverableRow, DisputeRow, HistoryRow, MilestoneRow, OrderRow, ProofRow};
use crate::graphql::loader::{grouped_loader, keyed_loader, RequestLoader};

keyed_loader!(
    /// Key: an order id.
    OrderById: model::find_many => OrderRow, by id
);

/// One [`grouped_loader!`] per list hanging off an order: key `$key(order_id)` → the order's
/// rows, in the order `$query` returns them. Also writes [`forget_orders`], which clears the
/// order loader and each of these.
macro_rules! per_order {
    ($($(#[$doc:meta])* $key:ident($row:ty) = $query:path;)+) => {
        $(
            grouped_loader!($(#[$doc])* $key: $query => $row, by order_id);
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
