//! Plans and usage over GraphQL.

use async_graphql::{Context, Object, SimpleObject};

use super::{model::PlanRow, service};
use crate::graphql::context::ContextExt;

/// A plan users can be on.
#[derive(SimpleObject)]
pub struct Plan {
    pub id: String,
    pub name: String,
    /// Task posts per calendar month; null means unlimited.
    pub monthly_post_limit: Option<i32>,
    pub price_cents: i64,
    pub currency: String,
}

impl From<PlanRow> for Plan {
    fn from(p: PlanRow) -> Self {
        Plan {
            id: p.id,
            name: p.name,
            monthly_post_limit: p.monthly_post_limit,
            price_cents: p.price_cents,
            currency: p.currency,
        }
    }
}

/// Where you stand against your plan this month.
#[derive(SimpleObject)]
pub struct Usage {
    pub plan: Plan,
    pub posts_used: i64,
    /// Null when your plan is unlimited.
    pub posts_limit: Option<i32>,
    pub can_post: bool,
}

#[derive(Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// The plans on offer, cheapest first.
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Plan>> {
        Ok(service::plans(&ctx.app().db)
            .await?
            .into_iter()
            .map(Plan::from)
            .collect())
    }

    /// Your plan and how much of its monthly posting limit you used.
    async fn usage(&self, ctx: &Context<'_>) -> async_graphql::Result<Usage> {
        let viewer = ctx.viewer()?.id();
        let usage = service::usage(&ctx.app().db, viewer).await?;
        Ok(Usage {
            can_post: usage.can_post(),
            posts_used: usage.posts_used,
            posts_limit: usage.plan.monthly_post_limit,
            plan: usage.plan.into(),
        })
    }
}
