//! Relay connections over the data layer's pages: the one adapter from a
//! [`Page`](crate::db::page::Page) to an async-graphql `Connection`, the page request built
//! from a field's arguments, and the one complexity rule of every list.
//!
//! A list resolver reads its arguments with [`page_request`], asks the domain's service for a
//! page, and returns [`connection`] (or [`connection_with_edges`] when edges carry fields of
//! their own). Cursors are made and read by `db::page::Cursor`; nothing here knows a key.

use async_graphql::{
    connection::{Connection, ConnectionNameType, CursorType, Edge, EdgeNameType, EmptyFields},
    Context, ObjectType, OutputType, SimpleObject,
};

pub use crate::db::page::DEFAULT_PAGE_SIZE;
use crate::{
    db::page::{Cursor, Page, PageRequest},
    error::{AppError, AppResult},
    graphql::context::ContextExt,
};

/// A list's connection type: string cursors, `totalCount`, optional edge fields.
pub type ListConnection<N, E = EmptyFields> = Connection<String, N, Total, E>;

/// A list's connection whose cursors are kept as keys of type `C` until a client selects
/// them (see [`LazyCursor`]); for hot lists such as the gig feed.
pub type KeyedConnection<C, N, E = EmptyFields> = Connection<LazyCursor<C>, N, Total, E>;

/// An edge's cursor kept as its key and encoded only when a client selects `cursor` or
/// `pageInfo.endCursor`: a page read for its nodes alone formats no key and no base64.
pub struct LazyCursor<C>(C);

impl<C: Cursor> CursorType for LazyCursor<C> {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        C::decode(s, "after").map(Self).map_err(|e| e.public_message())
    }

    fn encode_cursor(&self) -> String {
        self.0.encode()
    }
}

/// How a connection's edges hold their cursors: encoded at once (`String`, the
/// [`ListConnection`]s) or on demand ([`LazyCursor`], the [`KeyedConnection`]s).
pub trait EdgeCursor<C>: CursorType + Send + Sync {
    /// The edge cursor of a row's key.
    fn of(key: C) -> Self;
}

impl<C: Cursor> EdgeCursor<C> for String {
    fn of(key: C) -> Self {
        key.encode()
    }
}

impl<C: Cursor + Send + Sync> EdgeCursor<C> for LazyCursor<C> {
    fn of(key: C) -> Self {
        Self(key)
    }
}

/// The complexity of a list field: its page size times what each node costs. Every list
/// field says `#[graphql(complexity = "list_cost(first, child_complexity)")]`.
pub fn list_cost(first: Option<i32>, child_complexity: usize) -> usize {
    first.unwrap_or(DEFAULT_PAGE_SIZE as i32).max(1) as usize * child_complexity
}

/// The page a list field's `first` and `after` ask for, checked against the configured
/// maximum page size; the total is counted only when `totalCount` is selected.
pub fn page_request<C: Cursor>(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
) -> AppResult<PageRequest<C>> {
    PageRequest::new(first, after, ctx.app().config.limits.max_page_size, wants_total(ctx))
}

/// As [`page_request`] for a list whose cursor argument is called `cursor_arg`.
pub fn page_request_named<C: Cursor>(
    ctx: &Context<'_>,
    first: Option<i32>,
    cursor: Option<&str>,
    cursor_arg: &str,
) -> AppResult<PageRequest<C>> {
    PageRequest::named(
        first,
        cursor,
        ctx.app().config.limits.max_page_size,
        wants_total(ctx),
        cursor_arg,
    )
}

/// The Relay connection of a page: each row's cursor from `cursor`, its node from `node`.
pub fn connection<T, C, K, N, Name, EdgeName>(
    page: Page<T>,
    cursor: impl Fn(&T) -> C,
    mut node: impl FnMut(T) -> N,
) -> Connection<K, N, Total, EmptyFields, Name, EdgeName>
where
    K: EdgeCursor<C>,
    N: OutputType,
    Name: ConnectionNameType,
    EdgeName: EdgeNameType,
{
    connection_with_edges(page, cursor, |row| (node(row), EmptyFields))
}

/// As [`connection`], for lists whose edges carry fields of their own (a rank, a date).
pub fn connection_with_edges<T, C, K, N, E, Name, EdgeName>(
    page: Page<T>,
    cursor: impl Fn(&T) -> C,
    mut edge: impl FnMut(T) -> (N, E),
) -> Connection<K, N, Total, E, Name, EdgeName>
where
    K: EdgeCursor<C>,
    N: OutputType,
    E: ObjectType,
    Name: ConnectionNameType,
    EdgeName: EdgeNameType,
{
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        Total {
            total_count: page.total.unwrap_or_default(),
        },
    );
    connection.edges.extend(page.items.into_iter().map(|row| {
        let cursor = K::of(cursor(&row));
        let (node, fields) = edge(row);
        Edge::with_additional_fields(cursor, node, fields)
    }));
    connection
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
    use uuid::Uuid;

    #[test]
    fn list_cost_scales_with_the_page() {
        assert_eq!(list_cost(None, 3), 60);
        assert_eq!(list_cost(Some(5), 3), 15);
        assert_eq!(list_cost(Some(0), 3), 3);
    }

    #[test]
    fn connections_carry_cursors_and_page_info() {
        let request = PageRequest::<Uuid>::first(2);
        let ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        let page = request.paginate(ids.to_vec(), Some(3));
        let eager: ListConnection<String> = connection(page, |id| *id, |id| id.to_string());
        assert!(eager.has_next_page && !eager.has_previous_page);
        assert_eq!(eager.additional_fields.total_count, 3);
        assert_eq!(eager.edges.len(), 2);
        assert_eq!(Uuid::decode(&eager.edges[1].cursor, "after").unwrap(), ids[1]);

        let page = request.paginate(ids.to_vec(), None);
        let lazy: KeyedConnection<Uuid, String> = connection(page, |id| *id, |id| id.to_string());
        assert_eq!(lazy.edges[1].cursor.encode_cursor(), ids[1].encode());
        assert_eq!(LazyCursor::<Uuid>::decode_cursor(&ids[0].encode()).unwrap().0, ids[0]);
        assert!(LazyCursor::<Uuid>::decode_cursor("zz").is_err());
    }

    #[test]
    fn event_cursors() {
        assert_eq!(decode_event_cursor(Some("42")).unwrap(), Some(42));
        assert!(decode_event_cursor(Some("-1")).is_err());
    }
}
