//! Starting, scheduling, joining, ending and cancelling calls, the members' lists of them,
//! and the reminders the scheduler sends.
//!
//! Transactions: scheduling takes a transaction-level lock per member (`model::lock_members`)
//! before it checks overlaps and booked days, so two schedulings for one member cannot both
//! pass; the call, its participants and the CALL_SCHEDULED notifications commit together.
//! State changes lock the call row. Reminders are claimed and their mails queued in one
//! transaction per batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use rand::RngCore;
use uuid::Uuid;

use super::{
    invite,
    model::{self, CallChange, CallList, CallRow, CallStatus, ParticipantRow},
};
use crate::{
    calendar::model as calendar,
    db::{
        self,
        page::{Page, PageRequest},
        Batch,
    },
    error::{AppError, AppResult, FieldErrors},
    mail::Attachment,
    notification::service::{self as notification, Kind},
    order::model as orders,
    profile::model::{self as profiles, UserRow},
    state::AppState,
    task::model as tasks,
    validation,
};

/// Most members a call invites besides its initiator.
pub const MAX_INVITEES: usize = 8;
/// Shortest and longest scheduled call, in minutes.
pub const DURATION_MINUTES: std::ops::RangeInclusive<i32> = 5..=240;
/// Longest title, in characters.
pub const TITLE_MAX: usize = 120;
/// How far ahead a call may be scheduled.
const HORIZON: chrono::Duration = chrono::Duration::days(365);
/// How long before its start a scheduled call's room opens, and its reminder goes out.
pub const LEAD: chrono::Duration = chrono::Duration::minutes(15);
/// Reminders claimed per transaction.
const REMINDER_BATCH: i64 = 100;

/// Where a call is tied to, if anywhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    pub task_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
}

/// What `scheduleCall` takes.
pub struct ScheduleInput {
    pub participant_ids: Vec<Uuid>,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub title: String,
    pub context: Context,
}

/// A fresh room id: 128 random bits as lowercase hex (providers such as Jitsi fold room
/// names to lower case, so a mixed-case alphabet would lose bits).
fn room_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("gigmarket-{hex}")
}

/// The invitees of a call: `raw` without the initiator and repeats, 1 to [`MAX_INVITEES`].
fn invitees(initiator: Uuid, raw: &[Uuid], errors: &mut FieldErrors) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = Vec::with_capacity(raw.len());
    for id in raw {
        if *id != initiator && !ids.contains(id) {
            ids.push(*id);
        }
    }
    if ids.is_empty() {
        errors.add("participantIds", "must name at least one other member");
    } else if ids.len() > MAX_INVITEES {
        errors.add("participantIds", format!("may name at most {MAX_INVITEES} members"));
    }
    ids
}

/// Checks where the call is tied to (a task or an order, not both) and that every invitee
/// shares it with the initiator (or, untied, shares any conversation, task or order), and
/// answers every member's profile, the initiator's first. A task or order the initiator is
/// not part of is `NOT_FOUND`; an invitee who shares nothing (or does not exist, or is
/// suspended) is a `VALIDATION_ERROR` on `participantIds`.
async fn members(
    conn: &mut AsyncPgConnection,
    initiator: &UserRow,
    invitees: &[Uuid],
    context: Context,
) -> AppResult<Vec<UserRow>> {
    if context.task_id.is_some() && context.order_id.is_some() {
        return Err(AppError::field("orderId", "give a task or an order, not both"));
    }
    if let Some(order_id) = context.order_id {
        orders::find_many(conn, &[order_id])
            .await?
            .into_iter()
            .find(|o| o.is_party(initiator.id))
            .ok_or_else(|| AppError::not_found("Order"))?;
    }
    if let Some(task_id) = context.task_id {
        tasks::find(conn, task_id)
            .await?
            .ok_or_else(|| AppError::not_found("Task"))?;
    }
    let contacts = model::contacts(conn, initiator.id, invitees, context.task_id, context.order_id).await?;
    let mut users: HashMap<Uuid, UserRow> = profiles::find_many(conn, invitees)
        .await?
        .into_iter()
        .filter(|u| !u.is_banned() && contacts.contains(&u.id))
        .map(|u| (u.id, u))
        .collect();
    if users.len() < invitees.len() {
        let scope = match context {
            Context { order_id: Some(_), .. } => "the other party of this order",
            Context { task_id: Some(_), .. } => {
                "members who share this task with you (its poster, or its applicants and assignee)"
            }
            _ => "members who share a conversation, task or order with you",
        };
        return Err(AppError::field("participantIds", format!("may only name {scope}")));
    }
    let mut all = Vec::with_capacity(invitees.len() + 1);
    all.push(initiator.clone());
    all.extend(invitees.iter().filter_map(|id| users.remove(id)));
    Ok(all)
}

