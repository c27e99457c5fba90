//! Rows and queries of plans, billing customers and subscriptions.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    by_id,
    schema::{billing_customers, plans, subscriptions, tasks, user_plans, users},
    text_enum::pg_enum,
};

/// The plan of everyone without a subscription in good standing or a granted plan.
pub const FREE_PLAN: &str = "free";
/// The paid plan sold through Stripe.
pub const PRO_PLAN: &str = "pro";

pg_enum! {
    /// Where a billing subscription stands, as Stripe last reported it. Only ACTIVE and
    /// TRIALING put you on the subscription's plan; every other status means the free plan.
    #[derive(async_graphql::Enum)]
    pub enum SubscriptionStatus {
        /// Created, but the first payment has not gone through yet.
        Incomplete = "INCOMPLETE",
        /// The first payment never went through: the subscription is over.
        IncompleteExpired = "INCOMPLETE_EXPIRED",
        /// In its free trial.
        Trialing = "TRIALING",
        /// Paid and running.
        Active = "ACTIVE",
        /// The latest payment failed; Stripe retries it.
        PastDue = "PAST_DUE",
        /// Stripe gave up retrying the payment; the subscription stays until paid or canceled.
        Unpaid = "UNPAID",
        /// Paused (a trial ended without a payment method).
        Paused = "PAUSED",
        /// Ended.
        Canceled = "CANCELED",
    }
}

impl SubscriptionStatus {
    /// Stripe's `status` text (`past_due` → `PastDue`); `None` for one we do not know.
    pub fn from_stripe(status: &str) -> Option<Self> {
        Self::parse(&status.to_ascii_uppercase())
    }

    /// Whether the subscriber is on the subscription's plan.
    pub fn grants_plan(self) -> bool {
        matches!(self, Self::Active | Self::Trialing)
    }

    /// Whether the subscription is alive at Stripe but not paid for (past due, unpaid,
    /// paused): the plan does not apply, and Stripe keeps trying to collect.
    pub fn awaits_payment(self) -> bool {
        matches!(self, Self::PastDue | Self::Unpaid | Self::Paused)
    }

