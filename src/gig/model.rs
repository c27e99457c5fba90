//! Rows and queries of gigs and their packages, media and saves.
use chrono::{DateTime, Utc};
use diesel::{
    dsl::sql,
    pg::Pg,
    prelude::*,
    sql_types::{Bool, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    db::{
        by_id,
        fixed::{Const, Limited},
        page::Cursor,
        prerendered::{Prerendered, SqlText},
        schema::{gig_media, gig_packages, gigs, saved_gigs, users},
        text_enum::pg_enum,
    },
    profile::model::UserRow,
};

pg_enum! {
    /// Where a gig is in its life. Only ACTIVE gigs are public; the owner sees theirs in every
    /// status. Moves DRAFT → ACTIVE ⇄ PAUSED, and any status → ARCHIVED → DRAFT (`setGigStatus`).
    #[derive(async_graphql::Enum)]
    pub enum GigStatus {
        /// Being written; visible to the owner only. New gigs start here.
        Draft = "DRAFT",
        /// Published: listed in `gigs` and open to orders.
        Active = "ACTIVE",
        /// Temporarily hidden from the catalogue and closed to orders; can go ACTIVE again.
        Paused = "PAUSED",
        /// Retired; can only go back to DRAFT.
        Archived = "ARCHIVED",
    }
}

pg_enum! {
    /// The tier of a gig's package. Every gig has a BASIC package; a higher tier never costs
    /// less than a lower one.
    // Declared cheapest first: the derived order is the tier order packages are sorted by.
    #[derive(async_graphql::Enum, PartialOrd, Ord)]
    pub enum PackageTier {
        /// The entry package; every gig has one.
        Basic = "BASIC",
        /// The middle package, optional.
        Standard = "STANDARD",
        /// The most complete package, optional.
        Premium = "PREMIUM",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize, Deserialize)]
#[diesel(table_name = gigs, check_for_backend(Pg))]
pub struct GigRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub currency: String,
    pub status: GigStatus,
    pub min_price_cents: i64,
    pub min_delivery_days: i32,
    pub views_count: i64,
    pub rating_average: Option<f64>,
    pub rating_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// The share of the price a booking pays first as a deposit, in basis points (1 to
    /// 9,999); `None`: bookings are paid at once.
    #[serde(default)]
    pub booking_deposit_bps: Option<i32>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = gigs)]
pub struct NewGig<'a> {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub category: &'a str,
    pub tags: &'a [String],
    pub currency: &'a str,
    pub min_price_cents: i64,
    pub min_delivery_days: i32,
    pub booking_deposit_bps: Option<i32>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = gigs)]
pub struct GigPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub currency: Option<String>,
    pub status: Option<GigStatus>,
    pub min_price_cents: Option<i64>,
    pub min_delivery_days: Option<i32>,
    pub published_at: Option<Option<DateTime<Utc>>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// `Some(None)` stops asking a deposit.
    pub booking_deposit_bps: Option<Option<i32>>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = gig_packages, check_for_backend(Pg))]
pub struct PackageRow {
    pub gig_id: Uuid,
    pub tier: PackageTier,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub delivery_days: i32,
    pub revisions: i32,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = gig_media, check_for_backend(Pg))]
