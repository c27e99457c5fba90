//! Video calls: two parties of an order schedule one, nobody else is invited or sees it,
//! overlaps and booked days are refused, the reminder goes out once with two instances
//! running (its mail carries a calendar file a real parser reads), join and end record their
//! times, and the history pages.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use gigmarket::{order::model::OrderStatus, scheduler::Outcome};
use icalendar::{Calendar, CalendarDateTime, Component, DatePerhapsTime, EventLike};
use serde_json::{json, Value};

use crate::{
    common::{TestApp, TestUser},
    mail::fake_smtp,
    orders::{one, Market},
};

const CALL_FIELDS: &str = "id roomId roomUrl title status startsAt startsAtLocal endsAt durationMinutes startedAt endedAt durationSeconds cancelledAt initiator { id } participants { user { id } joinedAt }";

fn schedule_query() -> String {
    format!("mutation($i: ScheduleCallInput!) {{ scheduleCall(input: $i) {{ {CALL_FIELDS} }} }}")
}

fn create_query() -> String {
    format!(
        "mutation($p: [ID!]!, $o: ID, $t: ID) {{ createCall(participantIds: $p, orderId: $o, taskId: $t) {{ {CALL_FIELDS} }} }}"
    )
}

fn action_query(action: &str) -> String {
    format!("mutation($id: ID!) {{ {action}(id: $id) {{ {CALL_FIELDS} }} }}")
}

const LIST: &str = "query($f: Int, $a: String) { callHistory(first: $f, after: $a) { totalCount pageInfo { hasNextPage endCursor } nodes { id status } } upcomingCalls { totalCount nodes { id status } } }";

fn at(minutes_from_now: i64) -> DateTime<Utc> {
    // Whole seconds: what the API hands back is compared as text.
    let now = Utc::now().timestamp();
    DateTime::from_timestamp(now + minutes_from_now * 60, 0).expect("a time")
}

fn input(with: &[&TestUser], starts: DateTime<Utc>, minutes: i32, title: &str, order: Option<&str>) -> Value {
    let ids: Vec<&str> = with.iter().map(|u| u.id.as_str()).collect();
    json!({ "i": {
        "participantIds": ids, "startsAt": starts.to_rfc3339(), "durationMinutes": minutes,
        "title": title, "orderId": order,
    } })
}

async fn schedule(app: &TestApp, by: &TestUser, vars: Value) -> crate::common::Gql {
    app.gql_as(by, &schedule_query(), vars).await
}

async fn act(app: &TestApp, by: &TestUser, action: &str, id: &str) -> crate::common::Gql {
    app.gql_as(by, &action_query(action), json!({ "id": id })).await
}

