//! The Stripe Billing calls of billing plans: a Customer per user, a Checkout Session in
//! subscription mode, a billing portal session, and cancelling at the period's end.

use std::collections::HashMap;

use stripe::StripeRequest;
use stripe_billing::{billing_portal_session::CreateBillingPortalSession, subscription::UpdateSubscription};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_core::customer::CreateCustomer;
use uuid::Uuid;

use super::{idempotent, ProviderError, Stripe, USER_METADATA_KEY};

/// The metadata key naming our plan on a subscription (read back by the webhook).
pub const PLAN_METADATA_KEY: &str = "gigmarket_plan";

/// The idempotency key of the one Customer a user ever gets.
pub fn billing_customer_key(user_id: Uuid) -> String {
    format!("gigmarket:billing-customer:{user_id}")
}

/// The idempotency key of cancelling `subscription_id` at its period's end.
pub fn cancel_subscription_key(subscription_id: &str) -> String {
    format!("gigmarket:cancel-at-period-end:{subscription_id}")
}

/// What subscription checkout needs.
pub struct SubscriptionCheckout<'a> {
    pub user_id: Uuid,
    pub customer_id: &'a str,
    pub price_id: &'a str,
    /// Our plan the price is for (`pro`).
    pub plan_id: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// What cancelling answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled {
    pub cancel_at_period_end: bool,
}

fn user_metadata(user_id: Uuid) -> HashMap<String, String> {
    HashMap::from([(USER_METADATA_KEY.to_owned(), user_id.to_string())])
}

impl Stripe<'_> {
    /// Creates the Customer of `user_id`, tagged with the user id. Idempotent per user: a
    /// repeat (within Stripe's 24 h key window) answers the same customer. Answers its id
    /// (`cus_…`).
    pub async fn create_customer(&self, user_id: Uuid, email: &str, name: &str) -> Result<String, ProviderError> {
        let customer = CreateCustomer::new()
            .email(email)
            .name(name)
            .metadata(user_metadata(user_id))
            .customize()
            .request_strategy(idempotent(&billing_customer_key(user_id))?)
            .send(self.0)
            .await?;
        Ok(customer.id.as_str().to_owned())
    }

    /// A Checkout Session in subscription mode for one unit of `price_id`, for the user's
    /// customer; the user id goes in the metadata of the session and of the subscription it
    /// creates (with the plan). Each call makes a fresh session (an unused one expires).
    /// Answers the session's URL.
    pub async fn create_subscription_checkout(
        &self,
        checkout: &SubscriptionCheckout<'_>,
    ) -> Result<String, ProviderError> {
        let item = CreateCheckoutSessionLineItems {
            price: Some(checkout.price_id.to_owned()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        };
        let mut subscription_metadata = user_metadata(checkout.user_id);
        subscription_metadata.insert(PLAN_METADATA_KEY.to_owned(), checkout.plan_id.to_owned());
        let subscription_data = CreateCheckoutSessionSubscriptionData {
            metadata: Some(subscription_metadata),
            ..CreateCheckoutSessionSubscriptionData::new()
        };
        let session = CreateCheckoutSession::new()
            .mode(stripe_shared::CheckoutSessionMode::Subscription)
            .customer(checkout.customer_id)
            .client_reference_id(checkout.user_id.to_string())
            .line_items(vec![item])
            .subscription_data(subscription_data)
            .metadata(user_metadata(checkout.user_id))
            .success_url(checkout.success_url)
            .cancel_url(checkout.cancel_url)
            .send(self.0)
            .await?;
        session
            .url
            .ok_or_else(|| ProviderError::Unreachable(format!("checkout session {} has no url", session.id.as_str())))
    }

    /// A billing portal session for `customer_id`, returning to `return_url`. Answers its URL.
    pub async fn create_billing_portal(&self, customer_id: &str, return_url: &str) -> Result<String, ProviderError> {
        let session = CreateBillingPortalSession::new()
            .customer(customer_id)
            .return_url(return_url)
            .send(self.0)
            .await?;
        Ok(session.url)
    }

    /// Sets `cancel_at_period_end` on `subscription_id` (it runs until the period ends, then
    /// Stripe cancels it). Idempotent per subscription.
    pub async fn cancel_at_period_end(&self, subscription_id: &str) -> Result<Cancelled, ProviderError> {
        let subscription = UpdateSubscription::new(subscription_id)
            .cancel_at_period_end(true)
            .customize()
            .request_strategy(idempotent(&cancel_subscription_key(subscription_id))?)
            .send(self.0)
            .await?;
        Ok(Cancelled {
            cancel_at_period_end: subscription.cancel_at_period_end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_keys_are_stable_and_valid() {
        let user = Uuid::nil();
        assert_eq!(billing_customer_key(user), billing_customer_key(user));
        assert!(idempotent(&billing_customer_key(user)).is_ok());
        assert!(idempotent(&cancel_subscription_key("sub_123")).is_ok());
    }
}
