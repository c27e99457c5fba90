//! Setting and reading the calendar.

use chrono::{Duration, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use uuid::Uuid;

use super::model::{self, AvailabilityStatus};
use crate::{
    error::{AppError, AppResult},
    profile,
    state::AppState,
};

/// The longest range one read or write covers.
pub const MAX_DAYS: i64 = 366;

/// Marks `days` free (`available`) or blocked. Booked days cannot be freed here: cancelling
/// the order frees them.
pub async fn set_days(
    app: &AppState,
    user_id: Uuid,
    mut days: Vec<NaiveDate>,
    available: bool,
) -> AppResult<Vec<(NaiveDate, AvailabilityStatus)>> {
    days.sort_unstable();
    days.dedup();
    if days.is_empty() || days.len() as i64 > MAX_DAYS {
        return Err(AppError::field("dates", format!("must name 1 to {MAX_DAYS} days")));
    }
    let today = Utc::now().date_naive();
    if days.first().is_some_and(|d| *d < today) {
        return Err(AppError::field("dates", "must not be in the past"));
    }
    let mut conn = app.db.conn().await?;
    conn.transaction::<_, AppError, _>(async |conn| {
        let booked = model::booked_among(conn, user_id, &days).await?;
        if available {
            if let Some(day) = booked.first() {
                return Err(AppError::Conflict(format!(
                    "{day} is booked by an order; cancelling the order frees it."
                )));
            }
            model::unblock(conn, user_id, &days).await?;
        } else {
            model::block(conn, user_id, &days).await?;
        }
        Ok(days
            .iter()
            .map(|day| {
                let status = if booked.contains(day) {
                    AvailabilityStatus::Booked
                } else if available {
                    AvailabilityStatus::Available
                } else {
                    AvailabilityStatus::Unavailable
                };
                (*day, status)
            })
            .collect())
    })
    .await
}

/// Every day of `from..=to` with its status.
pub async fn read(
    app: &AppState,
    user_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(NaiveDate, AvailabilityStatus)>> {
    if to < from {
        return Err(AppError::field("to", "must not be before from"));
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(AppError::field("to", format!("must be within {MAX_DAYS} days of from")));
    }
    let mut conn = app.db.conn().await?;
    profile::model::find(&mut conn, user_id)
        .await?
        .filter(|u| !u.is_banned())
        .ok_or_else(|| AppError::not_found("User"))?;
    let rows = model::in_range(&mut conn, user_id, from, to).await?;
    let mut out = Vec::with_capacity((to - from).num_days() as usize + 1);
    let mut day = from;
    let mut taken = rows.into_iter().peekable();
    while day <= to {
        let status = taken
            .next_if(|(d, _)| *d == day)
            .map_or(AvailabilityStatus::Available, |(_, status)| status);
        out.push((day, status));
        day += Duration::days(1);
    }
    Ok(out)
}