#[tokio::test]
async fn parties_of_an_order_schedule_a_call_that_reminds_once_and_records_its_times() {
    let (smtp_url, mut inbox) = fake_smtp().await;
    let app = TestApp::builder().var("SMTP_URL", &smtp_url).spawn().await;
    let m = Market::with(app).await;
    let app = &m.app;
    // Accepting the booking books tomorrow (UTC) on the freelancer's calendar.
    let order = m.drive(OrderStatus::PendingPayment).await;
    let booked_day = one(
        app,
        &format!("SELECT day::text AS value FROM availability_dates WHERE order_id = '{order}'"),
    )
    .await;
    app.sql(&format!(
        "UPDATE users SET timezone = 'Europe/Paris' WHERE id = '{}'",
        m.freelancer.id
    ))
    .await;

    // The client schedules a call with the freelancer about their order, starting soon.
    let starts = at(10);
    let r = schedule(
        app,
        &m.client,
        input(&[&m.freelancer], starts, 30, "Kick-off", Some(&order)),
    )
    .await;
    let call = r.data()["scheduleCall"].clone();
    let id = call["id"].as_str().expect("id").to_owned();
    assert_eq!(call["status"], "SCHEDULED");
    assert_eq!(call["durationMinutes"], 30);
    assert_eq!(call["initiator"]["id"], m.client.id.as_str());
    assert_eq!(call["participants"].as_array().expect("participants").len(), 2);
    let room_url = call["roomUrl"].as_str().expect("roomUrl").to_owned();
    let room_id = call["roomId"].as_str().expect("roomId");
    assert_eq!(room_url, format!("https://meet.jit.si/{room_id}"));
    assert_eq!(room_id.len(), "gigmarket-".len() + 32, "{room_id}");
    assert!(
        call["startsAtLocal"].as_str().expect("local").ends_with("(UTC)"),
        "{call}"
    );
    let notified = one(
        app,
        &format!(
            "SELECT string_agg(user_id::text || ':' || kind, ',') AS value FROM notifications WHERE data->>'callId' = '{id}'"
        ),
    )
    .await;
    assert_eq!(notified, format!("{}:CALL_SCHEDULED", m.freelancer.id));
    let seen = app
        .gql_as(
            &m.freelancer,
            "query($id: ID!) { call(id: $id) { startsAtLocal } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        seen.data()["call"]["startsAtLocal"]
            .as_str()
            .expect("local")
            .ends_with("(Europe/Paris)"),
        "{:#}",
        seen.body
    );

    // A third member shares nothing with the client: not invited, and the call is not theirs.
    let r = schedule(
        app,
        &m.client,
        input(&[&m.freelancer, &m.stranger], at(300), 30, "Three", None),
    )
    .await;
    assert_eq!(
        (r.code(), r.fields()),
        ("VALIDATION_ERROR", vec!["participantIds".to_owned()])
    );
    let r = app
        .gql_as(&m.client, &create_query(), json!({ "p": [m.stranger.id] }))
        .await;
    assert_eq!(
        (r.code(), r.fields()),
        ("VALIDATION_ERROR", vec!["participantIds".to_owned()])
    );
    let r = app
        .gql_as(
            &m.stranger,
            "query($id: ID!) { call(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r.code(), "NOT_FOUND");
    assert_eq!(act(app, &m.stranger, "joinCall", &id).await.code(), "NOT_FOUND");

    // Overlaps and booked days are refused; the order's own booked day is not in the way.
    let r = schedule(app, &m.freelancer, input(&[&m.client], at(25), 30, "Overlap", None)).await;
    assert_eq!(r.code(), "CONFLICT", "{:#}", r.body);
    let noon = format!("{booked_day}T11:00:00Z")
        .parse::<DateTime<Utc>>()
        .expect("noon");
    let r = schedule(app, &m.client, input(&[&m.freelancer], noon, 60, "On the day", None)).await;
    assert_eq!(r.code(), "CONFLICT", "{:#}", r.body);
    let r = schedule(
        app,
        &m.client,
        input(&[&m.freelancer], noon, 60, "On the day", Some(&order)),
    )
    .await;
    let later = r.data()["scheduleCall"]["id"].as_str().expect("id").to_owned();

    // Bounds, each named.
    let r = schedule(app, &m.client, input(&[&m.freelancer], at(-5), 1000, " ", None)).await;
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(fields, ["durationMinutes", "startsAt", "title"]);

    // The reminder job run by several schedulers at once, with its work run beside them
    // without the job lock (as a second instance would): the call starting in ten minutes is
    // reminded once, one mail per participant.
    let runs = (0..4).map(|_| gigmarket::scheduler::run_named(&app.state, "callReminders"));
    let unlocked = (0..4).map(|_| gigmarket::call::service::send_reminders(&app.state));
    let (runs, unlocked) = tokio::join!(join_all(runs), join_all(unlocked));
    let mut reminded = 0;
    for run in runs {
        match run {
            Some(Outcome::Done(counts)) => reminded += counts.get("reminded").unwrap_or(0),
            Some(Outcome::Skipped) => {}
            other => panic!("{other:?}"),
        }
    }
    reminded += unlocked.into_iter().map(|r| r.expect("reminders")).sum::<usize>();
    // The servers' own schedulers may have been the ones to do it.
    assert!(reminded <= 1, "reminded {reminded} times");
    let mails = app
        .texts(
            "SELECT recipient || '|' || attachment_content_type || '|' || body_text || '|' || attachment_body AS value \
             FROM mail_outbox WHERE attachment_name = 'call.ics' ORDER BY recipient",
        )
        .await;
    assert_eq!(mails.len(), 2, "{mails:#?}");
    let mut recipients: Vec<&str> = mails.iter().map(|m| m.split('|').next().unwrap_or_default()).collect();
    recipients.sort_unstable();
    let mut expected = vec![m.client.email.as_str(), m.freelancer.email.as_str()];
    expected.sort_unstable();
    assert_eq!(recipients, expected);
    for mail in &mails {
        let parts: Vec<&str> = mail.splitn(4, '|').collect();
        assert!(parts[1].starts_with("text/calendar"), "{mail}");
        assert!(parts[2].contains(&room_url), "{mail}");
        if parts[0] == m.freelancer.email {
            assert!(parts[2].contains("(Europe/Paris)"), "{mail}");
        }
        assert_valid_ics(parts[3], &id, &room_url, starts);
    }
    assert_eq!(
        one(
            app,
            &format!("SELECT (reminded_at IS NOT NULL)::text AS value FROM calls WHERE id = '{id}'")
        )
        .await,
        "true"
    );
    assert_eq!(
        one(
            app,
            &format!("SELECT (reminded_at IS NULL)::text AS value FROM calls WHERE id = '{later}'")
        )
        .await,
        "true"
    );
    // Each participant is also told in the app, once.
    let told = app
        .texts(&format!(
            "SELECT user_id::text AS value FROM notifications \
             WHERE kind = 'CALL_SCHEDULED' AND data->>'callId' = '{id}' AND title LIKE '%starts soon' \
             ORDER BY user_id"
        ))
        .await;
    let mut expected = vec![m.client.id.clone(), m.freelancer.id.clone()];
    expected.sort_unstable();
    assert_eq!(told, expected);
    // And the relay delivered it as a multipart mail with the calendar part.
    let delivered = receive_calendar_mail(&mut inbox).await;
    assert!(delivered.contains("Content-Type: text/calendar"), "{delivered}");
    assert!(delivered.contains("call.ics"), "{delivered}");

    // Join and end record their times.
    let joined = act(app, &m.freelancer, "joinCall", &id).await;
    let joined = &joined.data()["joinCall"];
    assert_eq!(joined["status"], "ACTIVE");
    assert!(joined["startedAt"].is_string(), "{joined}");
    act(app, &m.client, "joinCall", &id).await.data();
    let ended = act(app, &m.client, "endCall", &id).await;
    let ended = &ended.data()["endCall"];
    assert_eq!(ended["status"], "ENDED");
    let started: DateTime<Utc> = ended["startedAt"].as_str().expect("started").parse().expect("time");
    let finished: DateTime<Utc> = ended["endedAt"].as_str().expect("ended").parse().expect("time");
    assert!(finished >= started);
    assert_eq!(ended["durationSeconds"], (finished - started).num_seconds());
    assert!(ended["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .all(|p| p["joinedAt"].is_string()));
    assert_eq!(act(app, &m.freelancer, "endCall", &id).await.code(), "CONFLICT");
    assert_eq!(act(app, &m.client, "cancelCall", &id).await.code(), "CONFLICT");

    // Only the initiator cancels.
    assert_eq!(act(app, &m.freelancer, "cancelCall", &later).await.code(), "FORBIDDEN");
    let cancelled = act(app, &m.client, "cancelCall", &later).await;
    assert_eq!(cancelled.data()["cancelCall"]["status"], "CANCELLED");
    let told = app
        .texts(&format!(
            "SELECT (data->>'status') || ' ' || title AS value FROM notifications \
             WHERE kind = 'SYSTEM' AND user_id = '{}' AND data->>'callId' = '{later}'",
            m.freelancer.id
        ))
        .await;
    assert_eq!(told.len(), 1, "the other participant is told once");
    assert!(
        told[0].starts_with("CANCELLED ") && told[0].ends_with("cancelled a call"),
        "{}",
        told[0]
    );
    assert_eq!(act(app, &m.freelancer, "joinCall", &later).await.code(), "CONFLICT");

    // An instant call with someone the client talks to: active at once, and upcoming.
    app.gql_as(
        &m.client,
        "mutation($p: ID!) { startConversation(participantId: $p) { id } }",
        json!({ "p": m.stranger.id }),
    )
    .await
    .data();
    let instant = app
        .gql_as(&m.client, &create_query(), json!({ "p": [m.stranger.id] }))
        .await;
    let instant = instant.data()["createCall"].clone();
    assert_eq!(instant["status"], "ACTIVE");
    assert!(instant["startedAt"].is_string());
    assert_ne!(instant["roomId"], call["roomId"]);

    // The client's history pages: the cancelled call (latest start) first, then the ended one.
    let page = app.gql_as(&m.client, LIST, json!({ "f": 1 })).await;
    let page = page.data();
    assert_eq!(page["callHistory"]["totalCount"], 2);
    assert_eq!(page["callHistory"]["nodes"][0]["id"], later.as_str());
    assert_eq!(page["callHistory"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["upcomingCalls"]["totalCount"], 1);
    assert_eq!(page["upcomingCalls"]["nodes"][0]["id"], instant["id"]);
    let cursor = page["callHistory"]["pageInfo"]["endCursor"].clone();
    let next = app.gql_as(&m.client, LIST, json!({ "f": 1, "a": cursor })).await;
    let next = &next.data()["callHistory"];
    assert_eq!(next["nodes"][0]["id"], id.as_str());
    assert_eq!(next["nodes"][0]["status"], "ENDED");
    assert_eq!(next["pageInfo"]["hasNextPage"], false);
}

/// Parses `text` with the `icalendar` crate's parser and checks the event's fields.
fn assert_valid_ics(text: &str, call_id: &str, room_url: &str, starts: DateTime<Utc>) {
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.contains("VERSION:2.0"), "{text}");
    let calendar: Calendar = text.parse().unwrap_or_else(|e| panic!("not a calendar: {e}\n{text}"));
    let events: Vec<_> = calendar.events().collect();
    assert_eq!(events.len(), 1, "{text}");
    let event = events[0];
    assert!(event.get_uid().expect("UID").starts_with(call_id), "{text}");
    assert!(event.get_timestamp().is_some(), "DTSTAMP in {text}");
    assert_eq!(event.get_summary(), Some("Kick-off"));
    assert_eq!(event.get_url(), Some(room_url));
    assert_eq!(event.get_location(), Some(room_url));
    let utc = |d: Option<DatePerhapsTime>| match d {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(t))) => Some(t),
        other => panic!("not a UTC date-time: {other:?}"),
    };
    assert_eq!(utc(event.get_start()), Some(starts));
    assert_eq!(utc(event.get_end()), Some(starts + chrono::Duration::minutes(30)));
}

/// The first delivered mail with a calendar part.
async fn receive_calendar_mail(inbox: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    loop {
        let mail = tokio::time::timeout(Duration::from_secs(30), inbox.recv())
            .await
            .expect("mail within 30 s")
            .expect("a message");
        if mail.contains("text/calendar") {
            return mail;
        }
    }
}
