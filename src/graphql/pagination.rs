//! Relay connections: arguments, limits and opaque cursors.

use async_graphql::{Context, SimpleObject};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size when `first` is omitted.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Checks `first` against the configured maximum page size, naming the field when it is out
/// of range.
pub fn page_size(first: Option<i32>, max: usize) -> AppResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Some(n) if n >= 1 && (n as usize) <= max => Ok(n as usize),
        Some(_) => Err(AppError::field("first", format!("must be between 1 and {max}"))),
    }
}

/// Splits rows fetched with `size + 1` as the limit into the page and whether more follow.
pub fn split_page<T>(mut rows: Vec<T>, size: usize) -> (Vec<T>, bool) {
    let more = rows.len() > size;
    rows.truncate(size);
    (rows, more)
}

/// One page read on `conn`: `load` gets the row limit (`size + 1`: the extra row only tells
/// whether more follow); `count` runs only when the total is wanted (else the total is 0).
pub async fn fetch_page<T, E>(
    conn: &mut diesel_async::AsyncPgConnection,
    size: usize,
    with_total: bool,
    load: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection, i64) -> Result<Vec<T>, E>,
    count: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> Result<i64, E>,
) -> Result<(Vec<T>, bool, i64), E> {
    let rows = load(conn, size as i64 + 1).await?;
    let (rows, more) = split_page(rows, size);
    let total = if with_total { count(conn).await? } else { 0 };
    Ok((rows, more, total))
}

/// The connection-level fields every list offers.
#[derive(SimpleObject)]
pub struct Total {
    /// How many items the whole list has across all pages, with the same filters. Costs an
    /// extra query, so it is computed only when selected.
    pub total_count: i64,
}

/// Describes the connection and edge types of one list: async-graphql's generic `Connection`
/// and `Edge` carry no description of their own, so the schema builder sets them by type
/// name. `$items` names the items in the plural; `$cursor_arg` is the argument that takes an
/// edge's cursor (`after` unless given).
macro_rules! describe_list {
    ($builder:expr, $connection:ty, $edge:ty, $items:literal, $cursor_arg:literal) => {
        $builder
            .override_output_type_description::<$connection>(concat!(
                "A page of ",
                $items,
                ". Read `edges` (each with its cursor) or just `nodes`; `pageInfo.hasNextPage` says ",
                "whether more follow and `pageInfo.endCursor` is the cursor to continue from; ",
                "`totalCount` counts the whole list."
            ))
            .override_output_type_description::<$edge>(concat!(
                "An entry in a page of ",
                $items,
                ": the item as `node` and its opaque `cursor`; pass the cursor as `",
                $cursor_arg,
                "` to the same field to continue after this entry."
            ))
    };
    ($builder:expr, $node:ty, $items:literal, $cursor_arg:literal) => {
        $crate::graphql::pagination::describe_list!(
            $builder,
            async_graphql::connection::Connection<
                String,
                $node,
                $crate::graphql::pagination::Total,
                async_graphql::connection::EmptyFields,
            >,
            async_graphql::connection::Edge<String, $node, async_graphql::connection::EmptyFields>,
            $items,
            $cursor_arg
        )
    };
    ($builder:expr, $node:ty, $items:literal) => {
        $crate::graphql::pagination::describe_list!($builder, $node, $items, "after")
    };
}
pub(crate) use describe_list;

/// Whether the client selected `totalCount` on the connection being resolved.
pub fn wants_total(ctx: &Context<'_>) -> bool {
    ctx.look_ahead().field("totalCount").exists()
}

/// An opaque cursor for a key.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The key inside a cursor made by `encode_cursor`, naming `field` when it is not one.
pub fn decode_cursor(cursor: &str, field: &str) -> AppResult<String> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AppError::field(field, "is not a cursor from this list"))
}

/// A cursor that holds an id (lists ordered by time-ordered UUIDs).
pub fn id_cursor(id: Uuid) -> String {
    encode_cursor(&id.to_string())
}

pub fn decode_id_cursor(cursor: Option<&str>, field: &str) -> AppResult<Option<Uuid>> {
    cursor
        .map(|c| {
            decode_cursor(c, field).and_then(|key| {
                Uuid::parse_str(&key).map_err(|_| AppError::field(field, "is not a cursor from this list"))
            })
        })
        .transpose()
}

/// Parses an event cursor (the `eventCursor` of a subscription delivery).
pub fn decode_event_cursor(cursor: Option<&str>) -> AppResult<Option<i64>> {
    cursor
        .map(|c| {
            c.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| AppError::field("after", "is not an event cursor"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None, 100).unwrap(), 20);
        assert_eq!(page_size(Some(100), 100).unwrap(), 100);
        assert!(page_size(Some(0), 100).is_err());
        assert!(page_size(Some(101), 100).is_err());
        assert!(page_size(Some(-5), 100).is_err());
    }

    #[test]
    fn pages_split_off_the_lookahead_row() {
        assert_eq!(split_page(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], 2), (vec![1, 2], false));
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(decode_id_cursor(Some(&id_cursor(id)), "after").unwrap(), Some(id));
        assert!(decode_id_cursor(Some("!!"), "after").is_err());
        assert!(decode_id_cursor(Some(&encode_cursor("not-a-uuid")), "after").is_err());
        assert_eq!(decode_event_cursor(Some("42")).unwrap(), Some(42));
        assert!(decode_event_cursor(Some("-1")).is_err());
    }
}
