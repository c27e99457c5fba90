//! Rows and queries of `calls` and `call_participants`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::db::{
    schema::{call_participants, calls},
    text_enum::pg_enum,
};

pg_enum! {
    /// Where a call stands.
    #[derive(async_graphql::Enum)]
    pub enum CallStatus {
        /// Planned for `startsAt`; nobody has joined yet.
        Scheduled = "SCHEDULED",
        /// Under way: an instant call, or a scheduled one someone joined.
        Active = "ACTIVE",
        /// Over (`endCall`).
        Ended = "ENDED",
        /// Called off before it started (`cancelCall`).
        Cancelled = "CANCELLED",
    }
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = calls, check_for_backend(diesel::pg::Pg))]
pub struct CallRow {
    pub id: Uuid,
    pub room_id: String,
    pub initiator_id: Uuid,
    pub task_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub title: String,
    pub status: CallStatus,
    pub starts_at: DateTime<Utc>,
    pub duration_minutes: Option<i32>,
    pub ends_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = call_participants, check_for_backend(diesel::pg::Pg))]
pub struct ParticipantRow {
    pub call_id: Uuid,
    pub user_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub joined_at: Option<DateTime<Utc>>,
}

/// A call with its participants, written in one go.
pub async fn insert(conn: &mut AsyncPgConnection, call: &CallRow, participants: &[ParticipantRow]) -> QueryResult<()> {
    diesel::insert_into(calls::table).values(call).execute(conn).await?;
    diesel::insert_into(call_participants::table)
        .values(participants)
        .execute(conn)
        .await
        .map(drop)
}

