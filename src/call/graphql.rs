//! Calls over GraphQL: the `Call` type, `call`, `upcomingCalls`, `callHistory`, and
//! `createCall`, `scheduleCall`, `joinCall`, `endCall`, `cancelCall`.

use std::sync::Arc;

use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use super::model::CallStatus;
use super::{
    invite,
    loaders::ParticipantsOf,
    model::{CallList, CallRow, ParticipantRow},
    service::{self, Action, ScheduleInput, MAX_INVITEES},
};
use crate::{
    error::AppError,
    graphql::{
        context::ContextExt,
        loader::load_list,
        pagination::{connection, list_cost, page_request, ListConnection},
        types::parse_id,
    },
    profile::graphql::User,
};

/// A video call between members who share a conversation, a task or an order: an instant
/// call (`createCall`, active at once) or a scheduled one (`scheduleCall`). Everyone in it
/// meets in one room at the server's video provider (`roomUrl`); only its participants see
/// it.
#[derive(async_graphql::Description)]
pub struct Call(Arc<CallRow>);

#[Object(use_type_description)]
impl Call {
    /// The call's id (pass it to `joinCall`, `endCall`, `cancelCall`).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The room's name at the video provider: random and unguessable.
    async fn room_id(&self) -> &str {
        &self.0.room_id
    }
    /// Where to meet: the server's video provider base (`VIDEO_ROOM_BASE_URL`) and the room.
    async fn room_url(&self, ctx: &Context<'_>) -> String {
        invite::room_url(&ctx.app().config.video_room_base_url, &self.0.room_id)
    }
    /// The call's title (`Call with …` for an instant call).
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Where the call stands.
    async fn status(&self) -> CallStatus {
        self.0.status
    }
    /// Who started or scheduled the call (the one who may cancel it).
    async fn initiator(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.initiator_id).await
    }
    /// Everyone invited, the initiator included, with when each first joined.
    async fn participants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CallParticipant>> {
        Ok(load_list(ctx, ParticipantsOf(self.0.id))
            .await?
            .iter()
            .map(|p| CallParticipant(p.clone()))
            .collect())
    }
    /// The task the call is about, if any.
    async fn task_id(&self) -> Option<ID> {
        self.0.task_id.map(|id| ID(id.to_string()))
    }
    /// The order the call is about, if any.
    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(|id| ID(id.to_string()))
    }
    /// The planned start of a scheduled call; when an instant call was created.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }
    /// `startsAt` in your profile's time zone (`timezone`), e.g. `Mon 7 Dec 2026, 14:30
    /// (Europe/Paris)`; in UTC when your profile names none (or one this server does not know).
    async fn starts_at_local(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let viewer = ctx.viewer()?;
        Ok(invite::local_time(self.0.starts_at, viewer.user.timezone.as_deref()))
    }
    /// The planned length of a scheduled call, in minutes; null for an instant call.
    async fn duration_minutes(&self) -> Option<i32> {
        self.0.duration_minutes
    }
    /// The planned end of a scheduled call; null for an instant call.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.0.ends_at
    }
    /// When the call started (created, for an instant call; first joined, for a scheduled one).
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When the call ended (`endCall`).
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// How long the call lasted, in seconds, once it ended.
    async fn duration_seconds(&self) -> Option<i64> {
        match (self.0.started_at, self.0.ended_at) {
            (Some(started), Some(ended)) => Some((ended - started).num_seconds()),
            _ => None,
        }
    }
    /// When the initiator cancelled the call.
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancelled_at
    }
    /// When the call was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A member invited to a call (the initiator included), with when they first joined.
#[derive(async_graphql::Description)]
pub struct CallParticipant(ParticipantRow);

#[Object(use_type_description)]
impl CallParticipant {
    /// The member.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        User::on_record(ctx, self.0.user_id).await
    }
    /// When they first joined; null until they do.
    async fn joined_at(&self) -> Option<DateTime<Utc>> {
        self.0.joined_at
    }
}

fn call_key(row: &Arc<CallRow>) -> (DateTime<Utc>, Uuid) {
    (row.starts_at, row.id)
}

/// The ids of `participantIds`, bounded before they are read.
fn parse_participants(ids: &[ID]) -> Result<Vec<Uuid>, AppError> {
    // The initiator may list themself; repeats are dropped later.
    if ids.len() > 2 * MAX_INVITEES {
        return Err(AppError::field(
            "participantIds",
            format!("may name at most {MAX_INVITEES} members"),
        ));
    }
    ids.iter().map(|id| parse_id(id, "participantIds")).collect()
}

fn context(task_id: Option<&ID>, order_id: Option<&ID>) -> Result<service::Context, AppError> {
    Ok(service::Context {
        task_id: task_id.map(|id| parse_id(id, "taskId")).transpose()?,
        order_id: order_id.map(|id| parse_id(id, "orderId")).transpose()?,
    })
}

