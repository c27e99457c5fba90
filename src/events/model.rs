//! Rows and queries of the `events` outbox.

use chrono::{DateTime, Utc};
use diesel::{prelude::*, sql_types};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::events;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg))]
pub struct EventRow {
    pub id: i64,
    pub seq: Option<i64>,
    pub topic: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    topic: &str,
    kind: &str,
    payload: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(events::table)
        .values((
            events::topic.eq(topic),
            events::kind.eq(kind),
            events::payload.eq(payload),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Writes several events in one statement, in the order given.
pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    rows: Vec<(String, &str, serde_json::Value)>,
) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = rows
        .into_iter()
        .map(|(topic, kind, payload)| {
            (
                events::topic.eq(topic),
                events::kind.eq(kind),
                events::payload.eq(payload),
            )
        })
        .collect();
    diesel::insert_into(events::table)
        .values(values)
        .execute(conn)
        .await
        .map(drop)
}

/// Numbers up to `limit` committed, unnumbered events in insertion order, and returns every
/// numbered-but-unpublished event (including ones a crashed round left behind) by `seq`.
/// The caller holds the relay lock, so numbering never interleaves.
pub async fn number_pending(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<EventRow>> {
    diesel::sql_query(
        "WITH picked AS ( \
             SELECT id FROM events WHERE seq IS NULL AND published_at IS NULL ORDER BY id LIMIT $1 \
         ), numbered AS ( \
             SELECT id, nextval('events_seq') AS seq FROM (SELECT id FROM picked ORDER BY id) p \
         ) \
         UPDATE events e SET seq = n.seq FROM numbered n WHERE e.id = n.id",
    )
    .bind::<sql_types::BigInt, _>(limit)
    .execute(conn)
    .await?;
    events::table
        .filter(events::published_at.is_null())
        .filter(events::seq.is_not_null())
        .order(events::seq)
        .select(EventRow::as_select())
        .load(conn)
        .await
}

/// Marks events up to and including `max_seq` as published.
pub async fn mark_published(conn: &mut AsyncPgConnection, max_seq: i64) -> QueryResult<usize> {
    diesel::update(
        events::table
            .filter(events::published_at.is_null())
            .filter(events::seq.le(max_seq)),
    )
    .set(events::published_at.eq(Utc::now()))
    .execute(conn)
    .await
}

/// Events of `topic` after `after_seq`, oldest first.
pub async fn since(
    conn: &mut AsyncPgConnection,
    topic: &str,
    after_seq: i64,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::topic.eq(topic))
        .filter(events::seq.gt(after_seq))
        .order(events::seq)
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
        .await
}

/// Whether any event is waiting for the relay.
pub async fn has_pending(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        events::table.filter(events::published_at.is_null()),
    ))
    .get_result(conn)
    .await
}

/// How many events wait for the relay, and when the oldest of them was written.
pub async fn pending(conn: &mut AsyncPgConnection) -> QueryResult<(i64, Option<DateTime<Utc>>)> {
    events::table
        .filter(events::published_at.is_null())
        .select((diesel::dsl::count_star(), diesel::dsl::min(events::created_at)))
        .get_result(conn)
        .await
}

/// Deletes published events older than `before`; returns how many.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        events::table
            .filter(events::published_at.is_not_null())
            .filter(events::created_at.lt(before)),
    )
    .execute(conn)
    .await
}
