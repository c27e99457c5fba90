//! The payment provider as this app uses it: the few Stripe calls we make, through the
//! async-stripe client built at start-up (`AppState::stripe`), each with a stable idempotency
//! key where a retry must not do the work twice. Stripe's answers are turned into
//! [`ProviderError`] here; nothing above this file sees an async-stripe error.

mod checkout;

pub use self::checkout::{CheckoutRequest, CheckoutSession};

mod billing;

pub use billing::{billing_customer_key, cancel_subscription_key, Cancelled, SubscriptionCheckout, PLAN_METADATA_KEY};
use stripe::{RequestStrategy, StripeError, StripeRequest};
use stripe_connect::{
    account::{CreateAccount, CreateAccountCapabilities, CreateAccountCapabilitiesTransfers, CreateAccountType},
    account_link::{CreateAccountLink, CreateAccountLinkType},
    transfer::CreateTransfer,
};
use stripe_core::refund::CreateRefund;
use uuid::Uuid;

use crate::state::AppState;

/// The Stripe API version every request and every webhook body we read follows: the one
/// async-stripe was generated for (the client sends it as `Stripe-Version`). Configure the
/// webhook endpoint in the Stripe dashboard with the same version.
pub const STRIPE_API_VERSION: &str = "2026-09-30.endive";

/// The metadata key that ties a Stripe object to our user (read back by the webhook).
pub const USER_METADATA_KEY: &str = "gigmarket_user_id";
/// The metadata key that ties a Stripe object to our order.
pub const ORDER_METADATA_KEY: &str = "gigmarket_order_id";
/// The metadata key naming which part of the order's amount a payment pays (`FULL`,
/// `DEPOSIT`, `BALANCE`).
pub const STAGE_METADATA_KEY: &str = "gigmarket_payment_stage";

/// Why a provider call did not happen or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No `STRIPE_SECRET_KEY` on this server.
    #[error("the payment provider is not configured")]
    NotConfigured,
    /// Stripe answered with an error (a refusal, a declined card, an outage).
    #[error("Stripe answered {status}: {kind} {code}: {message}")]
    Refused {
        status: u16,
        kind: String,
        code: String,
        message: String,
    },
    /// Stripe could not be reached, timed out, or answered something unreadable.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
}

impl From<StripeError> for ProviderError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(errors, status) => ProviderError::Refused {
                status,
                kind: errors.type_.as_str().to_owned(),
                code: errors.code.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
                message: errors.message.clone().unwrap_or_default(),
            },
            StripeError::Timeout => ProviderError::Unreachable("timed out".into()),
            StripeError::ClientError(m) | StripeError::JSONDeserialize(m) | StripeError::ConfigError(m) => {
                ProviderError::Unreachable(m)
            }
        }
    }
}

/// A connected account as far as we keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedAccount {
    pub id: String,
    pub charges_enabled: bool,
    pub payouts_enabled: bool,
    pub details_submitted: bool,
}

impl From<&stripe_connect::Account> for ConnectedAccount {
    fn from(account: &stripe_connect::Account) -> Self {
        Self {
            id: account.id.as_str().to_owned(),
            charges_enabled: account.charges_enabled.unwrap_or(false),
            payouts_enabled: account.payouts_enabled.unwrap_or(false),
            details_submitted: account.details_submitted.unwrap_or(false),
        }
    }
}

/// A one-time onboarding link of a connected account.
#[derive(Debug, Clone)]
pub struct OnboardingLink {
    pub url: String,
    pub expires_at: i64,
}

/// The Stripe client, or `NotConfigured`.
pub struct Stripe<'a>(&'a stripe::Client);

/// The configured Stripe client of `app`.
pub fn stripe(app: &AppState) -> Result<Stripe<'_>, ProviderError> {
    app.stripe.as_ref().map(Stripe).ok_or(ProviderError::NotConfigured)
}

/// The idempotency key of the one connected account a user ever gets.
pub fn payout_account_key(user_id: Uuid) -> String {
    format!("gigmarket:payout-account:{user_id}")
}

