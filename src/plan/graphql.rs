//! Plans and usage over GraphQL.

use async_graphql::{Context, Object, SimpleObject};

use super::{model::PlanRow, service};
use crate::graphql::context::ContextExt;

/// A billing plan users can be on; it sets how many tasks they may publish a month.
#[derive(SimpleObject)]
pub struct Plan {
    /// A stable key, e.g. `free` or `pro`.
    pub id: String,
    /// A display name, e.g. "Pro".
    pub name: String,
    /// Task posts per calendar month (UTC); null means unlimited.
    pub monthly_post_limit: Option<i32>,
    /// The plan's price in minor units of `currency`; 0 for the free plan.
    pub price_cents: i64,
    /// ISO 4217 code of the price.
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
    /// Your plan (the free plan unless you subscribed to another).
    pub plan: Plan,
    /// Tasks you published since the start of this calendar month (UTC); drafts do not
    /// count.
    pub posts_used: i64,
    /// How many you may publish this month; null when your plan is unlimited.
    pub posts_limit: Option<i32>,
    /// Whether you may publish another task now; when false, publishing (`postTask` without
    /// `draft`, or `publishTask`) answers LIMIT_EXCEEDED.
    pub can_post: bool,
}

#[derive(Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// The plans on offer, cheapest first. No sign-in needed.
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Plan>> {
        Ok(service::plans(&ctx.app().db)
            .await?
            .into_iter()
            .map(Plan::from)
            .collect())
    }

    /// Your plan and how much of its monthly posting limit you used. UNAUTHORIZED when
    /// signed out.
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
