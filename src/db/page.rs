//! Keyset paging below the API: one typed, opaque cursor and one paginate helper.
//!
//! A list is ordered by a key (a time-ordered id, a `(timestamp, id)` pair, a rank and an
//! id …). [`Cursor`] is that key as a client sees it: base64url text that only this list
//! can read back. [`PageRequest`] is what a caller asks for — a size, an optional cursor to
//! continue after, and whether the total is wanted — validated once, naming the argument
//! that is wrong. [`PageRequest::fetch`] runs the caller's query with one extra row (it only
//! tells whether more follow) and the count only when wanted, and returns a [`Page`].
//!
//! Services and models use these; the GraphQL layer turns a [`Page`] into a Relay connection
//! (`graphql::pagination::connection`) and never builds one by hand.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Page size when `first` is omitted.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// The key a list is ordered by, written into an opaque cursor. `write` and `read` must
/// round-trip; `read` returns `None` for text this key type never wrote.
pub trait Cursor: Sized {
    /// The key as text (before the opaque encoding).
    fn write(&self) -> String;
    /// The key back from [`Cursor::write`]'s text.
    fn read(key: &str) -> Option<Self>;

    /// The opaque cursor handed to clients.
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.write().as_bytes())
    }

    /// Reads a cursor made by [`Cursor::encode`]; `field` names the argument it came in.
    fn decode(cursor: &str, field: &str) -> AppResult<Self> {
        URL_SAFE_NO_PAD
            .decode(cursor.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|key| Self::read(&key))
            .ok_or_else(|| AppError::field(field, "is not a cursor from this list"))
    }
}

/// Lists ordered by a time-ordered UUID (newest first, or oldest first).
impl Cursor for Uuid {
    fn write(&self) -> String {
        self.to_string()
    }
    fn read(key: &str) -> Option<Self> {
        Uuid::parse_str(key).ok()
    }
}

/// Lists ordered by a number (an offset, a sequence).
impl Cursor for i64 {
    fn write(&self) -> String {
        self.to_string()
    }
    fn read(key: &str) -> Option<Self> {
        key.parse().ok()
    }
}

/// A calendar date (`YYYY-MM-DD`), for lists ordered by a day or a week.
impl Cursor for chrono::NaiveDate {
    fn write(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }

    fn read(key: &str) -> Option<Self> {
        chrono::NaiveDate::parse_from_str(key, "%Y-%m-%d").ok()
    }
}

/// A point in time, to the microsecond (PostgreSQL's precision).
impl Cursor for DateTime<Utc> {
    fn write(&self) -> String {
        self.timestamp_micros().to_string()
    }
    fn read(key: &str) -> Option<Self> {
        DateTime::from_timestamp_micros(key.parse().ok()?)
    }
}

/// A score, a rating or a distance (ranked lists); the text round-trips every finite value
/// exactly, and NaN or infinities never read back.
impl Cursor for f64 {
    fn write(&self) -> String {
        self.to_string()
    }
    fn read(key: &str) -> Option<Self> {
        key.parse().ok().filter(|n: &f64| n.is_finite())
    }
}

/// Lists ordered by a key (a time, a price, a score) with the row's id as tie-breaker.
impl<K: Cursor> Cursor for (K, Uuid) {
    fn write(&self) -> String {
        format!("{}|{}", self.0.write(), self.1)
    }
    fn read(key: &str) -> Option<Self> {
        let (key, id) = key.rsplit_once('|')?;
        Some((K::read(key)?, Uuid::parse_str(id).ok()?))
    }
}

/// A key that may be missing (a time not yet set): rows without one write an empty key.
impl<K: Cursor> Cursor for Option<K> {
    fn write(&self) -> String {
        self.as_ref().map(K::write).unwrap_or_default()
    }
    fn read(key: &str) -> Option<Self> {
        if key.is_empty() {
            Some(None)
        } else {
            K::read(key).map(Some)
        }
    }
}

/// A validated request for one page of a list keyed by `C`.
#[derive(Debug, Clone)]
pub struct PageRequest<C> {
    /// Rows wanted on the page (1 to the configured maximum).
    pub size: usize,
    /// Continue strictly after this key; from the start when `None`.
    pub after: Option<C>,
    /// Whether the caller wants the list's total (it costs a count).
    pub with_total: bool,
}

impl<C: Cursor> PageRequest<C> {
    /// Validates `first` (1 to `max`, [`DEFAULT_PAGE_SIZE`] when omitted) and the `after`
    /// cursor, naming the argument that is wrong.
    pub fn new(first: Option<i32>, after: Option<&str>, max: usize, with_total: bool) -> AppResult<Self> {
        Self::named(first, after, max, with_total, "after")
    }

    /// As [`PageRequest::new`], for lists whose cursor argument has another name (`before`).
    pub fn named(
        first: Option<i32>,
        after: Option<&str>,
        max: usize,
        with_total: bool,
        cursor_arg: &str,
    ) -> AppResult<Self> {
        let size = page_size(first, max)?;
        let after = after.map(|c| C::decode(c, cursor_arg)).transpose()?;
        Ok(Self {
            size,
            after,
            with_total,
        })
    }
}

