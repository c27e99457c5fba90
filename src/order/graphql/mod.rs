//! Orders over GraphQL, one file per kind of type: the [`Order`] object ([`order`]), what
//! hangs off it ([`records`]: history, payment proofs, deliveries, disputes; [`board`]:
//! milestones, checklists, board cards), the [`inputs`], and the root fields ([`query`],
//! [`mutation`], [`subscription`]).

mod board;
mod dispute;
mod inputs;
mod mutation;
mod order;
mod query;
mod records;
mod subscription;

pub use self::{
    board::{BoardItem, ChecklistEntry, OrderMilestone},
    dispute::{Dispute, DisputeEvidence, EvidenceInputObject},
    inputs::{OrderGigInput, PaymentProofInput, RequestBookingInput, SubmitWorkInput},
    mutation::{OrderCode, OrderMutation},
    order::Order,
    query::OrderQuery,
    records::{Deliverable, DeliverableFile, OrderHistoryEntry, PaymentProof},
    subscription::{OrderSubscription, OrderUpdate},
};

/// The rows' and the machine's own enums are the GraphQL ones: no mirror per layer.
pub use super::{
    machine::Action as OrderAction,
    model::{
        BoardItemStatus, DisputeOutcome, DisputeStatus, EvidenceKind, OrderBilling, OrderCodePurpose, OrderOrigin,
        OrderSide, OrderStatus, PaymentProofStatus, PaymentStage,
    },
};

/// What the admin root fields over disputes call.
pub mod disputes {
    pub use super::dispute::{assign, queue, resolve};
}