/// The rows of a new call and its participants; `members` as [`members`] answers them,
/// the initiator first.
fn new_call(
    members: &[UserRow],
    title: String,
    context: Context,
    status: CallStatus,
    starts_at: DateTime<Utc>,
    duration_minutes: Option<i32>,
    now: DateTime<Utc>,
) -> (CallRow, Vec<ParticipantRow>) {
    let initiator = members.first().map(|m| m.id).unwrap_or_default();
    let started = status == CallStatus::Active;
    let call = CallRow {
        id: Uuid::now_v7(),
        room_id: room_id(),
        initiator_id: initiator,
        task_id: context.task_id,
        order_id: context.order_id,
        title,
        status,
        starts_at,
        duration_minutes,
        ends_at: duration_minutes.map(|m| starts_at + chrono::Duration::minutes(m.into())),
        started_at: started.then_some(now),
        ended_at: None,
        cancelled_at: None,
        reminded_at: None,
        created_at: now,
    };
    let participants = members
        .iter()
        .map(|m| ParticipantRow {
            call_id: call.id,
            user_id: m.id,
            starts_at,
            // The initiator of an instant call is in the room from the start.
            joined_at: (started && m.id == initiator).then_some(now),
        })
        .collect();
    (call, participants)
}

/// Tells the invitees about a new call (CALL_SCHEDULED), each with its start in their own
/// time zone, in the caller's transaction.
async fn notify_invitees(
    conn: &mut AsyncPgConnection,
    app: &AppState,
    call: &CallRow,
    members: &[UserRow],
) -> AppResult<()> {
    let Some((initiator, invitees)) = members.split_first() else {
        return Ok(());
    };
    let url = invite::room_url(&app.config.video_room_base_url, &call.room_id);
    let notes = invitees
        .iter()
        .map(|m| {
            let (title, body) = if call.status == CallStatus::Active {
                (
                    format!("{} is calling you", initiator.full_name),
                    format!("\u{201c}{}\u{201d} has started. Join: {url}", call.title),
                )
            } else {
                (
                    format!("{} scheduled a call", initiator.full_name),
                    format!(
                        "\u{201c}{}\u{201d} on {}",
                        call.title,
                        invite::local_time(call.starts_at, m.timezone.as_deref())
                    ),
                )
            };
            let data = serde_json::json!({
                "callId": call.id,
                "startsAt": call.starts_at,
                "roomUrl": url,
            });
            (m.id, title, body, data)
        })
        .collect();
    notification::notify_many(conn, Kind::CallScheduled, notes).await?;
    Ok(())
}

/// An instant call: active at once, the initiator in the room, the invitees notified.
pub async fn create_instant(
    app: &AppState,
    viewer: &UserRow,
    participant_ids: &[Uuid],
    context: Context,
) -> AppResult<CallRow> {
    if viewer.is_banned() {
        return Err(crate::auth::banned());
    }
    let mut errors = FieldErrors::new();
    let invitees = invitees(viewer.id, participant_ids, &mut errors);
    errors.into_result()?;
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let members = members(conn, viewer, &invitees, context).await?;
            let now = Utc::now();
            let title = format!("Call with {}", viewer.full_name);
            let title: String = title.chars().take(TITLE_MAX).collect();
            let (call, participants) = new_call(&members, title, context, CallStatus::Active, now, None, now);
            model::insert(conn, &call, &participants).await?;
            notify_invitees(conn, app, &call, &members).await?;
            Ok(call)
        })
        .await
}

