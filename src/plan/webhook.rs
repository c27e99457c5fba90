//! Stripe's events about billing subscriptions: `customer.subscription.created` /
//! `updated` / `deleted`, `invoice.paid` and `invoice.payment_failed`. Each handler reads the
//! few fields it needs leniently ([`Verified::object`]) and applies them through
//! [`service::subscription`] inside the recording transaction (`payment::webhook::process`).
//! They are registered in `HANDLERS` of `src/http/webhooks.rs`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;

use super::{
    model::SubscriptionStatus,
    service::subscription::{self, Reported},
};
use crate::{
    error::AppResult,
    payment::{model::Outcome, provider::PLAN_METADATA_KEY, service::metadata_user, webhook::Verified},
    state::AppState,
};

/// `customer.subscription.created` and `customer.subscription.updated`: the subscription's
/// state as of the event.
pub fn subscription_changed<'a>(
    _app: &'a AppState,
    conn: &'a mut AsyncPgConnection,
    verified: &'a Verified,
) -> BoxFuture<'a, AppResult<Outcome>> {
    Box::pin(async move {
        let object: SubscriptionObject = verified.object()?;
        let Some(status) = SubscriptionStatus::from_stripe(&object.status) else {
            tracing::warn!(
                event_id = verified.id,
                status = object.status,
                "a subscription status we do not know"
            );
            return Ok(Outcome::Unmatched);
        };
        subscription::apply_subscription(conn, &object.reported(status), verified.created).await
    })
}

/// `customer.subscription.deleted`: the subscription ended (final, whatever its object says).
pub fn subscription_deleted<'a>(
    _app: &'a AppState,
    conn: &'a mut AsyncPgConnection,
    verified: &'a Verified,
) -> BoxFuture<'a, AppResult<Outcome>> {
    Box::pin(async move {
        let object: SubscriptionObject = verified.object()?;
        subscription::apply_subscription(conn, &object.reported(SubscriptionStatus::Canceled), verified.created).await
    })
}

/// `invoice.paid`: the invoice's subscription is paid up.
pub fn invoice_paid<'a>(
    _app: &'a AppState,
    conn: &'a mut AsyncPgConnection,
    verified: &'a Verified,
) -> BoxFuture<'a, AppResult<Outcome>> {
    Box::pin(invoice(conn, verified, true))
}

/// `invoice.payment_failed`: the invoice's subscription is past due.
pub fn invoice_payment_failed<'a>(
    _app: &'a AppState,
    conn: &'a mut AsyncPgConnection,
    verified: &'a Verified,
) -> BoxFuture<'a, AppResult<Outcome>> {
    Box::pin(invoice(conn, verified, false))
}

async fn invoice(conn: &mut AsyncPgConnection, verified: &Verified, paid: bool) -> AppResult<Outcome> {
    let object: InvoiceObject = verified.object()?;
    match object.subscription_id() {
        Some(id) => subscription::apply_invoice(conn, id, paid, verified.created).await,
        // A one-off invoice: nothing of billing plans.
        None => Ok(Outcome::Unmatched),
    }
}

/// An id, or the expanded object carrying it.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Expandable {
    Id(String),
    Object { id: String },
}

impl Expandable {
    fn id(&self) -> &str {
        match self {
            Expandable::Id(id) | Expandable::Object { id } => id,
        }
    }
}

/// What we read of a Subscription object. `current_period_end` sits on the subscription in
/// API versions before 2025-03-31 and on each item since: both are read.
#[derive(serde::Deserialize)]
struct SubscriptionObject {
    id: String,
    customer: Expandable,
    status: String,
    #[serde(default)]
    cancel_at_period_end: bool,
    #[serde(default)]
    current_period_end: Option<i64>,
    #[serde(default)]
    items: Option<Items>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

#[derive(serde::Deserialize)]
struct Items {
    #[serde(default)]
    data: Vec<Item>,
}

#[derive(serde::Deserialize)]
struct Item {
    #[serde(default)]
    current_period_end: Option<i64>,
}

impl SubscriptionObject {
    fn period_end(&self) -> Option<DateTime<Utc>> {
        let on_items = self
            .items
            .iter()
            .flat_map(|items| &items.data)
            .filter_map(|item| item.current_period_end)
            .max();
        self.current_period_end
            .or(on_items)
            .and_then(|t| DateTime::from_timestamp(t, 0))
    }

    fn reported(&self, status: SubscriptionStatus) -> Reported {
        Reported {
            id: self.id.clone(),
            customer_id: self.customer.id().to_owned(),
            metadata_user: metadata_user(self.metadata.as_ref()),
            metadata_plan: self.metadata.as_ref().and_then(|m| m.get(PLAN_METADATA_KEY)).cloned(),
            status,
            current_period_end: self.period_end(),
            cancel_at_period_end: self.cancel_at_period_end,
        }
    }
}

/// What we read of an Invoice object: its subscription sits at `subscription` in API
/// versions before 2025-03-31 and at `parent.subscription_details.subscription` since.
#[derive(serde::Deserialize)]
struct InvoiceObject {
    #[serde(default)]
    subscription: Option<Expandable>,
    #[serde(default)]
    parent: Option<InvoiceParent>,
}

#[derive(serde::Deserialize)]
struct InvoiceParent {
    #[serde(default)]
    subscription_details: Option<SubscriptionDetails>,
}

#[derive(serde::Deserialize)]
struct SubscriptionDetails {
    #[serde(default)]
    subscription: Option<Expandable>,
}

impl InvoiceObject {
    fn subscription_id(&self) -> Option<&str> {
        self.subscription
            .as_ref()
            .or_else(|| {
                self.parent
                    .as_ref()?
                    .subscription_details
                    .as_ref()?
                    .subscription
                    .as_ref()
            })
            .map(Expandable::id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_period_end_is_read_from_the_subscription_or_its_items() {
        let old: SubscriptionObject = serde_json::from_value(json!({
            "id": "sub_1", "customer": "cus_1", "status": "active", "current_period_end": 1_800_000_000
        }))
        .unwrap();
        assert_eq!(old.period_end().map(|t| t.timestamp()), Some(1_800_000_000));
        let new: SubscriptionObject = serde_json::from_value(json!({
            "id": "sub_1", "customer": { "id": "cus_1", "object": "customer" }, "status": "past_due",
            "items": { "object": "list", "data": [{ "current_period_end": 1_800_000_100 }, { "current_period_end": null }] },
            "metadata": { "gigmarket_plan": "pro" }
        }))
        .unwrap();
        let reported = new.reported(SubscriptionStatus::PastDue);
        assert_eq!(reported.current_period_end.map(|t| t.timestamp()), Some(1_800_000_100));
        assert_eq!(reported.customer_id, "cus_1");
        assert_eq!(reported.metadata_plan.as_deref(), Some("pro"));
    }

    #[test]
    fn the_invoice_subscription_is_read_where_either_api_version_puts_it() {
        let old: InvoiceObject = serde_json::from_value(json!({ "id": "in_1", "subscription": "sub_old" })).unwrap();
        assert_eq!(old.subscription_id(), Some("sub_old"));
        let new: InvoiceObject = serde_json::from_value(json!({
            "id": "in_2", "subscription": null,
            "parent": { "type": "subscription_details", "subscription_details": { "subscription": "sub_new" } }
        }))
        .unwrap();
        assert_eq!(new.subscription_id(), Some("sub_new"));
        let one_off: InvoiceObject = serde_json::from_value(json!({ "id": "in_3", "parent": null })).unwrap();
        assert_eq!(one_off.subscription_id(), None);
    }
}