impl<C> PageRequest<C> {
    /// A request for the first `size` rows (for internal callers that need no validation).
    pub fn first(size: usize) -> Self {
        Self {
            size,
            after: None,
            with_total: false,
        }
    }

    /// The row limit to query with: one more than the page, to learn whether more follow.
    pub fn limit(&self) -> i64 {
        self.size as i64 + 1
    }

    /// The page made of rows fetched with [`PageRequest::limit`], and the total if counted.
    pub fn paginate<T>(&self, mut rows: Vec<T>, total: Option<i64>) -> Page<T> {
        let has_next = rows.len() > self.size;
        rows.truncate(self.size);
        Page {
            items: rows,
            has_next,
            has_previous: self.after.is_some(),
            total,
        }
    }

    /// One page read on `conn`: `load` gets the cursor and the row limit; `count` runs only
    /// when the total is wanted.
    pub async fn fetch<T, E>(
        &self,
        conn: &mut AsyncPgConnection,
        load: impl AsyncFnOnce(&mut AsyncPgConnection, Option<&C>, i64) -> Result<Vec<T>, E>,
        count: impl AsyncFnOnce(&mut AsyncPgConnection) -> Result<i64, E>,
    ) -> Result<Page<T>, E> {
        let rows = load(conn, self.after.as_ref(), self.limit()).await?;
        let total = if self.with_total {
            Some(count(conn).await?)
        } else {
            None
        };
        Ok(self.paginate(rows, total))
    }
}

/// Checks `first` against the configured maximum page size, naming the field when it is out
/// of range.
pub fn page_size(first: Option<i32>, max: usize) -> AppResult<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Some(n) if n >= 1 && (n as usize) <= max => Ok(n as usize),
        Some(_) => Err(AppError::field("first", format!("must be between 1 and {max}"))),
    }
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows, in list order.
    pub items: Vec<T>,
    /// Whether more rows follow the last one.
    pub has_next: bool,
    /// Whether the page continues an earlier one (a cursor was given).
    pub has_previous: bool,
    /// The list's total across all pages, when it was asked for.
    pub total: Option<i64>,
}

impl<T> Page<T> {
    /// The same page with every row turned into something else.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None, 100).unwrap(), 20);
        assert_eq!(page_size(None, 10).unwrap(), 10);
        assert_eq!(page_size(Some(100), 100).unwrap(), 100);
        assert!(page_size(Some(0), 100).is_err());
        assert!(page_size(Some(101), 100).is_err());
        assert!(page_size(Some(-5), 100).is_err());
    }

    #[test]
    fn pages_split_off_the_lookahead_row() {
        let request = PageRequest::<Uuid>::first(2);
        let page = request.paginate(vec![1, 2, 3], Some(9));
        assert_eq!(
            (page.items, page.has_next, page.has_previous, page.total),
            (vec![1, 2], true, false, Some(9))
        );
        let page = request.paginate(vec![1, 2], None);
        assert_eq!((page.items, page.has_next), (vec![1, 2], false));
        assert_eq!(request.limit(), 3);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let id = Uuid::now_v7();
        assert_eq!(Uuid::decode(&id.encode(), "after").unwrap(), id);
        assert_eq!(i64::decode(&42i64.encode(), "after").unwrap(), 42);
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(
            <(DateTime<Utc>, Uuid)>::decode(&(at, id).encode(), "after").unwrap(),
            (at, id)
        );
        for key in [(Some(at), id), (None, id)] {
            assert_eq!(
                <(Option<DateTime<Utc>>, Uuid)>::decode(&key.encode(), "after").unwrap(),
                key
            );
        }
        let ranked = (1234.5678901234567_f64, id);
        assert_eq!(<(f64, Uuid)>::decode(&ranked.encode(), "after").unwrap(), ranked);
        assert!(<(f64, Uuid)>::decode(&(f64::NAN, id).encode(), "after").is_err());
        assert_eq!(
            <(f64, Uuid)>::decode(&(0.1 + 0.2, id).encode(), "after").unwrap(),
            (0.1 + 0.2, id)
        );
        assert_eq!(<(i64, Uuid)>::decode(&(-7i64, id).encode(), "after").unwrap(), (-7, id));
        assert!(<(f64, Uuid)>::decode(&id.encode(), "after").is_err());
        assert!(Uuid::decode("!!", "after").is_err());
        assert!(Uuid::decode(&42i64.encode(), "after").is_err());
        let request = PageRequest::<Uuid>::new(Some(5), Some(&id.encode()), 100, true).unwrap();
        assert_eq!((request.size, request.after, request.with_total), (5, Some(id), true));
        let err = PageRequest::<Uuid>::named(None, Some("zz"), 100, false, "before").unwrap_err();
        assert!(format!("{err:?}").contains("before"));
    }
}
