//! Payment operations: Connect payout onboarding, and applying what Stripe's webhooks report
//! about connected accounts.
//!
//! Transaction contract: a Stripe call never runs inside a database transaction (nor while
//! holding a pooled connection); its result is written afterwards, keyed so that a retry or a
//! webhook that overtook the answer changes nothing twice.

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use super::{
    model::{self, AccountState, Outcome, PayoutAccountRow},
    outbox,
    provider::{self, ConnectedAccount, ProviderError, USER_METADATA_KEY},
};
use crate::{
    error::{AppError, AppResult},
    notification::service::{self as notification, Kind},
    profile::model::UserRow,
    state::AppState,
};

/// Where Stripe sends the freelancer back after onboarding, under `PUBLIC_URL`.
pub const ONBOARDING_RETURN_PATH: &str = "/payouts/onboarding/return";
/// Where Stripe sends the freelancer when a link expired or was used, under `PUBLIC_URL`:
/// the page there asks for a fresh link (`startPayoutOnboarding`).
pub const ONBOARDING_REFRESH_PATH: &str = "/payouts/onboarding/refresh";

impl From<ProviderError> for AppError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::NotConfigured => AppError::ProviderNotConfigured(
                "Payments through Stripe are not available on this server (it has no Stripe keys); \
                 manual payment still works."
                    .into(),
            ),
            ProviderError::Refused { status, .. } if status < 500 => AppError::Provider {
                message: "The payment provider refused the request. Try again later or contact support.".into(),
                cause: e.into(),
            },
            other => AppError::Provider {
                message: "The payment provider did not complete the request. Try again in a moment.".into(),
                cause: other.into(),
            },
        }
    }
}

/// What `startPayoutOnboarding` answers.
pub struct Onboarding {
    pub account: PayoutAccountRow,
    /// The one-time Stripe-hosted onboarding page.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Creates the user's Express connected account unless they have one (once per user: the
/// Stripe call carries a key made from the user id, and the row is keyed by user), then a
/// fresh onboarding link for it.
pub async fn start_payout_onboarding(app: &AppState, user: &UserRow) -> AppResult<Onboarding> {
    let stripe = provider::stripe(app)?;
    let existing = {
        let mut conn = app.db.conn().await?;
        model::of_user(&mut conn, user.id).await?
    };
    let account = match existing {
        Some(account) => account,
        None => {
            let created = stripe.create_express_account(user.id, &user.email).await?;
            let mut conn = app.db.conn().await?;
            model::insert_or_get(&mut conn, &new_row(user.id, &created, Utc::now())).await?
        }
    };
    let base = &app.config.public_url;
    let link = stripe
        .create_onboarding_link(
            &account.stripe_account_id,
            &format!("{base}{ONBOARDING_REFRESH_PATH}"),
            &format!("{base}{ONBOARDING_RETURN_PATH}"),
        )
        .await?;
    let expires_at = DateTime::from_timestamp(link.expires_at, 0)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("Stripe link expiry {} out of range", link.expires_at)))?;
    Ok(Onboarding {
        account,
        url: link.url,
        expires_at,
    })
}

fn new_row(user_id: Uuid, account: &ConnectedAccount, now: DateTime<Utc>) -> PayoutAccountRow {
    PayoutAccountRow {
        user_id,
        stripe_account_id: account.id.clone(),
        charges_enabled: account.charges_enabled,
        payouts_enabled: account.payouts_enabled,
        details_submitted: account.details_submitted,
        // The creation answer is older than any event about the account.
        state_as_of: None,
        created_at: now,
        updated_at: now,
    }
}

/// The user's payout account, if they started onboarding.
pub async fn payout_account(app: &AppState, user_id: Uuid) -> AppResult<Option<PayoutAccountRow>> {
    let mut conn = app.db.conn().await?;
    Ok(model::of_user(&mut conn, user_id).await?)
}

/// Whether a state reported at `reported` replaces the one held (`held`, `None` when only
/// the creation answer is known). Stripe's times are in whole seconds: of two reports in the
/// same second the later delivery wins.
pub fn is_newer(reported: DateTime<Utc>, held: Option<DateTime<Utc>>) -> bool {
    held.is_none_or(|held| reported >= held)
}

/// Applies an `account.updated` (the account as of `reported`) in the caller's transaction:
/// the flags change only when the report is not older than what we hold. The owner is told
/// when payouts turn on or off. An account we have no row for yet, but which carries our
/// user id in its metadata (the event overtook the answer to our create call), is adopted.
pub async fn apply_account_update(
    conn: &mut AsyncPgConnection,
    account: &ConnectedAccount,
    metadata_user: Option<Uuid>,
    reported: DateTime<Utc>,
) -> AppResult<Outcome> {
    let now = Utc::now();
    let mut row = model::lock_by_stripe_id(conn, &account.id).await?;
    if row.is_none() {
        if let Some(user_id) = metadata_user {
            if model::adopt(conn, user_id, &account.id, now).await? {
                row = model::lock_by_stripe_id(conn, &account.id).await?;
            }
        }
    }
    let Some(row) = row else {
        return Ok(Outcome::Unmatched);
    };
    if !is_newer(reported, row.state_as_of) {
        return Ok(Outcome::Stale);
    }
    let state = AccountState {
        charges_enabled: account.charges_enabled,
        payouts_enabled: account.payouts_enabled,
        details_submitted: account.details_submitted,
        as_of: reported,
    };
    let updated = model::set_state(conn, row.user_id, state, now).await?;
    if updated.payouts_enabled && !row.payouts_enabled {
        // What was credited while they could not be paid out leaves now.
        outbox::sweep(conn, row.user_id).await?;
    }
    if updated.payouts_enabled != row.payouts_enabled {
        let (title, body) = if updated.payouts_enabled {
            (
                "Payouts are on",
                "Stripe has verified your payout details: released payments now reach your account.",
            )
        } else {
            (
                "Payouts are paused",
                "Stripe needs more details before paying you out. Open payout onboarding again to finish.",
            )
        };
        notification::notify(
            conn,
            row.user_id,
            Kind::Payment,
            title,
            body,
            serde_json::json!({ "payoutsEnabled": updated.payouts_enabled }),
        )
        .await?;
    }
    Ok(Outcome::Applied)
}

/// Our user id in a Stripe object's metadata, if it is there and well formed.
pub fn metadata_user(metadata: Option<&std::collections::HashMap<String, String>>) -> Option<Uuid> {
    metadata?.get(USER_METADATA_KEY)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_report_never_replaces_a_newer_state() {
        let t = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert!(is_newer(t, None), "anything beats the creation answer");
        assert!(is_newer(t, Some(t - chrono::Duration::seconds(1))));
        assert!(is_newer(t, Some(t)), "same second: the later delivery wins");
        assert!(!is_newer(t - chrono::Duration::seconds(1), Some(t)));
    }

    #[test]
    fn metadata_user_reads_only_our_key() {
        let id = Uuid::now_v7();
        let ours = std::collections::HashMap::from([(USER_METADATA_KEY.to_owned(), id.to_string())]);
        assert_eq!(metadata_user(Some(&ours)), Some(id));
        let other = std::collections::HashMap::from([("user".to_owned(), id.to_string())]);
        assert_eq!(metadata_user(Some(&other)), None);
        assert_eq!(metadata_user(None), None);
    }
}
