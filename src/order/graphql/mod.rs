//! Orders over GraphQL, one file per kind of type: the [`Order`] object ([`order`]), what
//! hangs off it ([`records`]: history, payment proofs, deliveries, disputes; [`board`]:
//! milestones, checklists, board cards), the [`inputs`], and the root fields ([`query`],
//! [`mutation`], [`subscription`]).

mod board;
mod inputs;
mod mutation;
mod order;
mod query;
mod records;
mod subscription;

pub use self::{
    board::{BoardItem, ChecklistEntry, OrderMilestone},
    inputs::{OrderGigInput, PaymentProofInput, RequestBookingInput, SubmitWorkInput},
    mutation::{OrderCode, OrderMutation},
    order::Order,
    query::OrderQuery,
    records::{Deliverable, DeliverableFile, Dispute, OrderHistoryEntry, PaymentProof},
    subscription::{OrderSubscription, OrderUpdate},
};
use async_graphql::Context;
use uuid::Uuid;

/// The rows' and the machine's own enums are the GraphQL ones: no mirror per layer.
pub use super::{
    machine::Action as OrderAction,
    model::{BoardItemStatus, OrderCodePurpose, OrderOrigin, OrderSide, OrderStatus, PaymentProofStatus},
};
use crate::{
    graphql::{context::ContextExt, loader::shared_error},
    profile::{graphql::User, loaders::UserById},
};

/// A party or author of an order (banned users too: the order's people stay on its record).
async fn user(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<User>> {
    let row = ctx.loader().load_one(UserById(id)).await.map_err(shared_error)?;
    Ok(row.map(User::new))
}
