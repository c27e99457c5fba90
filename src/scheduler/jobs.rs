//! The registry: each job's name, cadence and work. Names are camelCase, as they appear in
//! the report of `POST /internal/cron/cleanup`.

use std::time::Duration;

use chrono::Utc;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use futures_util::future::BoxFuture;

use super::{Counts, Job};
use crate::{
    account, call, code_link,
    error::AppResult,
    graphql::extensions::idempotency,
    mail, order,
    payment::{self, outbox},
    review,
    state::AppState,
    task, timesheet,
};

/// Every job, in the order the route runs them: expiry and release first, then the calls
/// the release queued, then the purges.
pub const JOBS: &[Job] = &[
    Job::new("expireTasks", Duration::from_secs(5), expire_tasks),
    // Ten minutes late on a 24 h window is nothing, and tests that clear by hand do not
    // race a server loop.
    Job::new("releaseEscrow", PURGE_EVERY, release_escrow),
    Job::new("providerCalls", Duration::from_secs(10), provider_calls),
    Job::new("purgeOrderCodes", PURGE_EVERY, purge_order_codes),
    Job::new("purgeResetTokens", PURGE_EVERY, purge_reset_tokens),
    Job::new("purgeRefreshTokens", PURGE_EVERY, purge_refresh_tokens),
    Job::new("purgeSignInFailures", PURGE_EVERY, purge_sign_in_failures),
    Job::new("purgeIdempotencyKeys", PURGE_EVERY, purge_idempotency_keys),
    Job::new("purgeSentMail", PURGE_EVERY, purge_sent_mail),
    Job::new("purgeStripeEvents", PURGE_EVERY, purge_stripe_events),
    Job::new("purgeGithubDeliveries", PURGE_EVERY, purge_github_deliveries),
    Job::new("publishReviews", PURGE_EVERY, publish_reviews),
    Job::new("remindReviews", PURGE_EVERY, remind_reviews),
    // A minute late on a 72-hour window is nothing.
    Job::new("approveTimesheets", Duration::from_secs(60), approve_timesheets),
    // A minute late on a 15-minute lead still reaches everyone well before the start.
    Job::new("callReminders", Duration::from_secs(60), call_reminders),
];

/// How often escrow is released and rows that have served their purpose are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(600);
/// Start and end codes are kept this long past their expiry, so that a code typed just
/// too late is still answered as expired.
const CODES_KEPT_PAST_EXPIRY: chrono::Duration = chrono::Duration::hours(1);
/// Sent mail is kept this long for support questions.
const SENT_MAIL_KEPT: chrono::Duration = chrono::Duration::days(30);
/// Processed Stripe events are kept this long (Stripe redelivers for three days at most).
const STRIPE_EVENTS_KEPT: chrono::Duration = chrono::Duration::days(90);
/// GitHub delivery ids are kept this long (GitHub redelivers, on request, for three days); a
/// delivery replayed after that finds its pull request or check no older and changes nothing.
const GITHUB_DELIVERIES_KEPT: chrono::Duration = chrono::Duration::days(90);

/// First-accept (IMMEDIATE) tasks past their deadline become EXPIRED
/// (`task::service::expire_overdue`).
fn expire_tasks(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move { Ok(Counts::of("expired", task::service::expire_overdue(app).await?)) })
}

/// Escrow released on completion clears once the dispute window
/// (`ESCROW_DISPUTE_WINDOW_HOURS`) has passed with no dispute open: the earnings become
/// available, and a transfer to the freelancer's connected account is queued when they
/// have one (`order::service::clear_earnings`).
fn release_escrow(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move {
        let window = chrono::Duration::from_std(app.config.payments.escrow_dispute_window)
            .map_err(crate::error::AppError::internal)?;
        let cleared = order::service::clear_earnings(app, window).await?;
        Ok(Counts::of("released", cleared.orders).and("transfersQueued", cleared.transfers))
    })
}

/// Lone reviews whose review window closed become public, with the reviewee's and the gig's
/// aggregates (`review::service::publish_due`).
fn publish_reviews(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move { Ok(Counts::of("published", review::service::publish_due(app).await?)) })
}

/// Parties of completed orders who have not reviewed are reminded once
/// (`review::service::remind_due`).
fn remind_reviews(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move { Ok(Counts::of("reminded", review::service::remind_due(app).await?)) })
}

/// Submitted weeks of hourly orders whose review window closed unanswered are approved and
/// billed (`timesheet::service::auto_approve_due`).
fn approve_timesheets(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move { Ok(Counts::of("approved", timesheet::service::auto_approve_due(app).await?)) })
}

/// Reminder mails, with a calendar file, for scheduled calls starting within 15 minutes
/// (`call::service::send_reminders`).
fn call_reminders(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move { Ok(Counts::of("reminded", call::service::send_reminders(app).await?)) })
}

/// Due payment-provider calls (transfers, refunds) are made or retried with backoff
/// (`payment::outbox::run_due`).
fn provider_calls(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move {
        let outbox::Report {
            succeeded,
            retrying,
            failed,
        } = outbox::run_due(app).await?;
        Ok(Counts::of("succeeded", succeeded)
            .and("retrying", retrying)
            .and("failed", failed))
    })
}

/// Expired start and end codes of on-site orders.
fn purge_order_codes(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| {
        order::model::prune_codes(conn, Utc::now() - CODES_KEPT_PAST_EXPIRY).await
    }))
}

/// Password reset tokens past their expiry.
fn purge_reset_tokens(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| {
        account::model::prune_reset_tokens(conn, Utc::now()).await
    }))
}

/// Expired refresh tokens, and revoked ones (used ones stay until they expire, for reuse
/// detection).
fn purge_refresh_tokens(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| {
        account::model::prune_refresh_tokens(conn, Utc::now()).await
    }))
}

/// Sign-in failures older than the throttle window.
fn purge_sign_in_failures(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(async move {
        let window =
            chrono::Duration::from_std(app.config.throttle.window).map_err(crate::error::AppError::internal)?;
        deleted(app, async |conn| {
            account::model::prune_sign_in_failures(conn, Utc::now() - window).await
        })
        .await
    })
}

/// Idempotency keys older than their 24 hours.
fn purge_idempotency_keys(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| idempotency::prune(conn).await))
}

/// Mail sent more than 30 days ago.
fn purge_sent_mail(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| {
        mail::prune(conn, Utc::now() - SENT_MAIL_KEPT).await
    }))
}

/// Processed Stripe events older than 90 days.
fn purge_stripe_events(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| {
        payment::model::prune_events(conn, Utc::now() - STRIPE_EVENTS_KEPT).await
    }))
}

/// GitHub deliveries recorded more than 90 days ago.
fn purge_github_deliveries(app: &AppState) -> BoxFuture<'_, AppResult<Counts>> {
    Box::pin(deleted(app, async |conn| {
        code_link::model::prune_deliveries(conn, Utc::now() - GITHUB_DELIVERIES_KEPT).await
    }))
}

/// Runs one `DELETE` on a connection of the jobs' pool; counts the rows as `deleted`.
async fn deleted(
    app: &AppState,
    delete: impl AsyncFnOnce(&mut AsyncPgConnection) -> QueryResult<usize>,
) -> AppResult<Counts> {
    let mut conn = app.jobs_db.conn().await?;
    Ok(Counts::of("deleted", delete(&mut conn).await?))
}