/// Stripe's currency for our ISO 4217 code (`USD` → `usd`).
fn currency(code: &str) -> stripe_types::Currency {
    // Infallible: an unknown code becomes `Unknown` and Stripe refuses it with a clear error.
    let Ok(currency) = code.to_ascii_lowercase().parse();
    currency
}

/// Metadata naming our order (and nothing when there is none).
fn order_metadata(order_id: Option<Uuid>) -> std::collections::HashMap<String, String> {
    order_id
        .map(|id| (ORDER_METADATA_KEY.to_owned(), id.to_string()))
        .into_iter()
        .collect()
}

pub(crate) fn idempotent(key: &str) -> Result<RequestStrategy, ProviderError> {
    stripe::IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| ProviderError::Unreachable(format!("idempotency key: {e}")))
}

impl Stripe<'_> {
    /// Creates the Express connected account of `user_id` (transfers requested), tagged with
    /// the user id. Idempotent per user: a repeat (within Stripe's 24 h key window) answers
    /// the same account.
    pub async fn create_express_account(&self, user_id: Uuid, email: &str) -> Result<ConnectedAccount, ProviderError> {
        let capabilities = CreateAccountCapabilities {
            transfers: Some(CreateAccountCapabilitiesTransfers { requested: Some(true) }),
            ..CreateAccountCapabilities::new()
        };
        let metadata = std::collections::HashMap::from([(USER_METADATA_KEY.to_owned(), user_id.to_string())]);
        let request = CreateAccount::new()
            .type_(CreateAccountType::Express)
            .email(email)
            .capabilities(capabilities)
            .metadata(metadata);
        let account = request
            .customize()
            .request_strategy(idempotent(&payout_account_key(user_id))?)
            .send(self.0)
            .await?;
        Ok(ConnectedAccount::from(&account))
    }

    /// A fresh onboarding link for `account_id` (links are single-use and expire in minutes,
    /// so each call makes a new one).
    pub async fn create_onboarding_link(
        &self,
        account_id: &str,
        refresh_url: &str,
        return_url: &str,
    ) -> Result<OnboardingLink, ProviderError> {
        let link = CreateAccountLink::new(account_id, CreateAccountLinkType::AccountOnboarding)
            .refresh_url(refresh_url)
            .return_url(return_url)
            .send(self.0)
            .await?;
        Ok(OnboardingLink {
            url: link.url,
            expires_at: link.expires_at,
        })
    }
}

impl Stripe<'_> {
    /// Transfers `amount_cents` from the platform balance to the connected account
    /// `destination`, tagged with the order it pays for. Idempotent by `key`. Answers the
    /// transfer id (`tr_…`).
    pub async fn create_transfer(
        &self,
        key: &str,
        destination: &str,
        amount_cents: i64,
        currency_code: &str,
        order_id: Option<Uuid>,
    ) -> Result<String, ProviderError> {
        let mut request = CreateTransfer::new(currency(currency_code), destination)
            .amount(amount_cents)
            .metadata(order_metadata(order_id));
        if let Some(order) = order_id {
            request = request.transfer_group(format!("order_{order}"));
        }
        let transfer = request
            .customize()
            .request_strategy(idempotent(key)?)
            .send(self.0)
            .await?;
        Ok(transfer.id.as_str().to_owned())
    }

    /// Refunds `amount_cents` of the payment `payment_intent` to the card that paid it.
    /// Idempotent by `key`. Answers the refund id (`re_…`).
    pub async fn create_refund(
        &self,
        key: &str,
        payment_intent: &str,
        amount_cents: i64,
        order_id: Option<Uuid>,
    ) -> Result<String, ProviderError> {
        let refund = CreateRefund::new()
            .payment_intent(payment_intent)
            .amount(amount_cents)
            .metadata(order_metadata(order_id))
            .customize()
            .request_strategy(idempotent(key)?)
            .send(self.0)
            .await?;
        Ok(refund.id.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_api_version_is_the_one_async_stripe_speaks() {
        assert_eq!(stripe_shared::version::VERSION.as_str(), STRIPE_API_VERSION);
    }

    #[test]
    fn the_payout_account_key_is_stable_and_valid() {
        let user = Uuid::nil();
        assert_eq!(payout_account_key(user), payout_account_key(user));
        assert!(idempotent(&payout_account_key(user)).is_ok());
    }
}
