//! Payments over GraphQL: `startPayoutOnboarding` and `myPayoutAccount`.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use super::{model::PayoutAccountRow, service};
use crate::graphql::context::ContextExt;

/// Your Stripe Connect account, where released payments are transferred. Its flags are
/// Stripe's, as its webhooks last reported them.
#[derive(async_graphql::Description)]
pub struct PayoutAccount(PayoutAccountRow);

#[Object(use_type_description)]
impl PayoutAccount {
    /// Stripe's id of the connected account (`acct_…`).
    async fn stripe_account_id(&self) -> &str {
        &self.0.stripe_account_id
    }
    /// Whether Stripe lets the account take charges.
    async fn charges_enabled(&self) -> bool {
        self.0.charges_enabled
    }
    /// Whether Stripe pays the account out to its bank: until then released payments wait
    /// on the account.
    async fn payouts_enabled(&self) -> bool {
        self.0.payouts_enabled
    }
    /// Whether you finished Stripe's onboarding form (Stripe may still be checking it).
    async fn details_submitted(&self) -> bool {
        self.0.details_submitted
    }
    /// When Stripe reported the flags above (UTC); null until Stripe first reports.
    async fn state_as_of(&self) -> Option<DateTime<Utc>> {
        self.0.state_as_of
    }
    /// When the account was created (UTC).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A Stripe-hosted onboarding page for your payout account.
#[derive(async_graphql::Description)]
pub struct PayoutOnboarding(service::Onboarding);

#[Object(use_type_description)]
impl PayoutOnboarding {
    /// Open it in the browser: it works once, until `expiresAt`. Ask again for a fresh one.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// When `url` stops working (UTC).
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    /// The payout account the page is for.
    async fn account(&self) -> PayoutAccount {
        PayoutAccount(self.0.account.clone())
    }
}

#[derive(Default)]
pub struct PaymentQuery;

#[Object]
impl PaymentQuery {
    /// Your payout account (null until you start payout onboarding).
    async fn my_payout_account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PayoutAccount>> {
        let viewer = ctx.viewer()?;
        Ok(service::payout_account(ctx.app(), viewer.id())
            .await?
            .map(PayoutAccount))
    }
}

#[derive(Default)]
pub struct PaymentMutation;

#[Object]
impl PaymentMutation {
    /// Starts (or resumes) Stripe Connect onboarding, so that payments released to you reach
    /// your bank account: creates your Express payout account the first time (only ever
    /// one) and returns a fresh one-time link to Stripe's onboarding page, which sends you
    /// back to PUBLIC_URL `/payouts/onboarding/return` (or `/refresh` when the link expired).
    /// PROVIDER_NOT_CONFIGURED on a server without Stripe keys; PROVIDER_ERROR when Stripe
    /// fails (safe to retry).
    async fn start_payout_onboarding(&self, ctx: &Context<'_>) -> async_graphql::Result<PayoutOnboarding> {
        let viewer = ctx.viewer()?;
        let onboarding = service::start_payout_onboarding(ctx.app(), &viewer.user).await?;
        Ok(PayoutOnboarding(onboarding))
    }
}