/// A scheduled call: checked (title, length, a start in the future, who is invited), kept
/// off every member's other planned calls and booked days (`CONFLICT`), and announced to
/// the invitees (CALL_SCHEDULED) in the same transaction.
pub async fn schedule(app: &AppState, viewer: &UserRow, input: ScheduleInput) -> AppResult<CallRow> {
    if viewer.is_banned() {
        return Err(crate::auth::banned());
    }
    let now = Utc::now();
    let mut errors = FieldErrors::new();
    let invitees = invitees(viewer.id, &input.participant_ids, &mut errors);
    let title = validation::text("title", &input.title, 1, TITLE_MAX, false, &mut errors);
    if !DURATION_MINUTES.contains(&input.duration_minutes) {
        errors.add(
            "durationMinutes",
            format!("must be {} to {}", DURATION_MINUTES.start(), DURATION_MINUTES.end()),
        );
    }
    if input.starts_at <= now {
        errors.add("startsAt", "must be in the future");
    } else if input.starts_at > now + HORIZON {
        errors.add("startsAt", "must be within a year");
    }
    errors.into_result()?;
    let starts = input.starts_at;
    let ends = starts + chrono::Duration::minutes(input.duration_minutes.into());
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let members = members(conn, viewer, &invitees, input.context).await?;
            let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
            model::lock_members(conn, &ids).await?;
            if !model::overlapping(conn, &ids, starts, ends).await?.is_empty() {
                return Err(AppError::Conflict(
                    "A participant already has a call planned at that time.".into(),
                ));
            }
            if booked(conn, &members, starts, ends, input.context.order_id).await? {
                return Err(AppError::Conflict(
                    "A participant's calendar is booked on that day.".into(),
                ));
            }
            let (call, participants) = new_call(
                &members,
                title,
                input.context,
                CallStatus::Scheduled,
                starts,
                Some(input.duration_minutes),
                Utc::now(),
            );
            model::insert(conn, &call, &participants).await?;
            notify_invitees(conn, app, &call, &members).await?;
            Ok(call)
        })
        .await
}

/// Whether any member has a day booked (by an order other than the call's own) among the
/// days `[starts, ends)` covers in their own time zone.
async fn booked(
    conn: &mut AsyncPgConnection,
    members: &[UserRow],
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    order_id: Option<Uuid>,
) -> AppResult<bool> {
    let last_instant = ends - chrono::Duration::microseconds(1);
    let span = |m: &UserRow| {
        let tz = m.timezone.as_deref();
        (invite::local_day(starts, tz), invite::local_day(last_instant, tz))
    };
    let spans: HashMap<Uuid, _> = members.iter().map(|m| (m.id, span(m))).collect();
    let (Some(from), Some(to)) = (spans.values().map(|s| s.0).min(), spans.values().map(|s| s.1).max()) else {
        return Ok(false);
    };
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let days = calendar::booked_between(conn, &ids, from, to).await?;
    Ok(days.iter().any(|(user, day, by_order)| {
        let inside = spans.get(user).is_some_and(|(a, b)| a <= day && day <= b);
        inside && (order_id.is_none() || *by_order != order_id)
    }))
}

/// What a participant does to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Join,
    End,
    Cancel,
}

/// What `action` by `viewer` at `now` changes on `call` (nothing, for a second join of an
/// active call), or why it is refused. Pure: the state table of a call.
pub fn decide(call: &CallRow, action: Action, viewer: Uuid, now: DateTime<Utc>) -> AppResult<CallChange> {
    use CallStatus::*;
    let over = || AppError::Conflict(format!("This call is {}.", call.status));
    match (action, call.status) {
        (_, Ended | Cancelled) => Err(over()),
        (Action::Join, Active) => Ok(CallChange::default()),
        (Action::Join, Scheduled) if now < call.starts_at - LEAD => Err(AppError::Conflict(
            "The call's room opens 15 minutes before it starts.".into(),
        )),
        (Action::Join, Scheduled) => Ok(CallChange {
            status: Some(Active),
            started_at: Some(now),
            ..CallChange::default()
        }),
        (Action::End, Active) => Ok(CallChange {
            status: Some(Ended),
            ended_at: Some(now),
            ..CallChange::default()
        }),
        (Action::End, Scheduled) => Err(AppError::Conflict(
            "This call has not started; cancel it instead.".into(),
        )),
        (Action::Cancel, _) if call.initiator_id != viewer => {
            Err(AppError::Forbidden("Only the call's initiator cancels it.".into()))
        }
        (Action::Cancel, Scheduled) => Ok(CallChange {
            status: Some(Cancelled),
            cancelled_at: Some(now),
            ..CallChange::default()
        }),
        (Action::Cancel, Active) => Err(AppError::Conflict(
            "A call that has started cannot be cancelled; end it instead.".into(),
        )),
    }
}

