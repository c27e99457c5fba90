//! The pure arithmetic of hourly contracts: weeks, prices, caps, retainers and overlaps.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc};

use crate::task::model::TaskDuration;

/// The highest weekly hour cap a contract may have.
pub const MAX_WEEKLY_HOURS: i32 = 80;
/// The weekly cap of an hourly first-accept task (taken with `acceptTask`, where no one sets
/// one).
pub const DEFAULT_WEEKLY_HOURS: i32 = 40;
/// A day has this many minutes: an entry ends by midnight.
pub const MINUTES_PER_DAY: i32 = 24 * 60;

/// The Monday of `date`'s ISO week.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// What `minutes` of work cost at `rate_cents` an hour, rounded half up to the cent.
pub fn amount_cents(minutes: i32, rate_cents: i64) -> i64 {
    let cents = (i128::from(minutes) * i128::from(rate_cents) + 30) / 60;
    i64::try_from(cents).unwrap_or(i64::MAX)
}

/// How many weeks at the cap an hourly order's escrow is sized for, from the length the
/// task's poster expected: a week, four, or a quarter (13) for anything longer; a contract
/// that outlives its escrow is renewed by a new order.
pub fn weeks_for(duration: TaskDuration) -> i32 {
    match duration {
        TaskDuration::LessThanAWeek => 1,
        TaskDuration::OneToFourWeeks => 4,
        TaskDuration::OneToThreeMonths | TaskDuration::MoreThanThreeMonths => 13,
    }
}

/// The retainer an hourly order is funded with: `weeks` at the weekly cap; `None` when it
/// does not fit in the money type.
pub fn retainer_cents(rate_cents: i64, weekly_minute_cap: i32, weeks: i32) -> Option<i64> {
    amount_cents(weekly_minute_cap, rate_cents)
        .checked_mul(i64::from(weeks))
        .filter(|cents| *cents < i64::MAX)
}

/// The minute of the day an entry starting at `start` ends at (at most [`MINUTES_PER_DAY`]
/// for an entry that fits in its day).
pub fn end_minute(start: NaiveTime, minutes: i32) -> i32 {
    (start.num_seconds_from_midnight() / 60) as i32 + minutes
}

/// Whether two entries of one day, `[start, start + minutes)`, share any minute.
pub fn overlaps(a: (NaiveTime, i32), b: (NaiveTime, i32)) -> bool {
    let (a_start, b_start) = (end_minute(a.0, 0), end_minute(b.0, 0));
    a_start < end_minute(b.0, b.1) && b_start < end_minute(a.0, a.1)
}

/// Today's date where the freelancer lives (their profile's IANA time zone; UTC when unset
/// or unknown): what "no future dates" is judged against.
pub fn today_in(timezone: Option<&str>, now: DateTime<Utc>) -> NaiveDate {
    match timezone.and_then(|name| name.parse::<chrono_tz::Tz>().ok()) {
        Some(tz) => now.with_timezone(&tz).date_naive(),
        None => now.date_naive(),
    }
}

/// `minutes` as hours and minutes, for messages ("7 h 30 min").
pub fn human_minutes(minutes: i32) -> String {
    match (minutes / 60, minutes % 60) {
        (h, 0) => format!("{h} h"),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn weeks_start_on_monday() {
        let sunday = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        assert_eq!(week_start(sunday), monday);
        assert_eq!(week_start(monday), monday);
        assert_eq!(week_start(monday + Duration::days(7)), monday + Duration::days(7));
    }

    #[test]
    fn prices_round_half_up_and_retainers_cover_the_cap() {
        assert_eq!(amount_cents(60, 5_000), 5_000);
        assert_eq!(amount_cents(90, 5_000), 7_500);
        assert_eq!(amount_cents(1, 100), 2); // 1.67
        assert_eq!(amount_cents(1, 90), 2); // 1.5 rounds up
        assert_eq!(amount_cents(0, 5_000), 0);
        assert_eq!(retainer_cents(5_000, 10 * 60, 4), Some(200_000));
        assert_eq!(retainer_cents(i64::MAX / 2, 80 * 60, 13), None);
        assert_eq!(weeks_for(TaskDuration::LessThanAWeek), 1);
        assert_eq!(weeks_for(TaskDuration::MoreThanThreeMonths), 13);
    }

    #[test]
    fn entries_overlap_when_they_share_a_minute() {
        assert!(overlaps((time(9, 0), 120), (time(10, 0), 30)));
        assert!(overlaps((time(10, 0), 30), (time(9, 0), 120)));
        assert!(overlaps((time(9, 0), 60), (time(9, 0), 1)));
        assert!(!overlaps((time(9, 0), 60), (time(10, 0), 60)), "back to back");
        assert!(!overlaps((time(10, 0), 60), (time(9, 0), 60)));
        assert_eq!(end_minute(time(23, 0), 60), MINUTES_PER_DAY);
    }

    #[test]
    fn today_is_where_the_freelancer_is() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T20:00:00Z").unwrap().to_utc();
        assert_eq!(today_in(None, now).to_string(), "2026-12-07");
        assert_eq!(today_in(Some("Pacific/Auckland"), now).to_string(), "2026-12-08");
        assert_eq!(today_in(Some("Not/AZone"), now).to_string(), "2026-12-07");
        assert_eq!(human_minutes(450), "7 h 30 min");
        assert_eq!(human_minutes(45), "45 min");
    }
}