    /// Whether the subscription is over for good: no later report changes it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Canceled | Self::IncompleteExpired)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = plans, check_for_backend(diesel::pg::Pg))]
pub struct PlanRow {
    pub id: String,
    pub name: String,
    pub monthly_post_limit: Option<i32>,
    pub price_cents: i64,
    pub currency: String,
}

pub async fn all(conn: &mut AsyncPgConnection) -> QueryResult<Vec<PlanRow>> {
    plans::table
        .order(plans::price_cents)
        .select(PlanRow::as_select())
        .load(conn)
        .await
}

by_id!(PlanRow, plans, key: &str, find: find);

/// The user's effective plan: the plan of their subscription in good standing (ACTIVE or
/// TRIALING), else the plan granted to them in `user_plans`, else free.
pub async fn of_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<PlanRow> {
    let subscribed: Option<String> = subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .filter(subscriptions::status.eq_any([SubscriptionStatus::Active, SubscriptionStatus::Trialing]))
        .order(subscriptions::created_at.desc())
        .select(subscriptions::plan_id)
        .first(conn)
        .await
        .optional()?;
    let plan_id = match subscribed {
        Some(plan_id) => Some(plan_id),
        None => user_plans::table
            .find(user_id)
            .select(user_plans::plan_id)
            .first(conn)
            .await
            .optional()?,
    };
    plans::table
        .find(plan_id.unwrap_or_else(|| FREE_PLAN.into()))
        .select(PlanRow::as_select())
        .first(conn)
        .await
}

pub async fn set(conn: &mut AsyncPgConnection, user_id: Uuid, plan_id: &str) -> QueryResult<()> {
    diesel::insert_into(user_plans::table)
        .values((user_plans::user_id.eq(user_id), user_plans::plan_id.eq(plan_id)))
        .on_conflict(user_plans::user_id)
        .do_update()
        .set((
            user_plans::plan_id.eq(plan_id),
            user_plans::started_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Tasks the user published since the start of the current calendar month (UTC).
pub async fn posts_this_month(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<i64> {
    tasks::table
        .filter(tasks::poster_id.eq(user_id))
        .filter(tasks::published_at.ge(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >(
            "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
        )))
        .count()
        .get_result(conn)
        .await
}

/// The user's Stripe Customer id, if they have one.
pub async fn customer_of_user(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<String>> {
    billing_customers::table
        .find(user_id)
        .select(billing_customers::stripe_customer_id)
        .first(conn)
        .await
        .optional()
}

/// Records `stripe_customer_id` as the user's customer unless they have one; answers the one
/// that is there afterwards.
pub async fn insert_customer_or_get(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    stripe_customer_id: &str,
) -> QueryResult<String> {
    diesel::insert_into(billing_customers::table)
        .values((
            billing_customers::user_id.eq(user_id),
            billing_customers::stripe_customer_id.eq(stripe_customer_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    billing_customers::table
        .find(user_id)
        .select(billing_customers::stripe_customer_id)
        .first(conn)
        .await
}

/// The user a Stripe Customer belongs to.
pub async fn user_of_customer(conn: &mut AsyncPgConnection, stripe_customer_id: &str) -> QueryResult<Option<Uuid>> {
    billing_customers::table
        .filter(billing_customers::stripe_customer_id.eq(stripe_customer_id))
        .select(billing_customers::user_id)
        .first(conn)
        .await
        .optional()
}

/// Whether user `id` exists.
pub async fn user_exists(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.find(id)))
        .get_result(conn)
        .await
}

/// A user's Stripe subscription as Stripe's webhooks last reported it.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = subscriptions, check_for_backend(diesel::pg::Pg))]
pub struct SubscriptionRow {
    pub stripe_subscription_id: String,
    pub user_id: Uuid,
    pub stripe_customer_id: String,
    pub plan_id: String,
    pub status: SubscriptionStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// Stripe's `created` time of the newest event applied.
    pub state_as_of: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Inserts `row` unless the subscription is already there: `true` when it went in.
pub async fn insert_subscription(conn: &mut AsyncPgConnection, row: &SubscriptionRow) -> QueryResult<bool> {
    diesel::insert_into(subscriptions::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(|n| n == 1)
}

by_id!(SubscriptionRow, subscriptions, key: &str, lock: lock_subscription);

/// The user's subscription that matters: one in good standing, else the newest.
pub async fn current_subscription(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<Option<SubscriptionRow>> {
    subscriptions::table
        .filter(subscriptions::user_id.eq(user_id))
        .order((
            diesel::dsl::sql::<diesel::sql_types::Bool>("status IN ('ACTIVE', 'TRIALING')").desc(),
            subscriptions::created_at.desc(),
        ))
        .select(SubscriptionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Stripe's state of a subscription at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState {
    pub status: SubscriptionStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    pub as_of: DateTime<Utc>,
}

/// Writes `state` on subscription `id`.
pub async fn set_subscription_state(
    conn: &mut AsyncPgConnection,
    id: &str,
    state: SubscriptionState,
    at: DateTime<Utc>,
) -> QueryResult<SubscriptionRow> {
    diesel::update(subscriptions::table.find(id))
        .set((
            subscriptions::status.eq(state.status),
            subscriptions::current_period_end.eq(state.current_period_end),
            subscriptions::cancel_at_period_end.eq(state.cancel_at_period_end),
            subscriptions::state_as_of.eq(state.as_of),
            subscriptions::updated_at.eq(at),
        ))
        .returning(SubscriptionRow::as_returning())
        .get_result(conn)
        .await
}

/// Sets the cancel-at-period-end flag Stripe answered, leaving `state_as_of` alone (the
/// webhook event of the change still orders itself against the others).
pub async fn set_cancel_at_period_end(
    conn: &mut AsyncPgConnection,
    id: &str,
    cancel_at_period_end: bool,
    at: DateTime<Utc>,
) -> QueryResult<SubscriptionRow> {
    diesel::update(subscriptions::table.find(id))
        .set((
            subscriptions::cancel_at_period_end.eq(cancel_at_period_end),
            subscriptions::updated_at.eq(at),
        ))
        .returning(SubscriptionRow::as_returning())
        .get_result(conn)
        .await
}