pub struct MediaRow {
    pub id: Uuid,
    pub gig_id: Uuid,
    pub url: String,
    pub content_type: String,
    pub position: i32,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, gig: &NewGig<'_>) -> QueryResult<GigRow> {
    diesel::insert_into(gigs::table)
        .values(gig)
        .returning(GigRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn update(conn: &mut AsyncPgConnection, id: Uuid, patch: &GigPatch) -> QueryResult<GigRow> {
    diesel::update(gigs::table.find(id))
        .set(patch)
        .returning(GigRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(gigs::table.find(id)).execute(conn).await
}

by_id!(GigRow, gigs, find: find, lock: lock, many: find_many);

/// A gig and its owner in one statement. Takes a shared connection so that it can be
/// pipelined with other reads (see [`read_packages`]).
pub async fn find_with_owner(mut conn: &AsyncPgConnection, id: Uuid) -> QueryResult<Option<(GigRow, UserRow)>> {
    static TEXT: SqlText = SqlText::new();
    let query = gigs::table
        .inner_join(users::table)
        .filter(gigs::id.eq(id))
        .select((GigRow::as_select(), UserRow::as_select()))
        .limit(1);
    Prerendered::new(&TEXT, query)?.get_result(&mut conn).await.optional()
}

/// Replaces a gig's packages.
pub async fn replace_packages(conn: &mut AsyncPgConnection, gig_id: Uuid, packages: &[PackageRow]) -> QueryResult<()> {
    diesel::delete(gig_packages::table.filter(gig_packages::gig_id.eq(gig_id)))
        .execute(conn)
        .await?;
    diesel::insert_into(gig_packages::table)
        .values(packages)
        .execute(conn)
        .await
        .map(drop)
}

/// The packages of `gig_ids`, cheapest first (the loaders' form of [`read_packages`]).
pub async fn packages_of(conn: &mut AsyncPgConnection, gig_ids: &[Uuid]) -> QueryResult<Vec<PackageRow>> {
    read_packages(conn, gig_ids).await
}

/// [`packages_of`] on a shared connection: diesel-async pipelines the statements of futures
/// polled together on one connection (one round trip for a gig and its packages).
pub async fn read_packages(mut conn: &AsyncPgConnection, gig_ids: &[Uuid]) -> QueryResult<Vec<PackageRow>> {
    static ONE: SqlText = SqlText::new();
    static MANY: SqlText = SqlText::new();
    if let [id] = gig_ids {
        // One gig (`gig(id)`): `= $1` rather than `= ANY($1)`. PostgreSQL's generic plan for
        // `ANY` assumes an array of several ids, so with one id it keeps planning each call.
        let query = gig_packages::table
            .filter(gig_packages::gig_id.eq(id))
            .order(gig_packages::price_cents)
            .select(PackageRow::as_select());
        return Prerendered::new(&ONE, query)?.load(&mut conn).await;
    }
    let query = gig_packages::table
        .filter(gig_packages::gig_id.eq_any(gig_ids))
        .order((gig_packages::gig_id, gig_packages::price_cents))
        .select(PackageRow::as_select());
    Prerendered::new(&MANY, query)?.load(&mut conn).await
}

pub async fn media_of(conn: &mut AsyncPgConnection, gig_ids: &[Uuid]) -> QueryResult<Vec<MediaRow>> {
    gig_media::table
        .filter(gig_media::gig_id.eq_any(gig_ids))
        .order((gig_media::gig_id, gig_media::position))
        .select(MediaRow::as_select())
        .load(conn)
        .await
}

pub async fn insert_media(conn: &mut AsyncPgConnection, media: &MediaRow) -> QueryResult<()> {
    diesel::insert_into(gig_media::table)
        .values(media)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn media_count(conn: &mut AsyncPgConnection, gig_id: Uuid) -> QueryResult<i64> {
    gig_media::table
        .filter(gig_media::gig_id.eq(gig_id))
        .count()
        .get_result(conn)
        .await
}

by_id!(MediaRow, gig_media, find: find_media);

pub async fn delete_media(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(gig_media::table.find(id)).execute(conn).await
}

pub async fn save(conn: &mut AsyncPgConnection, user_id: Uuid, gig_id: Uuid) -> QueryResult<()> {
    diesel::insert_into(saved_gigs::table)
        .values((saved_gigs::user_id.eq(user_id), saved_gigs::gig_id.eq(gig_id)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map(drop)
}

pub async fn unsave(conn: &mut AsyncPgConnection, user_id: Uuid, gig_id: Uuid) -> QueryResult<()> {
    diesel::delete(saved_gigs::table.find((user_id, gig_id)))
        .execute(conn)
        .await
        .map(drop)
}

/// Which of `gig_ids` the user saved.
pub async fn saved_among(conn: &mut AsyncPgConnection, user_id: Uuid, gig_ids: &[Uuid]) -> QueryResult<Vec<Uuid>> {
    saved_gigs::table
        .filter(saved_gigs::user_id.eq(user_id))
        .filter(saved_gigs::gig_id.eq_any(gig_ids))
        .select(saved_gigs::gig_id)
        .load(conn)
        .await
}

/// A page of the gigs a user saved, newest save first, with owners; `after` is the previous
/// page's last (save time, gig).
pub async fn saved_page(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<(DateTime<Utc>, GigRow, UserRow)>> {
    let mut query = saved_gigs::table
        .inner_join(gigs::table.inner_join(users::table))
        .filter(saved_gigs::user_id.eq(user_id))
        .order((saved_gigs::created_at.desc(), saved_gigs::gig_id.desc()))
        .limit(limit)
        .select((saved_gigs::created_at, GigRow::as_select(), UserRow::as_select()))
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            saved_gigs::created_at
                .lt(at)
                .or(saved_gigs::created_at.eq(at).and(saved_gigs::gig_id.lt(id))),
        );
    }
    query.load(conn).await
}

pub async fn saved_count(conn: &mut AsyncPgConnection, user_id: Uuid) -> QueryResult<i64> {
    saved_gigs::table
        .filter(saved_gigs::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
}

/// Adds buffered views.
pub async fn add_views(conn: &mut AsyncPgConnection, ids: &[Uuid], counts: &[i64]) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE gigs SET views_count = gigs.views_count + v.n \
         FROM (SELECT unnest($1::uuid[]) AS id, unnest($2::bigint[]) AS n) v WHERE gigs.id = v.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(counts)
    .execute(conn)
    .await
}

/// How a gig list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, async_graphql::Enum)]
#[graphql(name = "GigSort")]
pub enum Sort {
    /// Most recently published first.
    #[default]
    Newest,
    /// Cheapest starting price first.
    PriceLow,
    /// Dearest starting price first.
    PriceHigh,
    /// Best rated first.
    Rating,
    /// Best match for `filter.search` first (newest without a search).
    Relevance,
}

impl Sort {
    /// The order a list is read in: RELEVANCE means NEWEST when there is nothing to match.
    pub fn for_search(self, has_search: bool) -> Self {
        match self {
            Self::Relevance if !has_search => Self::Newest,
            sort => sort,
        }
    }
}

/// Where a page starts: the sort key and id of the previous page's last row. It is the gig
/// lists' cursor: `savedGigs` continues after a `Newest` key (the save time).
#[derive(Debug, Clone, PartialEq)]
pub enum After {
    Newest(DateTime<Utc>, Uuid),
    Price(i64, Uuid),
    Rating(f64, Uuid),
    Relevance(f32, Uuid),
}

impl Cursor for After {
    fn write(&self) -> String {
        match *self {
            Self::Newest(at, id) => format!("n|{}", (at, id).write()),
            Self::Price(price, id) => format!("p|{}", (price, id).write()),
            Self::Rating(rating, id) => format!("r|{}", (rating, id).write()),
            Self::Relevance(rank, id) => format!("s|{}", (f64::from(rank), id).write()),
        }
    }

    fn read(key: &str) -> Option<Self> {
        let (kind, key) = key.split_once('|')?;
        Some(match kind {
            "n" => Cursor::read(key).map(|(at, id)| Self::Newest(at, id))?,
            "p" => Cursor::read(key).map(|(price, id)| Self::Price(price, id))?,
            "r" => Cursor::read(key).map(|(rating, id)| Self::Rating(rating, id))?,
            // A rank is an f32 written as f64: the round trip is exact.
            "s" => Cursor::read(key).map(|(rank, id): (f64, Uuid)| Self::Relevance(rank as f32, id))?,
            _ => return None,
        })
    }
}

/// What a gig list is narrowed to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Filter {
    pub search: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub price_min: Option<i64>,
    pub price_max: Option<i64>,
    pub max_delivery_days: Option<i32>,
    pub min_rating: Option<f64>,
    /// Only this owner's gigs (any status) instead of public ones.
    pub owner: Option<Uuid>,
    /// With `owner`: only gigs in this status.
    pub status: Option<GigStatus>,
}

/// A listed gig: the row, its owner, and its sort keys for the cursor.
pub struct Listed {
    pub gig: GigRow,
    pub owner: UserRow,
    pub rank: f32,
}

impl Listed {
    /// The cursor of this row in a list read with `sort`; `own_list` for an owner's own list,
    /// which is ordered by creation rather than publication.
    pub fn key(&self, sort: Sort, own_list: bool) -> After {
        let g = &self.gig;
        match sort {
            Sort::Newest if own_list => After::Newest(g.created_at, g.id),
            Sort::Newest => After::Newest(g.published_at.unwrap_or(g.created_at), g.id),
            Sort::PriceLow | Sort::PriceHigh => After::Price(g.min_price_cents, g.id),
            Sort::Rating => After::Rating(g.rating_average.unwrap_or(0.0), g.id),
            Sort::Relevance => After::Relevance(self.rank, g.id),
        }
    }
}

pub type Boxed<'a> = diesel::internal::table_macro::BoxedSelectStatement<
    'a,
    (
        diesel::dsl::AsSelect<GigRow, Pg>,
        diesel::dsl::AsSelect<UserRow, Pg>,
        diesel::sql_types::Float,
    ),
    diesel::internal::table_macro::FromClause<diesel::dsl::InnerJoinQuerySource<gigs::table, users::table>>,
    Pg,
>;

type Source = diesel::dsl::InnerJoinQuerySource<gigs::table, users::table>;

/// `gigs.status = 'ACTIVE'` with the value in the SQL, so the active-gig partial indexes serve
/// generic plans.
fn is_active() -> diesel::dsl::Eq<gigs::status, Const<Text>> {
    gigs::status.eq(Const::new("'ACTIVE'"))
}

/// ts_rank of the stored document against the user's words (websearch syntax).
fn rank_sql(search: &str) -> Box<dyn BoxableExpression<Source, Pg, SqlType = diesel::sql_types::Float>> {
    Box::new(
        sql::<diesel::sql_types::Float>("ts_rank(gigs.search, websearch_to_tsquery('english', ")
            .bind::<Text, _>(search.to_owned())
            .sql("))"),
    )
}

/// Narrows a boxed gigs ⋈ users query to `filter` (shared by pages and counts).
macro_rules! apply_filter {
    ($query:expr, $filter:expr) => {{
        let filter: &Filter = $filter;
        let mut query = $query;
        match filter.owner {
            Some(owner) => {
                query = query.filter(gigs::owner_id.eq(owner));
                if let Some(status) = filter.status {
                    query = query.filter(gigs::status.eq(status));
                }
            }
            None => query = query.filter(is_active()).filter(users::banned_at.is_null()),
        }
        if let Some(search) = &filter.search {
            query = query.filter(
                sql::<Bool>("gigs.search @@ websearch_to_tsquery('english', ")
                    .bind::<Text, _>(search.clone())
                    .sql(")"),
            );
        }
        if let Some(category) = &filter.category {
            query = query.filter(gigs::category.eq(category.clone()));
        }
        if !filter.tags.is_empty() {
            query = query.filter(gigs::tags.contains(filter.tags.clone()));
        }
        if let Some(min) = filter.price_min {
            query = query.filter(gigs::min_price_cents.ge(min));
        }
        if let Some(max) = filter.price_max {
            query = query.filter(gigs::min_price_cents.le(max));
        }
        if let Some(days) = filter.max_delivery_days {
            query = query.filter(gigs::min_delivery_days.le(days));
        }
        if let Some(rating) = filter.min_rating {
            query = query.filter(gigs::rating_average.ge(rating));
        }
        query
    }};
}

fn filtered(filter: &Filter) -> Boxed<'static> {
    let rank: Box<dyn BoxableExpression<Source, Pg, SqlType = diesel::sql_types::Float>> = match &filter.search {
        Some(search) => rank_sql(search),
        // Not `sql("0::real")`: diesel does not cache statements that carry `sql()`, so the
        // feed prepared its page query anew on every request.
        None => Box::new(Const::<diesel::sql_types::Float>::new("0::real")),
    };
    let query = gigs::table
        .inner_join(users::table)
        .select((GigRow::as_select(), UserRow::as_select(), rank))
        .into_boxed();
    apply_filter!(query, filter)
}

/// One page of gigs with their owners, in one statement.
pub async fn page(
    conn: &mut AsyncPgConnection,
    filter: &Filter,
    sort: Sort,
    after: Option<&After>,
    limit: i64,
) -> QueryResult<Vec<Listed>> {
    static PUBLIC_NEWEST: SqlText = SqlText::new();
    let rows: Vec<(GigRow, UserRow, f32)> = if sort == Sort::Newest && after.is_none() && *filter == Filter::default() {
        // The public feed's first page, by far the most frequent: one statement text for
        // every page size (the limit is appended as text).
        let query = Prerendered::new(&PUBLIC_NEWEST, page_query_unlimited(filter, sort, after))?;
        Limited::new(query, limit).load(conn).await?
    } else {
        page_query(filter, sort, after, limit).load(conn).await?
    };
    Ok(rows
        .into_iter()
        .map(|(gig, owner, rank)| Listed { gig, owner, rank })
        .collect())
}

/// The statement `page` runs (public so tests can EXPLAIN exactly it).
pub fn page_query(filter: &Filter, sort: Sort, after: Option<&After>, limit: i64) -> Limited<Boxed<'static>> {
    Limited::new(page_query_unlimited(filter, sort, after), limit)
}

fn page_query_unlimited(filter: &Filter, sort: Sort, after: Option<&After>) -> Boxed<'static> {
    let mut query = filtered(filter);
    let rating = || sql::<diesel::sql_types::Double>("COALESCE(gigs.rating_average, 0)");
    query = match sort {
        // The public feed orders by publication; an owner's own list (drafts included) by creation.
        Sort::Newest if filter.owner.is_some() => query.order((gigs::created_at.desc(), gigs::id.desc())),
        Sort::Newest => query.order((gigs::published_at.desc(), gigs::id.desc())),
        Sort::PriceLow => query.order((gigs::min_price_cents.asc(), gigs::id.asc())),
        Sort::PriceHigh => query.order((gigs::min_price_cents.desc(), gigs::id.desc())),
        Sort::Rating => query.order((rating().desc(), gigs::id.desc())),
        Sort::Relevance => match &filter.search {
            Some(search) => query.order((rank_sql(search).desc(), gigs::id.desc())),
            None => query.order((gigs::published_at.desc().nulls_last(), gigs::id.desc())),
        },
    };
    if let Some(after) = after {
        query = match after {
            After::Newest(at, id) if filter.owner.is_some() => query.filter(
                gigs::created_at
                    .lt(*at)
                    .or(gigs::created_at.eq(*at).and(gigs::id.lt(*id))),
            ),
            After::Newest(at, id) => query.filter(
                gigs::published_at
                    .lt(*at)
                    .or(gigs::published_at.eq(*at).and(gigs::id.lt(*id))),
            ),
            After::Price(price, id) if sort == Sort::PriceHigh => query.filter(
                gigs::min_price_cents
                    .lt(*price)
                    .or(gigs::min_price_cents.eq(*price).and(gigs::id.lt(*id))),
            ),
            After::Price(price, id) => query.filter(
                gigs::min_price_cents
                    .gt(*price)
                    .or(gigs::min_price_cents.eq(*price).and(gigs::id.gt(*id))),
            ),
            After::Rating(rating_value, id) => query.filter(
                sql::<Bool>("(COALESCE(gigs.rating_average, 0), gigs.id) < (")
                    .bind::<diesel::sql_types::Double, _>(*rating_value)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(*id)
                    .sql(")"),
            ),
            After::Relevance(rank, id) => match &filter.search {
                Some(search) => query.filter(
                    sql::<Bool>("(ts_rank(gigs.search, websearch_to_tsquery('english', ")
                        .bind::<Text, _>(search.clone())
                        .sql(")), gigs.id) < (")
                        .bind::<diesel::sql_types::Float, _>(*rank)
                        .sql(", ")
                        .bind::<diesel::sql_types::Uuid, _>(*id)
                        .sql(")"),
                ),
                None => query,
            },
        };
    }
    query
}

/// How many gigs match `filter`.
pub async fn count(conn: &mut AsyncPgConnection, filter: &Filter) -> QueryResult<i64> {
    let query = gigs::table
        .inner_join(users::table)
        .select(diesel::dsl::count_star())
        .into_boxed();
    apply_filter!(query, filter).get_result(conn).await
}
