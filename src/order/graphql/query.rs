//! Reading orders: one order by id, and the viewer's orders as a Relay connection.

use async_graphql::{Context, Object, ID};

use super::{dispute, Dispute, Order, OrderSide, OrderStatus};
use crate::{
    graphql::{
        context::ContextExt,
        loader::shared_error,
        pagination::{connection, list_cost, page_request, ListConnection},
        types::parse_id,
    },
    order::{loaders::OrderById, service},
};

type OrderConnection = ListConnection<Order>;

#[derive(Default)]
pub struct OrderQuery;

#[Object]
impl OrderQuery {
    /// An order you are a party of (admins see every order); null when it does not exist or
    /// is not yours. UNAUTHORIZED when signed out.
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's id.")] id: ID,
    ) -> async_graphql::Result<Option<Order>> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        let row = ctx.loader().load_one(OrderById(id)).await.map_err(shared_error)?;
        Ok(row
            .filter(|o| !service::roles_of(o, &viewer.user).is_empty())
            .map(Order))
    }

    /// Your orders, newest first: as client, as freelancer, or both when `side` is omitted.
    /// UNAUTHORIZED when signed out.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "CLIENT or FREELANCER; both when omitted.")] side: Option<OrderSide>,
        #[graphql(desc = "Only orders in this status; every status when omitted.")] status: Option<OrderStatus>,
        #[graphql(desc = "Page size: 1 to the server's limit (100 by default); 20 when omitted.")] first: Option<i32>,
        #[graphql(desc = "Continue after the previous page's `pageInfo.endCursor`.")] after: Option<String>,
    ) -> async_graphql::Result<OrderConnection> {
        let viewer = ctx.viewer()?.id();
        let request = page_request(ctx, first, after.as_deref())?;
        let page = service::mine(ctx.app(), viewer, side, status, &request).await?;
        Ok(connection(page, |row| row.id, Order::new))
    }

    /// A dispute over an order you are a party of (admins see every dispute); null when it
    /// does not exist or is not yours. UNAUTHORIZED when signed out.
    async fn dispute(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The dispute's id.")] id: ID,
    ) -> async_graphql::Result<Option<Dispute>> {
        dispute::one(ctx, &id).await
    }
}