/// The call `id` if `user_id` takes part in it, its row locked for the change to come.
pub async fn lock_for(conn: &mut AsyncPgConnection, id: Uuid, user_id: Uuid) -> QueryResult<Option<CallRow>> {
    calls::table
        .find(id)
        .filter(diesel::dsl::exists(
            call_participants::table
                .filter(call_participants::call_id.eq(id))
                .filter(call_participants::user_id.eq(user_id)),
        ))
        .select(CallRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The call `id` if `user_id` takes part in it.
pub async fn find_for(conn: &mut AsyncPgConnection, id: Uuid, user_id: Uuid) -> QueryResult<Option<CallRow>> {
    call_participants::table
        .inner_join(calls::table)
        .filter(call_participants::call_id.eq(id))
        .filter(call_participants::user_id.eq(user_id))
        .select(CallRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The participants of these calls, in the order they were added (the initiator first).
pub async fn participants_of(conn: &mut AsyncPgConnection, call_ids: &[Uuid]) -> QueryResult<Vec<ParticipantRow>> {
    call_participants::table
        .filter(call_participants::call_id.eq_any(call_ids))
        .select(ParticipantRow::as_select())
        .order((call_participants::call_id, call_participants::user_id))
        .load(conn)
        .await
}

/// Stamps `user_id`'s first join of `call_id` (a later join keeps the first time).
pub async fn mark_joined(
    conn: &mut AsyncPgConnection,
    call_id: Uuid,
    user_id: Uuid,
    at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(call_participants::table.find((call_id, user_id)))
        .filter(call_participants::joined_at.is_null())
        .set(call_participants::joined_at.eq(at))
        .execute(conn)
        .await
        .map(drop)
}

/// A call's new state: its status and the times that come with it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = calls)]
pub struct CallChange {
    pub status: Option<CallStatus>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, change: &CallChange) -> QueryResult<CallRow> {
    diesel::update(calls::table.find(id))
        .set(change)
        .returning(CallRow::as_returning())
        .get_result(conn)
        .await
}

/// Serialises the scheduling of calls for these members until the transaction ends (a
/// transaction-level advisory lock per member, taken in id order so two schedulers never
/// wait on each other in a cycle): the overlap check and the insert then see every other
/// scheduling of theirs.
pub async fn lock_members(conn: &mut AsyncPgConnection, user_ids: &[Uuid]) -> QueryResult<()> {
    /// The first key of these locks (the two-key form), apart from the scheduler's.
    const CALL_LOCK_SPACE: i32 = 7_264_200;
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, hashtext($2::text))")
            .bind::<diesel::sql_types::Integer, _>(CALL_LOCK_SPACE)
            .bind::<diesel::sql_types::Uuid, _>(id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The members among `user_ids` with a scheduled or active call planned to overlap
/// `[from, to)`: (member, call) pairs.
pub async fn overlapping(
    conn: &mut AsyncPgConnection,
    user_ids: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> QueryResult<Vec<(Uuid, Uuid)>> {
    call_participants::table
        .inner_join(calls::table)
        .filter(call_participants::user_id.eq_any(user_ids))
        // Calls are at most a few hours long: this bound keeps the walk on the index short.
        .filter(call_participants::starts_at.lt(to))
        .filter(call_participants::starts_at.gt(from - chrono::Duration::days(1)))
        .filter(calls::status.eq_any([CallStatus::Scheduled, CallStatus::Active]))
        .filter(calls::ends_at.gt(from))
        .select((call_participants::user_id, calls::id))
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct MemberId {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
}

/// Who of `candidates` shares something with `initiator`: with `order_id`, being the other
/// party of that order; with `task_id`, being the poster of that task while the other is its
/// assignee or an applicant (either way round); with neither, any conversation, order or
/// task they share. Reads the messaging, order, task and application tables in one
/// statement (each clause walks an index on its member column).
pub const CONTACTS_SQL: &str = "SELECT u.id FROM unnest($2::uuid[]) AS u (id) WHERE \
     ($3::uuid IS NULL AND $4::uuid IS NULL AND EXISTS ( \
         SELECT 1 FROM conversation_participants a \
         JOIN conversation_participants b ON b.conversation_id = a.conversation_id \
         WHERE a.user_id = $1 AND b.user_id = u.id)) \
     OR ($3::uuid IS NULL AND EXISTS ( \
         SELECT 1 FROM orders o \
         WHERE ($4::uuid IS NULL OR o.id = $4) \
           AND ((o.client_id = $1 AND o.freelancer_id = u.id) OR (o.client_id = u.id AND o.freelancer_id = $1)))) \
     OR ($4::uuid IS NULL AND EXISTS ( \
         SELECT 1 FROM tasks t \
         WHERE ($3::uuid IS NULL OR t.id = $3) AND ( \
             (t.poster_id = $1 AND (t.assignee_id = u.id OR EXISTS ( \
                 SELECT 1 FROM applications ap WHERE ap.task_id = t.id AND ap.freelancer_id = u.id))) \
          OR (t.poster_id = u.id AND (t.assignee_id = $1 OR EXISTS ( \
                 SELECT 1 FROM applications ap WHERE ap.task_id = t.id AND ap.freelancer_id = $1))))))";

/// See [`CONTACTS_SQL`].
pub async fn contacts(
    conn: &mut AsyncPgConnection,
    initiator: Uuid,
    candidates: &[Uuid],
    task_id: Option<Uuid>,
    order_id: Option<Uuid>,
) -> QueryResult<Vec<Uuid>> {
    use diesel::sql_types::{Array, Nullable};
    let rows: Vec<MemberId> = diesel::sql_query(CONTACTS_SQL)
        .bind::<diesel::sql_types::Uuid, _>(initiator)
        .bind::<Array<diesel::sql_types::Uuid>, _>(candidates)
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(task_id)
        .bind::<Nullable<diesel::sql_types::Uuid>, _>(order_id)
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Which of a member's calls a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallList {
    /// Active calls and scheduled ones not yet past their planned end, soonest first.
    Upcoming,
    /// Ended and cancelled calls, and scheduled ones whose planned end passed unstarted,
    /// latest first.
    History,
}

type Boxed<'a> = diesel::helper_types::IntoBoxed<
    'a,
    diesel::helper_types::InnerJoin<call_participants::table, calls::table>,
    diesel::pg::Pg,
>;

/// The member's calls in `list` as of `now`, unordered.
fn list_query<'a>(user_id: Uuid, list: CallList, now: DateTime<Utc>) -> Boxed<'a> {
    let query = call_participants::table
        .inner_join(calls::table)
        .filter(call_participants::user_id.eq(user_id))
        .into_boxed();
    let scheduled_ahead = calls::status.eq(CallStatus::Scheduled).and(calls::ends_at.gt(now));
    match list {
        CallList::Upcoming => query.filter(calls::status.eq(CallStatus::Active).or(scheduled_ahead)),
        CallList::History => query.filter(
            calls::status
                .eq_any([CallStatus::Ended, CallStatus::Cancelled])
                .or(calls::status.eq(CallStatus::Scheduled).and(calls::ends_at.le(now))),
        ),
    }
}

/// One page of the member's calls in `list`, after `(starts at, id)`.
pub async fn page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    list: CallList,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<CallRow>> {
    let mut query = list_query(user_id, list, now).select(CallRow::as_select()).limit(limit);
    let (at, id) = (call_participants::starts_at, call_participants::call_id);
    query = match list {
        CallList::Upcoming => query.order((at.asc(), id.asc())),
        CallList::History => query.order((at.desc(), id.desc())),
    };
    if let Some((after_at, after_id)) = after {
        query = match list {
            CallList::Upcoming => query.filter(at.gt(after_at).or(at.eq(after_at).and(id.gt(after_id)))),
            CallList::History => query.filter(at.lt(after_at).or(at.eq(after_at).and(id.lt(after_id)))),
        };
    }
    query.load(conn).await
}

/// How many calls the member has in `list`.
pub async fn count(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    list: CallList,
    now: DateTime<Utc>,
) -> QueryResult<i64> {
    list_query(user_id, list, now).count().get_result(conn).await
}

/// Claims the scheduled calls that start within `$2` (an interval in seconds) of `$1` and
/// have not started yet, and were not reminded: stamps `reminded_at` and returns them, at
/// most `$3`. The rows are picked with `SKIP LOCKED` and the stamp is re-checked when the
/// update takes each row, so two instances running this at once claim each call once
/// between them. (Diesel's DSL cannot put a locking subselect of `calls` in an update of
/// `calls`, hence the text.)
pub const CLAIM_REMINDERS_SQL: &str = "UPDATE calls SET reminded_at = $1 \
     WHERE reminded_at IS NULL AND id IN ( \
         SELECT id FROM calls \
         WHERE status = 'SCHEDULED' AND reminded_at IS NULL \
           AND starts_at > $1 AND starts_at <= $1 + make_interval(secs => $2) \
         ORDER BY starts_at LIMIT $3 \
         FOR UPDATE SKIP LOCKED) \
     RETURNING *";

/// See [`CLAIM_REMINDERS_SQL`].
pub async fn claim_due_reminders(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lead: chrono::Duration,
    limit: i64,
) -> QueryResult<Vec<CallRow>> {
    use diesel::sql_types::{BigInt, Double, Timestamptz};
    diesel::sql_query(CLAIM_REMINDERS_SQL)
        .bind::<Timestamptz, _>(now)
        .bind::<Double, _>(lead.num_seconds() as f64)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
}
