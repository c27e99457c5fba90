//! Creating orders and carrying out the state machine's transitions.
//!
//! Every transition runs in one transaction that locks the order row, asks
//! [`machine::decide`] whether the actor may take the action in the current state, checks the
//! rule's guard, moves the money the rule names through the ledger, records the history row,
//! writes the `ORDER_UPDATED` event and the notifications, and commits — or changes nothing.
//!
//! The sub-domains, one file each: [`create`] (orderGig, bookings, accepting an application
//! or a first-accept task), [`transition`] (the named steps of one transition, with
//! [`input`] checking what an action carries and [`money`] moving escrow), [`checkout`]
//! (paying through Stripe Checkout and the payment webhooks), [`card`] (refunds and card
//! disputes Stripe reports), [`dispute`] (evidence, mediators and rulings), [`board`] (the
//! task board and milestone checklists), [`codes`] (start and end codes) and [`earnings`]
//! (clearing released earnings later).
//!
//! [`machine::decide`]: super::machine::decide

mod board;
mod card;
mod checkout;
mod codes;
mod create;
pub mod dispute;
mod earnings;
mod input;
mod money;
mod transition;

use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use self::{
    board::{add_board_item, delete_board_item, move_board_item, set_checklist},
    card::{provider_dispute, provider_refunded, CardDispute},
    checkout::{
        checkout_key, create_order_checkout, provider_paid, provider_payment_failed, stage_checkout_key, FailedPayment,
        OrderCheckout, Payment, CHECKOUT_CANCEL_PATH, CHECKOUT_SUCCESS_PATH,
    },
    codes::issue_code,
    create::{accept_application, accept_task, order_gig, GigOrderInput},
    earnings::{clear_earnings, Cleared},
    input::{Act, DeliveryInput, ProofInput},
    money::refund_key,
    transition::{act, provider_act, ProviderAct},
};
use super::model::{self, ActorRole, OrderRow, OrderSide, OrderStatus};
use crate::{
    db::page::{Page, PageRequest},
    error::{AppError, AppResult},
    events::{self, topic},
    profile::model::UserRow,
    state::AppState,
};

/// The event on an order's topic after every transition.
pub const ORDER_UPDATED: &str = "ORDER_UPDATED";

/// What `ORDER_UPDATED` carries.
#[derive(Debug, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order: Arc<OrderRow>,
    /// The machine's action, or `CREATE` for a new order.
    pub action: String,
    pub from: Option<OrderStatus>,
    pub actor_id: Option<Uuid>,
}

/// Writes `ORDER_UPDATED` for `order` in the caller's transaction (relayed after commit).
pub async fn publish(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    action: &str,
    from: Option<OrderStatus>,
    actor_id: Option<Uuid>,
) -> AppResult<()> {
    events::emit(
        conn,
        &topic::order(order.id),
        ORDER_UPDATED,
        &OrderEvent {
            order: Arc::new(order.clone()),
            action: action.to_owned(),
            from,
            actor_id,
        },
    )
    .await?;
    Ok(())
}

/// Writes `ORDER_UPDATED` for activity on `order` that is not a transition (its code links,
/// pull requests and CI checks): `action` names it and the status stays as it is.
pub async fn publish_activity(
    conn: &mut AsyncPgConnection,
    order: &OrderRow,
    action: &str,
    actor_id: Option<Uuid>,
) -> AppResult<()> {
    publish(conn, order, action, Some(order.status), actor_id).await
}

/// The roles `user` plays on `order` (none: the order is not theirs to see).
pub fn roles_of(order: &OrderRow, user: &UserRow) -> Vec<ActorRole> {
    let mut roles = Vec::with_capacity(2);
    if order.client_id == user.id {
        roles.push(ActorRole::Client);
    }
    if order.freelancer_id == user.id {
        roles.push(ActorRole::Freelancer);
    }
    if user.is_admin {
        roles.push(ActorRole::Admin);
    }
    roles
}

/// The order `id` if `viewer` may see it (a party or an admin); `NOT_FOUND` otherwise.
async fn find_visible(conn: &mut AsyncPgConnection, viewer: &UserRow, id: Uuid) -> AppResult<OrderRow> {
    model::find(conn, id)
        .await?
        .filter(|o| !roles_of(o, viewer).is_empty())
        .ok_or_else(|| AppError::not_found("Order"))
}

/// An order the viewer may see (a party or an admin); `NOT_FOUND` otherwise.
pub async fn visible(app: &AppState, viewer: &UserRow, id: Uuid) -> AppResult<OrderRow> {
    let mut conn = app.db.conn().await?;
    find_visible(&mut conn, viewer, id).await
}

/// A page of the viewer's orders, newest first, on one side or both, optionally in one status.
pub async fn mine(
    app: &AppState,
    viewer: Uuid,
    side: Option<OrderSide>,
    status: Option<OrderStatus>,
    request: &PageRequest<Uuid>,
) -> AppResult<Page<OrderRow>> {
    let mut conn = app.db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, before, limit| model::page(c, viewer, side, status, before.copied(), limit).await,
            async |c| model::count(c, viewer, side, status).await,
        )
        .await?)
}
