//! Applying what Stripe's webhooks report about subscriptions, in the transaction that
//! records the event (`payment::webhook::process`).

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::{
    error::AppResult,
    notification::service::{self as notification, Kind},
    payment::{model::Outcome, service::is_newer},
    plan::model::{self, SubscriptionRow, SubscriptionState, SubscriptionStatus, PRO_PLAN},
};

/// A subscription as a `customer.subscription.*` event reports it.
#[derive(Debug, Clone)]
pub struct Reported {
    pub id: String,
    pub customer_id: String,
    /// Our user id from the subscription's metadata (set at checkout).
    pub metadata_user: Option<Uuid>,
    /// Our plan from the subscription's metadata (set at checkout).
    pub metadata_plan: Option<String>,
    pub status: SubscriptionStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
}

/// Applies a subscription's state as of `reported_at` (the event's time). A subscription we
/// do not hold yet is taken in when its customer (or its metadata) names one of our users,
/// whatever event type comes first. A state older than the one held is STALE; a final
/// status (CANCELED) is applied whenever it arrives and nothing changes it afterwards.
pub async fn apply_subscription(
    conn: &mut AsyncPgConnection,
    reported: &Reported,
    reported_at: DateTime<Utc>,
) -> AppResult<Outcome> {
    let now = Utc::now();
    let mut held = model::lock_subscription(conn, &reported.id).await?;
    if held.is_none() {
        let Some(user_id) = owner(conn, reported).await? else {
            return Ok(Outcome::Unmatched);
        };
        let plan_id = match &reported.metadata_plan {
            Some(plan) if model::find(conn, plan).await?.is_some() => plan.clone(),
            _ => PRO_PLAN.to_owned(),
        };
        let row = SubscriptionRow {
            stripe_subscription_id: reported.id.clone(),
            user_id,
            stripe_customer_id: reported.customer_id.clone(),
            plan_id,
            status: reported.status,
            current_period_end: reported.current_period_end,
            cancel_at_period_end: reported.cancel_at_period_end,
            state_as_of: reported_at,
            created_at: now,
            updated_at: now,
        };
        if model::insert_subscription(conn, &row).await? {
            tell(conn, &row, None).await?;
            return Ok(Outcome::Applied);
        }
        // Another event about it went in meanwhile: compare with that one.
        held = model::lock_subscription(conn, &reported.id).await?;
    }
    let Some(held) = held else {
        return Ok(Outcome::Unmatched);
    };
    let state = SubscriptionState {
        status: reported.status,
        current_period_end: reported.current_period_end.or(held.current_period_end),
        cancel_at_period_end: reported.cancel_at_period_end,
        as_of: reported_at.max(held.state_as_of),
    };
    if !replaces(&held, reported.status, reported_at) {
        return Ok(Outcome::Stale);
    }
    let updated = model::set_subscription_state(conn, &held.stripe_subscription_id, state, now).await?;
    tell(conn, &updated, Some(held.status)).await?;
    Ok(Outcome::Applied)
}

/// Applies an invoice of `subscription_id` at `reported_at`: paid puts a subscription that
/// waited for its payment (INCOMPLETE, PAST_DUE, UNPAID) back to ACTIVE, a failed payment
/// puts a running one to PAST_DUE. Older than the state held: STALE.
pub async fn apply_invoice(
    conn: &mut AsyncPgConnection,
    subscription_id: &str,
    paid: bool,
    reported_at: DateTime<Utc>,
) -> AppResult<Outcome> {
    let Some(held) = model::lock_subscription(conn, subscription_id).await? else {
        return Ok(Outcome::Unmatched);
    };
    let status = invoice_status(held.status, paid);
    if !replaces(&held, status, reported_at) {
        return Ok(Outcome::Stale);
    }
    let state = SubscriptionState {
        status,
        current_period_end: held.current_period_end,
        cancel_at_period_end: held.cancel_at_period_end,
        as_of: reported_at,
    };
    let updated = model::set_subscription_state(conn, subscription_id, state, Utc::now()).await?;
    tell(conn, &updated, Some(held.status)).await?;
    Ok(Outcome::Applied)
}

/// The status an invoice's outcome leaves a subscription in.
pub fn invoice_status(held: SubscriptionStatus, paid: bool) -> SubscriptionStatus {
    use SubscriptionStatus::*;
    match (held, paid) {
        (Incomplete | PastDue | Unpaid, true) => Active,
        (Active | Trialing, false) => PastDue,
        (other, _) => other,
    }
}