/// Applies `action` by `viewer` to a call they take part in (`NOT_FOUND` otherwise), on its
/// locked row: joining stamps the viewer's first join (and starts a scheduled call), ending
/// stamps `ended_at` (with `started_at`, the call's duration), cancelling `cancelled_at`.
pub async fn act(app: &AppState, viewer: &UserRow, call_id: Uuid, action: Action) -> AppResult<CallRow> {
    if viewer.is_banned() {
        return Err(crate::auth::banned());
    }
    let mut conn = app.db.conn().await?;
    app.bus
        .transaction::<_, AppError, _>(&mut conn, async |conn| {
            let call = model::lock_for(conn, call_id, viewer.id)
                .await?
                .ok_or_else(|| AppError::not_found("Call"))?;
            let now = Utc::now();
            let change = decide(&call, action, viewer.id, now)?;
            let call = if change.status.is_some() {
                model::update(conn, call.id, &change).await?
            } else {
                call
            };
            if action == Action::Join {
                model::mark_joined(conn, call.id, viewer.id, now).await?;
            }
            if action == Action::Cancel {
                notify_cancelled(conn, &call, viewer).await?;
            }
            Ok(call)
        })
        .await
}

/// Tells the other participants that `initiator` called the call off (SYSTEM, data
/// `callId` and `status`), in the caller's transaction.
async fn notify_cancelled(conn: &mut AsyncPgConnection, call: &CallRow, initiator: &UserRow) -> AppResult<()> {
    let notes = model::participants_of(conn, &[call.id])
        .await?
        .into_iter()
        .filter(|p| p.user_id != initiator.id)
        .map(|p| {
            (
                p.user_id,
                format!("{} cancelled a call", initiator.full_name),
                format!("\u{201c}{}\u{201d} will not take place.", call.title),
                serde_json::json!({ "callId": call.id, "status": call.status }),
            )
        })
        .collect();
    notification::notify_many(conn, Kind::System, notes).await?;
    Ok(())
}

/// The call, if `viewer` takes part in it.
pub async fn find(app: &AppState, viewer: Uuid, call_id: Uuid) -> AppResult<CallRow> {
    let mut conn = app.db.conn().await?;
    model::find_for(&mut conn, call_id, viewer)
        .await?
        .ok_or_else(|| AppError::not_found("Call"))
}

/// A page of `viewer`'s calls in `list`.
pub async fn page(
    app: &AppState,
    viewer: Uuid,
    list: CallList,
    request: &PageRequest<(DateTime<Utc>, Uuid)>,
) -> AppResult<Page<CallRow>> {
    let now = Utc::now();
    let mut conn = app.db.conn().await?;
    Ok(request
        .fetch(
            &mut conn,
            async |c, after, limit| model::page(c, viewer, list, now, after.copied(), limit).await,
            async |c| model::count(c, viewer, list, now).await,
        )
        .await?)
}

/// Mails a reminder, with the call's calendar file attached, and notifies in the app
/// (CALL_SCHEDULED, data `callId`, `startsAt`, `roomUrl`) every participant of each
/// scheduled call that starts within [`LEAD`] and was not reminded yet. Each call is
/// claimed once across instances (`model::claim_due_reminders`) in the transaction that
/// queues its mails, so a crash sends nothing twice and loses nothing. Returns how many
/// calls it reminded. The scheduler calls it.
pub async fn send_reminders(app: &AppState) -> AppResult<usize> {
    db::drain(REMINDER_BATCH, || async move {
        let mut conn = app.jobs_db.conn().await?;
        app.bus
            .transaction::<_, AppError, _>(&mut conn, async |conn| {
                let now = Utc::now();
                let due = model::claim_due_reminders(conn, now, LEAD, REMINDER_BATCH).await?;
                if due.is_empty() {
                    return Ok(Batch::of(0));
                }
                let ids: Vec<Uuid> = due.iter().map(|c| c.id).collect();
                let participants = model::participants_of(conn, &ids).await?;
                let user_ids: Vec<Uuid> = participants.iter().map(|p| p.user_id).collect();
                let users: HashMap<Uuid, UserRow> = profiles::find_many(conn, &user_ids)
                    .await?
                    .into_iter()
                    .map(|u| (u.id, u))
                    .collect();
                let mut reminders = Vec::with_capacity(participants.len());
                for call in &due {
                    let url = invite::room_url(&app.config.video_room_base_url, &call.room_id);
                    let attachment = Attachment {
                        filename: invite::ICS_FILENAME.to_owned(),
                        content_type: invite::ICS_CONTENT_TYPE.to_owned(),
                        body: invite::ics(call, &url, &host(app), now),
                    };
                    let people = participants
                        .iter()
                        .filter(|p| p.call_id == call.id)
                        .filter_map(|p| users.get(&p.user_id));
                    for user in people {
                        let when = invite::local_time(call.starts_at, user.timezone.as_deref());
                        let subject = format!("Reminder: \u{201c}{}\u{201d} starts soon", call.title);
                        let body = format!(
                            "Hello {},\n\nYour call \u{201c}{}\u{201d} starts on {when}.\n\nJoin: {url}\n\nThe attached calendar file adds it to your calendar.\n",
                            user.full_name, call.title
                        );
                        app.mailer
                            .queue_with(conn, &user.email, &subject, &body, Some(&attachment))
                            .await?;
                        reminders.push((
                            user.id,
                            format!("\u{201c}{}\u{201d} starts soon", call.title),
                            format!("Your call starts on {when}. Join: {url}"),
                            serde_json::json!({ "callId": call.id, "startsAt": call.starts_at, "roomUrl": url }),
                        ));
                    }
                }
                notification::notify_many(conn, Kind::CallScheduled, reminders).await?;
                Ok(Batch::of(due.len()))
            })
            .await
    })
    .await
}