async fn list(
    ctx: &Context<'_>,
    list: CallList,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<ListConnection<Call>> {
    let viewer = ctx.viewer()?;
    let request = page_request(ctx, first, after.as_deref())?;
    let page = service::page(ctx.app(), viewer.id(), list, &request).await?;
    Ok(connection(page.map(Arc::new), call_key, Call))
}

#[derive(Default)]
pub struct CallQuery;

#[Object]
impl CallQuery {
    /// A call you take part in; `NOT_FOUND` for any other.
    async fn call(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The call's `id`.")] id: ID,
    ) -> async_graphql::Result<Call> {
        let viewer = ctx.viewer()?;
        let id = parse_id(&id, "id")?;
        Ok(Call(Arc::new(service::find(ctx.app(), viewer.id(), id).await?)))
    }

    /// Your active calls and the scheduled ones not yet past their planned end, soonest
    /// first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn upcoming_calls(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Call>> {
        list(ctx, CallList::Upcoming, first, after).await
    }

    /// Your past calls: ended, cancelled, and scheduled ones whose planned end passed with
    /// nobody joining; latest first.
    #[graphql(complexity = "list_cost(first, child_complexity)")]
    async fn call_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: 1 to the page size cap (100 unless configured); 20 when omitted.")] first: Option<
            i32,
        >,
        #[graphql(desc = "The `endCursor` of the previous page; omit for the first page.")] after: Option<String>,
    ) -> async_graphql::Result<ListConnection<Call>> {
        list(ctx, CallList::History, first, after).await
    }
}

/// A call to schedule.
#[derive(InputObject)]
pub struct ScheduleCallInput {
    /// The members to invite (1 to 8 besides you), each sharing a conversation, task or
    /// order with you; with `taskId` or `orderId`, sharing that one.
    pub participant_ids: Vec<ID>,
    /// When it starts: in the future, within a year.
    pub starts_at: DateTime<Utc>,
    /// How long it is planned to last: 5 to 240 minutes.
    pub duration_minutes: i32,
    /// 1 to 120 characters.
    pub title: String,
    /// The task it is about (not with `orderId`).
    pub task_id: Option<ID>,
    /// The order it is about (not with `taskId`); days booked by this order do not stand in
    /// the way.
    pub order_id: Option<ID>,
}

/// `joinCall`, `endCall`, `cancelCall`: `action` on the call `id` by the viewer.
async fn act(ctx: &Context<'_>, id: &ID, action: Action) -> async_graphql::Result<Call> {
    let viewer = ctx.viewer()?;
    let id = parse_id(id, "id")?;
    Ok(Call(Arc::new(service::act(ctx.app(), &viewer.user, id, action).await?)))
}

#[derive(Default)]
pub struct CallMutation;

#[Object]
impl CallMutation {
    /// Starts an instant call: active at once with you in the room; the members invited are
    /// notified (CALL_SCHEDULED) with the room URL. `VALIDATION_ERROR` on `participantIds`
    /// for a member who shares no conversation, task or order with you (with `taskId` or
    /// `orderId`: that task or order), `NOT_FOUND` for a task or order you are not part of.
    async fn create_call(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The members to call (1 to 8 besides you).")] participant_ids: Vec<ID>,
        #[graphql(desc = "The task the call is about.")] task_id: Option<ID>,
        #[graphql(desc = "The order the call is about.")] order_id: Option<ID>,
    ) -> async_graphql::Result<Call> {
        let viewer = ctx.viewer()?;
        let ids = parse_participants(&participant_ids)?;
        let context = context(task_id.as_ref(), order_id.as_ref())?;
        let row = service::create_instant(ctx.app(), &viewer.user, &ids, context).await?;
        Ok(Call(Arc::new(row)))
    }

    /// Schedules a call. Refused with `CONFLICT` when it overlaps another scheduled or
    /// active call of any participant, or falls on a day booked on a participant's calendar
    /// (in their profile's time zone) by an order other than `orderId`. The invitees are
    /// notified (CALL_SCHEDULED); everyone gets a reminder mail with a calendar file 15
    /// minutes before the start. `VALIDATION_ERROR` names each bad field (see
    /// `ScheduleCallInput`); `NOT_FOUND` for a task or order you are not part of.
    async fn schedule_call(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who, when, how long, and what about.")] input: ScheduleCallInput,
    ) -> async_graphql::Result<Call> {
        let viewer = ctx.viewer()?;
        let input = ScheduleInput {
            participant_ids: parse_participants(&input.participant_ids)?,
            starts_at: input.starts_at,
            duration_minutes: input.duration_minutes,
            title: input.title,
            context: context(input.task_id.as_ref(), input.order_id.as_ref())?,
        };
        let row = service::schedule(ctx.app(), &viewer.user, input).await?;
        Ok(Call(Arc::new(row)))
    }

    /// Joins a call you take part in: an active one at any time, a scheduled one from 15
    /// minutes before its start (the first join starts it: `startedAt`). `CONFLICT` for an
    /// ended or cancelled call or a room not open yet.
    async fn join_call(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The call's `id`.")] id: ID,
    ) -> async_graphql::Result<Call> {
        act(ctx, &id, Action::Join).await
    }

    /// Ends an active call you take part in (`endedAt`, `durationSeconds`). `CONFLICT` for
    /// a call that has not started (cancel it instead) or is over.
    async fn end_call(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The call's `id`.")] id: ID,
    ) -> async_graphql::Result<Call> {
        act(ctx, &id, Action::End).await
    }

    /// Cancels a scheduled call that has not started; the other participants are notified
    /// (SYSTEM, data `callId` and `status`). Only its initiator may (`FORBIDDEN` for the
    /// other participants); `CONFLICT` once it started or ended.
    async fn cancel_call(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The call's `id`.")] id: ID,
    ) -> async_graphql::Result<Call> {
        act(ctx, &id, Action::Cancel).await
    }
}
