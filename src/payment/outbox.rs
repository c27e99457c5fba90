//! The outbox of payment-provider calls: money that a committed change sends out through
//! Stripe (a transfer of released earnings, a refund to the card that paid).
//!
//! A writer calls [`pay_out`] or [`enqueue`] inside its own transaction, beside the ledger
//! movement the call mirrors; nothing talks to Stripe there. [`run_due`] (the scheduler,
//! every few seconds, and `POST /internal/cron/cleanup`) claims due calls with `SKIP LOCKED`,
//! makes each with its idempotency key, and records the answer:
//! - done: the call is SUCCEEDED with Stripe's object id, and the user is told;
//! - refused or unreachable: retried with exponential backoff (1 min doubling, at most 12 h
//!   apart), with the same key every time, so Stripe does the work once;
//! - refused [`MAX_ATTEMPTS`] times (more than a day, past Stripe's 24 h key window): the
//!   call is FAILED, its amount goes back to the user's available balance through the
//!   ledger, and the user is told.
//!
//! Several instances may run it at once: a claim pushes the row's next attempt forward by a
//! lease, so only one worker holds a call, and a worker that dies gives it back when the
//! lease lapses.

use chrono::{DateTime, Duration, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use uuid::Uuid;

use super::{
    calls::{self, CallKind, CallRow, CallStatus},
    model as accounts,
    provider::{self, ProviderError},
};
use crate::{
    error::{AppError, AppResult},
    ledger::service::{self as ledger, CallMoney},
    notification::service::{self as notification, Kind},
    state::AppState,
};

/// Attempts before a call is given up.
pub const MAX_ATTEMPTS: i32 = 12;
/// How long a claim holds a call before another worker may take it.
const LEASE: Duration = Duration::minutes(5);
/// Calls claimed per round.
const BATCH: i64 = 20;

/// A call to write.
pub struct NewCall<'a> {
    pub kind: CallKind,
    /// Unique forever; also Stripe's `Idempotency-Key`.
    pub key: String,
    pub order_id: Option<Uuid>,
    /// Who receives the money.
    pub user_id: Uuid,
    pub amount_cents: i64,
    pub currency: &'a str,
    /// The connected account of a transfer, the payment intent of a refund.
    pub target: String,
}

/// Writes `call` in the caller's transaction (it is made after commit); `None` when its key
/// was already used (nothing written).
pub async fn enqueue(conn: &mut AsyncPgConnection, call: NewCall<'_>) -> AppResult<Option<Uuid>> {
    let now = Utc::now();
    let row = CallRow {
        id: Uuid::now_v7(),
        kind: call.kind,
        idempotency_key: call.key,
        order_id: call.order_id,
        user_id: call.user_id,
        amount_cents: call.amount_cents,
        currency: call.currency.to_owned(),
        target: call.target,
        status: CallStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        provider_object_id: None,
        created_at: now,
        completed_at: None,
    };
    Ok(calls::insert(conn, &row).await?.then_some(row.id))
}

/// Sends `amount_cents` of `user_id`'s available balance to their connected account, in the
/// caller's transaction: the payout leaves the balance through the ledger and the transfer
/// is queued under `key`. Nothing happens (false) when the user has no connected account
/// that Stripe lets us pay out to yet: the money stays in their balance until they onboard.
pub async fn pay_out(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    amount_cents: i64,
    currency: &str,
    order_id: Option<Uuid>,
    key: String,
) -> AppResult<bool> {
    let Some(account) = accounts::of_user(conn, user_id).await? else {
        return Ok(false);
    };
    if !account.payouts_enabled || amount_cents <= 0 {
        return Ok(false);
    }
    let call = NewCall {
        kind: CallKind::Transfer,
        key,
        order_id,
        user_id,
        amount_cents,
        currency,
        target: account.stripe_account_id,
    };
    let Some(call_id) = enqueue(conn, call).await? else {
        return Ok(false);
    };
    let money = CallMoney {
        call_id,
        user_id,
        amount_cents,
        currency,
        order_id,
    };
    ledger::payout(conn, &money).await?;
    Ok(true)
}