/// Whether a report of `status` at `reported_at` replaces what is `held`: nothing replaces a
/// final status; a final status replaces anything else, whenever it arrives (Stripe sends
/// nothing about a subscription after its end); otherwise the newer report wins.
pub fn replaces(held: &SubscriptionRow, status: SubscriptionStatus, reported_at: DateTime<Utc>) -> bool {
    if held.status.is_final() {
        return false;
    }
    status.is_final() || is_newer(reported_at, Some(held.state_as_of))
}

/// The user a subscription we do not hold yet belongs to: its customer's, or the one its
/// metadata names.
async fn owner(conn: &mut AsyncPgConnection, reported: &Reported) -> AppResult<Option<Uuid>> {
    if let Some(user) = model::user_of_customer(conn, &reported.customer_id).await? {
        return Ok(Some(user));
    }
    match reported.metadata_user {
        Some(user) if model::user_exists(conn, user).await? => Ok(Some(user)),
        _ => Ok(None),
    }
}

/// Tells the subscriber about a change that matters to them (PAYMENT notifications): the
/// plan starting, a payment failing, the subscription ending.
///
/// `before` is the status held before the change (`None`: a subscription first heard of).
async fn tell(
    conn: &mut AsyncPgConnection,
    row: &SubscriptionRow,
    before: Option<SubscriptionStatus>,
) -> AppResult<()> {
    let after = row.status;
    if before == Some(after) {
        return Ok(());
    }
    let plan = model::find(conn, &row.plan_id)
        .await?
        .map_or_else(|| row.plan_id.clone(), |p| p.name);
    let (title, body) = if after.grants_plan() && !before.is_some_and(SubscriptionStatus::grants_plan) {
        (
            format!("{plan} is on"),
            format!("Your {plan} subscription is active: its limits apply from now on."),
        )
    } else if matches!(after, SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid) {
        (
            "Your payment failed".to_owned(),
            format!(
                "Stripe could not take the payment for your {plan} subscription. Until it is paid the free \
                 plan's limits apply; update your card in the billing portal."
            ),
        )
    } else if after == SubscriptionStatus::Canceled && before.is_some() {
        // (One that ended before we heard of it ends nothing the user saw.)
        (
            format!("{plan} has ended"),
            format!("Your {plan} subscription ended; you are on the free plan."),
        )
    } else {
        return Ok(());
    };
    notification::notify(
        conn,
        row.user_id,
        Kind::Payment,
        &title,
        &body,
        serde_json::json!({ "subscriptionId": row.stripe_subscription_id, "status": after }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(status: SubscriptionStatus, as_of: DateTime<Utc>) -> SubscriptionRow {
        SubscriptionRow {
            stripe_subscription_id: "sub_1".into(),
            user_id: Uuid::nil(),
            stripe_customer_id: "cus_1".into(),
            plan_id: PRO_PLAN.into(),
            status,
            current_period_end: None,
            cancel_at_period_end: false,
            state_as_of: as_of,
            created_at: as_of,
            updated_at: as_of,
        }
    }

    #[test]
    fn older_reports_are_stale_and_canceled_is_final() {
        use SubscriptionStatus::*;
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let earlier = t - chrono::Duration::seconds(5);
        assert!(replaces(&held(Active, t), PastDue, t));
        assert!(!replaces(&held(Active, t), PastDue, earlier));
        assert!(
            replaces(&held(PastDue, t), Canceled, earlier),
            "the end wins whenever it comes"
        );
        assert!(
            !replaces(&held(Canceled, earlier), Active, t),
            "nothing comes after the end"
        );
    }

    #[test]
    fn invoices_move_only_what_waits_for_them() {
        use SubscriptionStatus::*;
        assert_eq!(invoice_status(PastDue, true), Active);
        assert_eq!(invoice_status(Incomplete, true), Active);
        assert_eq!(invoice_status(Trialing, true), Trialing);
        assert_eq!(invoice_status(Active, false), PastDue);
        assert_eq!(invoice_status(Canceled, false), Canceled);
    }

    #[test]
    fn only_active_and_trialing_grant_the_plan() {
        for status in SubscriptionStatus::ALL {
            assert_eq!(
                status.grants_plan(),
                matches!(status, SubscriptionStatus::Active | SubscriptionStatus::Trialing)
            );
        }
        assert_eq!(
            SubscriptionStatus::from_stripe("past_due"),
            Some(SubscriptionStatus::PastDue)
        );
        assert_eq!(
            SubscriptionStatus::from_stripe("incomplete_expired"),
            Some(SubscriptionStatus::IncompleteExpired)
        );
        assert_eq!(SubscriptionStatus::from_stripe("something_new"), None);
    }
}
