//! Checkout Sessions: how a client pays an order's escrow on Stripe's hosted page.

use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ProductData,
};
use stripe_shared::{CheckoutSessionMode, CheckoutSessionStatus};
use uuid::Uuid;

use stripe::StripeRequest;

use super::{currency, idempotent, order_metadata, ProviderError, Stripe, STAGE_METADATA_KEY};

/// What we ask a Checkout Session for.
pub struct CheckoutRequest<'a> {
    /// The idempotency key: one session per key.
    pub key: &'a str,
    pub order_id: Uuid,
    /// Which part of the order's amount the session pays (`FULL`, `DEPOSIT`, `BALANCE`),
    /// written into the metadata for the webhook.
    pub stage: &'a str,
    /// The line item's name (the order title).
    pub title: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// A Checkout Session as far as we keep it.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    /// `cs_…`
    pub id: String,
    /// Stripe's hosted payment page (none once the session is closed).
    pub url: Option<String>,
    /// Unix seconds after which the page no longer takes payments.
    pub expires_at: i64,
    /// Whether the page still takes a payment (not expired, not already paid).
    pub open: bool,
}

impl Stripe<'_> {
    /// Creates a Checkout Session in payment mode on the platform account (the funds stay
    /// with the platform: the escrow) for one line item, tagged with the order and the
    /// payment stage in the session's and the payment intent's metadata and with the order as
    /// `client_reference_id`. Idempotent by `key`.
    pub async fn create_checkout_session(
        &self,
        request: &CheckoutRequest<'_>,
    ) -> Result<CheckoutSession, ProviderError> {
        let mut metadata = order_metadata(Some(request.order_id));
        metadata.insert(STAGE_METADATA_KEY.to_owned(), request.stage.to_owned());
        let price = CreateCheckoutSessionLineItemsPriceData {
            product_data: Some(ProductData::new(request.title)),
            unit_amount: Some(request.amount_cents),
            ..CreateCheckoutSessionLineItemsPriceData::new(currency(request.currency))
        };
        let item = CreateCheckoutSessionLineItems {
            price_data: Some(price),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        };
        let payment_intent = CreateCheckoutSessionPaymentIntentData {
            metadata: Some(metadata.clone()),
            transfer_group: Some(format!("order_{}", request.order_id)),
            ..CreateCheckoutSessionPaymentIntentData::new()
        };
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .client_reference_id(request.order_id.to_string())
            .metadata(metadata)
            .payment_intent_data(payment_intent)
            .success_url(request.success_url)
            .cancel_url(request.cancel_url)
            .customize()
            .request_strategy(idempotent(request.key)?)
            .send(self.0)
            .await?;
        Ok(CheckoutSession {
            id: session.id.as_str().to_owned(),
            url: session.url.clone(),
            expires_at: session.expires_at,
            open: session.status == Some(CheckoutSessionStatus::Open),
        })
    }
}
