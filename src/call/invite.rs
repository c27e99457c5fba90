//! What a call looks like outside the API: its room URL, its calendar file (RFC 5545) and
//! its start as a member reads it in their own time zone. Pure functions, tested here.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, Event, EventLike};

use super::model::CallRow;

/// The MIME type of the calendar file attached to reminder mails.
pub const ICS_CONTENT_TYPE: &str = "text/calendar; charset=utf-8; method=PUBLISH";
/// The file name of that attachment.
pub const ICS_FILENAME: &str = "call.ics";

/// The room's address at the video provider: the configured base and the room id.
pub fn room_url(base: &str, room_id: &str) -> String {
    format!("{}/{room_id}", base.trim_end_matches('/'))
}

/// The calendar file of a scheduled call: one VEVENT whose UID is stable across mails (so a
/// calendar updates the event rather than adding another), with times in UTC (a TZID would
/// need a VTIMEZONE block; clients show UTC times in the reader's own zone), and the room
/// URL as URL and LOCATION. `host` names the server in the UID (`<call id>@<host>`).
pub fn ics(call: &CallRow, room_url: &str, host: &str, now: DateTime<Utc>) -> String {
    let ends = call.ends_at.unwrap_or(call.starts_at + chrono::Duration::minutes(60));
    let mut calendar = Calendar::new();
    calendar.push(
        Event::new()
            .uid(&format!("{}@{host}", call.id))
            .timestamp(now)
            .starts(call.starts_at)
            .ends(ends)
            .summary(&call.title)
            .description(&format!("Join the call: {room_url}"))
            .url(room_url)
            .location(room_url)
            .done(),
    );
    calendar.done().to_string()
}

/// `at` as the member with time zone `tz` (an IANA name from their profile) reads it, e.g.
/// `Mon 7 Dec 2026, 14:30 (Europe/Paris)`; in UTC when they set none or an unknown one.
pub fn local_time(at: DateTime<Utc>, tz: Option<&str>) -> String {
    const FORMAT: &str = "%a %-d %b %Y, %H:%M";
    match tz.and_then(|name| name.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => format!("{} ({zone})", at.with_timezone(&zone).format(FORMAT)),
        None => format!("{} (UTC)", at.format(FORMAT)),
    }
}

/// The calendar day `at` falls on for a member in `tz` (UTC when unknown): booked days are
/// days of the member's own calendar.
pub fn local_day(at: DateTime<Utc>, tz: Option<&str>) -> chrono::NaiveDate {
    match tz.and_then(|name| name.parse::<chrono_tz::Tz>().ok()) {
        Some(zone) => at.with_timezone(&zone).date_naive(),
        None => at.date_naive(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::model::CallStatus;
    use uuid::Uuid;

    fn call() -> CallRow {
        let starts = DateTime::parse_from_rfc3339("2026-12-07T13:30:00Z").unwrap().to_utc();
        CallRow {
            id: Uuid::nil(),
            room_id: "gigmarket-abc".into(),
            initiator_id: Uuid::nil(),
            task_id: None,
            order_id: None,
            title: "Kick-off, scope; and \"plans\"".into(),
            status: CallStatus::Scheduled,
            starts_at: starts,
            duration_minutes: Some(45),
            ends_at: Some(starts + chrono::Duration::minutes(45)),
            started_at: None,
            ended_at: None,
            cancelled_at: None,
            reminded_at: None,
            created_at: starts,
        }
    }

    #[test]
    fn room_urls_join_base_and_room() {
        assert_eq!(room_url("https://meet.jit.si/", "r1"), "https://meet.jit.si/r1");
        assert_eq!(room_url("https://v.example/rooms", "r1"), "https://v.example/rooms/r1");
    }

    #[test]
    fn the_calendar_file_parses_back_with_its_fields() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T13:15:00Z").unwrap().to_utc();
        let text = ics(&call(), "https://meet.jit.si/gigmarket-abc", "gigmarket.local", now);
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
        assert!(text.contains("DTSTART:20261207T133000Z"), "{text}");
        assert!(text.contains("DTEND:20261207T141500Z"), "{text}");
        let parsed: Calendar = text.parse().expect("a valid calendar");
        let event = parsed.events().next().expect("one event");
        assert_eq!(event.get_summary(), Some("Kick-off, scope; and \"plans\""));
        assert_eq!(
            event.get_uid(),
            Some("00000000-0000-0000-0000-000000000000@gigmarket.local")
        );
        assert_eq!(event.get_url(), Some("https://meet.jit.si/gigmarket-abc"));
        assert_eq!(event.get_timestamp(), Some(now));
    }

    #[test]
    fn local_times_follow_the_profile_zone() {
        let at = call().starts_at;
        assert_eq!(
            local_time(at, Some("Europe/Paris")),
            "Mon 7 Dec 2026, 14:30 (Europe/Paris)"
        );
        assert_eq!(local_time(at, None), "Mon 7 Dec 2026, 13:30 (UTC)");
        assert_eq!(local_time(at, Some("Mars/Olympus")), "Mon 7 Dec 2026, 13:30 (UTC)");
        let late = DateTime::parse_from_rfc3339("2026-12-07T23:30:00Z").unwrap().to_utc();
        assert_eq!(local_day(late, Some("Asia/Tokyo")).to_string(), "2026-12-08");
        assert_eq!(local_day(late, None).to_string(), "2026-12-07");
    }
}
