//! Plans and usage over GraphQL.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{
    model::{PlanRow, SubscriptionStatus},
    service,
};
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
    /// Your plan: the plan of your subscription while it is ACTIVE or TRIALING, else the
    /// free plan (unless another was granted to you).
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

    /// Your Stripe subscription (the one in good standing, else the newest); null when you
    /// never subscribed. UNAUTHORIZED when signed out.
    async fn subscription(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<BillingSubscription>> {
        let viewer = ctx.viewer()?.id();
        Ok(service::billing::subscription(ctx.app(), viewer)
            .await?
            .map(BillingSubscription))
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

/// Your Stripe subscription, as Stripe's webhooks last reported it. You are on its plan
/// while its status is ACTIVE or TRIALING; any other status means the free plan.
#[derive(async_graphql::Description)]
pub struct BillingSubscription(service::billing::SubscriptionView);

#[Object(use_type_description)]
impl BillingSubscription {
    /// Stripe's id of the subscription (`sub_…`).
    async fn id(&self) -> &str {
        &self.0.subscription.stripe_subscription_id
    }
    /// The plan it is for.
    async fn plan(&self) -> Plan {
        self.0.plan.clone().into()
    }
    /// Where it stands.
    async fn status(&self) -> SubscriptionStatus {
        self.0.subscription.status
    }
    /// When the period paid for ends (UTC): the next renewal, or the end when
    /// `cancelAtPeriodEnd`.
    async fn current_period_end(&self) -> Option<DateTime<Utc>> {
        self.0.subscription.current_period_end
    }
    /// Whether it ends at `currentPeriodEnd` instead of renewing.
    async fn cancel_at_period_end(&self) -> bool {
        self.0.subscription.cancel_at_period_end
    }
}

#[derive(Default)]
pub struct PlanMutation;

#[Object]
impl PlanMutation {
    /// A Stripe Checkout page (its URL) where you subscribe to Pro. Your plan changes when
    /// Stripe confirms the subscription (its webhook), not when the page sends you back to
    /// PUBLIC_URL `/billing/success` (or `/billing/cancel`). CONFLICT when you already are on
    /// Pro, or while your Pro subscription is past due, unpaid or paused (fix the card in
    /// `createBillingPortal`; a second subscription would bill twice); PROVIDER_NOT_CONFIGURED on a server without Stripe keys or without a Pro price
    /// (STRIPE_PRO_PRICE_ID); PROVIDER_ERROR when Stripe fails (safe to retry).
    async fn create_billing_checkout(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let viewer = ctx.viewer()?;
        Ok(service::billing::create_checkout(ctx.app(), &viewer.user).await?)
    }

    /// A Stripe billing portal page (its URL) to change your card, see invoices or cancel;
    /// it sends you back to PUBLIC_URL `/billing`. NOT_FOUND before your first checkout.
    async fn create_billing_portal(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let viewer = ctx.viewer()?.id();
        Ok(service::billing::create_portal(ctx.app(), viewer).await?)
    }

    /// Cancels your subscription at the end of the period paid for: you keep its plan until
    /// `currentPeriodEnd`, then you are on the free plan. NOT_FOUND without a running
    /// subscription; asking again changes nothing.
    async fn cancel_subscription(&self, ctx: &Context<'_>) -> async_graphql::Result<BillingSubscription> {
        let viewer = ctx.viewer()?.id();
        Ok(BillingSubscription(service::billing::cancel(ctx.app(), viewer).await?))
    }
}
