//! Batched lookups for orders and what hangs off them.

use super::model::{
    self, BoardItemRow, DeliverableRow, DisputeRow, EvidenceRow, HistoryRow, MilestoneRow, OrderRow, ProofRow,
};
use crate::graphql::loader::{grouped_loader, keyed_loader};

keyed_loader!(
    /// Key: an order id.
    OrderById: model::find_many => OrderRow, by id
);

/// One [`grouped_loader!`] per list hanging off an order (or off one of its records): key
/// `$key(parent_id)` → the rows whose `$by` is that id, in the order `$query` returns them.
/// (A subscription's loader keeps nothing between deliveries, `subscription_loader`, so
/// each delivery reads these lists as they are now.)
macro_rules! per_order {
    ($($(#[$doc:meta])* $key:ident($row:ty) by $by:ident = $query:path;)+) => {
        $(
            grouped_loader!($(#[$doc])* $key: $query => $row, by $by);
        )+
    };
}

per_order! {
    /// Key: an order id → its milestones, in order.
    MilestonesOf(MilestoneRow) by order_id = model::milestones_of;
    /// Key: an order id → its history, oldest first.
    HistoryOf(HistoryRow) by order_id = model::history_of;
    /// Key: an order id → its payment proofs, oldest first.
    ProofsOf(ProofRow) by order_id = model::proofs_of;
    /// Key: an order id → its deliveries, oldest first.
    DeliverablesOf(DeliverableRow) by order_id = model::deliverables_of;
    /// Key: an order id → its board items, oldest first.
    BoardOf(BoardItemRow) by order_id = model::board_of;
    /// Key: an order id → its disputes, oldest first.
    DisputesOf(DisputeRow) by order_id = model::disputes_of;
    /// Key: a dispute id → its evidence, oldest first.
    EvidenceOf(EvidenceRow) by dispute_id = model::evidence_of;
}