/// The host name the calendar UIDs carry (the server's public host).
fn host(app: &AppState) -> String {
    url::Url::parse(&app.config.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "gigmarket.local".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: CallStatus, starts_in: chrono::Duration) -> CallRow {
        let now = Utc::now();
        CallRow {
            id: Uuid::now_v7(),
            room_id: room_id(),
            initiator_id: Uuid::nil(),
            task_id: None,
            order_id: None,
            title: "t".into(),
            status,
            starts_at: now + starts_in,
            duration_minutes: Some(30),
            ends_at: Some(now + starts_in + chrono::Duration::minutes(30)),
            started_at: None,
            ended_at: None,
            cancelled_at: None,
            reminded_at: None,
            created_at: now,
        }
    }

    #[test]
    fn the_state_table_of_a_call() {
        use CallStatus::*;
        let (now, initiator, other) = (Utc::now(), Uuid::nil(), Uuid::now_v7());
        let code = |r: AppResult<CallChange>| r.map(|c| c.status).map_err(|e| e.code());
        let soon = call(Scheduled, chrono::Duration::minutes(10));
        let later = call(Scheduled, chrono::Duration::hours(2));
        assert_eq!(code(decide(&soon, Action::Join, other, now)), Ok(Some(Active)));
        assert!(code(decide(&later, Action::Join, other, now)).is_err());
        assert_eq!(
            code(decide(
                &call(Active, chrono::Duration::zero()),
                Action::Join,
                other,
                now
            )),
            Ok(None)
        );
        assert_eq!(
            code(decide(&call(Active, chrono::Duration::zero()), Action::End, other, now)),
            Ok(Some(Ended))
        );
        assert!(code(decide(&soon, Action::End, other, now)).is_err());
        assert!(code(decide(&soon, Action::Cancel, other, now)).is_err());
        assert_eq!(code(decide(&soon, Action::Cancel, initiator, now)), Ok(Some(Cancelled)));
        for status in [Ended, Cancelled] {
            for action in [Action::Join, Action::End, Action::Cancel] {
                assert!(code(decide(&call(status, chrono::Duration::zero()), action, initiator, now)).is_err());
            }
        }
    }

    #[test]
    fn invitees_drop_the_initiator_and_repeats_and_are_bounded() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let mut errors = FieldErrors::new();
        assert_eq!(invitees(me, &[other, me, other], &mut errors), [other]);
        assert!(errors.is_empty());
        let many: Vec<Uuid> = (0..=MAX_INVITEES).map(|_| Uuid::now_v7()).collect();
        for bad in [vec![me], many] {
            let mut errors = FieldErrors::new();
            invitees(me, &bad, &mut errors);
            let fields: Vec<&String> = errors.iter().map(|(f, _)| f).collect();
            assert_eq!(fields, ["participantIds"]);
        }
    }

    #[test]
    fn room_ids_are_long_random_and_lowercase() {
        let (a, b) = (room_id(), room_id());
        assert_ne!(a, b);
        let hex = a.strip_prefix("gigmarket-").expect("prefix");
        assert_eq!(hex.len(), 32);
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
