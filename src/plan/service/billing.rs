//! Buying and managing the Pro plan through Stripe: checkout, the billing portal and
//! cancelling at the period's end.
//!
//! Transaction contract (as in `payment::service`): a Stripe call never runs inside a
//! database transaction nor while holding a pooled connection; what it answers is written
//! afterwards, keyed so that a retry or a concurrent call changes nothing twice.

use chrono::Utc;
use uuid::Uuid;

use super::super::model::{self, PlanRow, SubscriptionRow, PRO_PLAN};
use crate::{
    error::{AppError, AppResult},
    payment::provider::{self, SubscriptionCheckout},
    profile::model::UserRow,
    state::AppState,
};

/// Where Stripe sends the buyer after paying, under `PUBLIC_URL` (Stripe fills in the
/// session id). The plan changes when Stripe's webhook says so, not on this redirect.
pub const CHECKOUT_SUCCESS_PATH: &str = "/billing/success?session_id={CHECKOUT_SESSION_ID}";
/// Where Stripe sends the buyer who backs out of checkout, under `PUBLIC_URL`.
pub const CHECKOUT_CANCEL_PATH: &str = "/billing/cancel";
/// Where the billing portal sends the user back, under `PUBLIC_URL`.
pub const PORTAL_RETURN_PATH: &str = "/billing";

/// A subscription with its plan.
pub struct SubscriptionView {
    pub subscription: SubscriptionRow,
    pub plan: PlanRow,
}

/// The user's subscription that matters (one in good standing, else the newest), if any.
pub async fn subscription(app: &AppState, user_id: Uuid) -> AppResult<Option<SubscriptionView>> {
    let mut conn = app.db.conn().await?;
    let Some(subscription) = model::current_subscription(&mut conn, user_id).await? else {
        return Ok(None);
    };
    let plan = model::find(&mut conn, &subscription.plan_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("plan {} is gone", subscription.plan_id)))?;
    Ok(Some(SubscriptionView { subscription, plan }))
}

/// A Stripe Checkout page where the user subscribes to Pro. Creates their Stripe Customer
/// the first time (only ever one: the call carries a key made from the user id, and the row
/// is keyed by user). CONFLICT when they already are on Pro through Stripe, and while their
/// Pro subscription is past due, unpaid or paused: a second one would bill them twice; the
/// card is fixed in the billing portal instead.
pub async fn create_checkout(app: &AppState, user: &UserRow) -> AppResult<String> {
    let stripe = provider::stripe(app)?;
    let price_id = app
        .config
        .payments
        .stripe_pro_price_id
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            AppError::ProviderNotConfigured(
                "The Pro plan cannot be bought on this server: it has no Stripe price for it \
                 (STRIPE_PRO_PRICE_ID)."
                    .into(),
            )
        })?;
    let customer = {
        let mut conn = app.db.conn().await?;
        if let Some(current) = model::current_subscription(&mut conn, user.id).await? {
            if current.plan_id == PRO_PLAN && current.status.grants_plan() {
                return Err(AppError::Conflict(
                    "You are already on Pro. Manage or cancel it in the billing portal (createBillingPortal).".into(),
                ));
            }
            if current.plan_id == PRO_PLAN && current.status.awaits_payment() {
                return Err(AppError::Conflict(
                    "Your Pro subscription is waiting for a payment. Update your card in the billing portal \
                     (createBillingPortal) instead of subscribing again."
                        .into(),
                ));
            }
        }
        model::customer_of_user(&mut conn, user.id).await?
    };
    let customer = match customer {
        Some(customer) => customer,
        None => {
            let created = stripe.create_customer(user.id, &user.email, &user.full_name).await?;
            let mut conn = app.db.conn().await?;
            model::insert_customer_or_get(&mut conn, user.id, &created).await?
        }
    };
    let base = &app.config.public_url;
    let url = stripe
        .create_subscription_checkout(&SubscriptionCheckout {
            user_id: user.id,
            customer_id: &customer,
            price_id,
            plan_id: PRO_PLAN,
            success_url: &format!("{base}{CHECKOUT_SUCCESS_PATH}"),
            cancel_url: &format!("{base}{CHECKOUT_CANCEL_PATH}"),
        })
        .await?;
    Ok(url)
}

/// A Stripe billing portal page for the user's customer (card, invoices, plan). NOT_FOUND
/// before their first checkout.
pub async fn create_portal(app: &AppState, user_id: Uuid) -> AppResult<String> {
    let stripe = provider::stripe(app)?;
    let customer = {
        let mut conn = app.db.conn().await?;
        model::customer_of_user(&mut conn, user_id).await?
    };
    let customer = customer.ok_or_else(|| {
        AppError::NotFound("You have no billing account yet: subscribe first (createBillingCheckout).".into())
    })?;
    let base = &app.config.public_url;
    Ok(stripe
        .create_billing_portal(&customer, &format!("{base}{PORTAL_RETURN_PATH}"))
        .await?)
}

/// Cancels the user's subscription at the end of its period (it keeps its plan until then;
/// Stripe's `customer.subscription.deleted` ends it). NOT_FOUND without a running
/// subscription; asking again changes nothing.
pub async fn cancel(app: &AppState, user_id: Uuid) -> AppResult<SubscriptionView> {
    let stripe = provider::stripe(app)?;
    let current = {
        let mut conn = app.db.conn().await?;
        model::current_subscription(&mut conn, user_id).await?
    };
    let current = current
        .filter(|s| !s.status.is_final())
        .ok_or_else(|| AppError::NotFound("You have no subscription to cancel.".into()))?;
    if !current.cancel_at_period_end {
        let answer = stripe.cancel_at_period_end(&current.stripe_subscription_id).await?;
        let mut conn = app.db.conn().await?;
        model::set_cancel_at_period_end(
            &mut conn,
            &current.stripe_subscription_id,
            answer.cancel_at_period_end,
            Utc::now(),
        )
        .await?;
    }
    subscription(app, user_id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("subscription of {user_id} vanished")))
}