/// Pays out everything in `user_id`'s available balances (each currency), in the caller's
/// transaction: what was credited while they had no payout account leaves once they have one.
/// Returns how many transfers were queued.
pub async fn sweep(conn: &mut AsyncPgConnection, user_id: Uuid) -> AppResult<usize> {
    let mut queued = 0;
    for (currency, available) in ledger::available_balances(conn, user_id).await? {
        let key = format!("gigmarket:sweep:{user_id}:{}", Uuid::now_v7());
        if pay_out(conn, user_id, available, &currency, None, key).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What a round of [`run_due`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Report {
    pub succeeded: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Makes the calls that are due (see the module documentation). Without Stripe keys nothing
/// is due to anyone: calls wait.
pub async fn run_due(app: &AppState) -> AppResult<Report> {
    let mut report = Report::default();
    let Ok(stripe) = provider::stripe(app) else {
        return Ok(report);
    };
    let now = Utc::now();
    let claimed = {
        let mut conn = app.jobs_db.conn().await?;
        calls::claim_due(&mut conn, now, now + LEASE, BATCH).await?
    };
    for call in claimed {
        let answer = match call.kind {
            CallKind::Transfer => {
                stripe
                    .create_transfer(
                        &call.idempotency_key,
                        &call.target,
                        call.amount_cents,
                        &call.currency,
                        call.order_id,
                    )
                    .await
            }
            CallKind::Refund => {
                stripe
                    .create_refund(&call.idempotency_key, &call.target, call.amount_cents, call.order_id)
                    .await
            }
        };
        match record(app, &call, answer).await? {
            CallStatus::Succeeded => report.succeeded += 1,
            CallStatus::Pending => report.retrying += 1,
            CallStatus::Failed => report.failed += 1,
        }
    }
    Ok(report)
}

/// When to try a call again after its `attempts`-th failure.
pub fn next_attempt(attempts: i32, now: DateTime<Utc>) -> DateTime<Utc> {
    let minutes = 1i64 << attempts.clamp(1, 11).saturating_sub(1);
    now + Duration::minutes(minutes).min(Duration::hours(12))
}

/// Writes what Stripe answered for `call`; returns its new status.
async fn record(app: &AppState, call: &CallRow, answer: Result<String, ProviderError>) -> AppResult<CallStatus> {
    let now = Utc::now();
    let mut conn = app.jobs_db.conn().await?;
    match answer {
        Ok(object_id) => {
            app.bus
                .transaction::<_, AppError, _>(&mut conn, async |conn| {
                    if calls::lock_pending(conn, call.id).await?.is_none() {
                        return Ok(());
                    }
                    calls::succeed(conn, call.id, &object_id, now).await?;
                    let (title, body) = match call.kind {
                        CallKind::Transfer => (
                            "Payment sent",
                            format!(
                                "{} is on its way to your bank account through Stripe.",
                                amount_text(call.amount_cents, &call.currency)
                            ),
                        ),
                        CallKind::Refund => (
                            "Refund issued",
                            format!(
                                "{} is on its way back to the card you paid with.",
                                amount_text(call.amount_cents, &call.currency)
                            ),
                        ),
                    };
                    notify(conn, call, title, &body).await
                })
                .await?;
            Ok(CallStatus::Succeeded)
        }
        Err(e) if call.attempts >= MAX_ATTEMPTS => {
            tracing::error!(call = %call.id, kind = %call.kind, attempts = call.attempts, error = %e, "provider call given up");
            let error = e.to_string();
            app.bus
                .transaction::<_, AppError, _>(&mut conn, async |conn| {
                    if calls::lock_pending(conn, call.id).await?.is_none() {
                        return Ok(());
                    }
                    calls::fail(conn, call.id, &error, now).await?;
                    let money = CallMoney {
                        call_id: call.id,
                        user_id: call.user_id,
                        amount_cents: call.amount_cents,
                        currency: &call.currency,
                        order_id: call.order_id,
                    };
                    ledger::reverse_call(conn, &money).await?;
                    let body = format!(
                        "Stripe did not complete a {} of {}; the amount is back in your gigmarket balance.",
                        match call.kind {
                            CallKind::Transfer => "transfer",
                            CallKind::Refund => "refund",
                        },
                        amount_text(call.amount_cents, &call.currency)
                    );
                    notify(conn, call, "Payment not completed", &body).await
                })
                .await?;
            Ok(CallStatus::Failed)
        }
        Err(e) => {
            tracing::warn!(call = %call.id, kind = %call.kind, attempts = call.attempts, error = %e, "provider call failed; will retry");
            calls::retry_at(&mut conn, call.id, &e.to_string(), next_attempt(call.attempts, now)).await?;
            Ok(CallStatus::Pending)
        }
    }
}

async fn notify(conn: &mut AsyncPgConnection, call: &CallRow, title: &str, body: &str) -> AppResult<()> {
    notification::notify(
        conn,
        call.user_id,
        Kind::Payment,
        title,
        body,
        serde_json::json!({
            "orderId": call.order_id,
            "amountCents": call.amount_cents,
            "currency": call.currency,
        }),
    )
    .await?;
    Ok(())
}

/// An amount for people: `12.50 USD`.
fn amount_text(cents: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", cents / 100, (cents % 100).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_and_outlast_stripes_key_window() {
        let now = Utc::now();
        assert_eq!(next_attempt(1, now) - now, Duration::minutes(1));
        assert_eq!(next_attempt(2, now) - now, Duration::minutes(2));
        assert_eq!(next_attempt(5, now) - now, Duration::minutes(16));
        assert_eq!(next_attempt(30, now) - now, Duration::hours(12));
        let waited: Duration = (1..MAX_ATTEMPTS).map(|n| next_attempt(n, now) - now).sum();
        assert!(waited > Duration::hours(24), "{waited}");
    }

    #[test]
    fn amounts_read_as_money() {
        assert_eq!(amount_text(1250, "USD"), "12.50 USD");
        assert_eq!(amount_text(7, "EUR"), "0.07 EUR");
    }
}
