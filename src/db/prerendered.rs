//! Statements whose SQL text is built once per process instead of at every execution.
//!
//! diesel-async builds a statement's SQL text at every execution, also when the prepared
//! statement is cached on the connection; for the 42-column gig-with-owner statement that
//! is ~110 quoted identifiers, each pushed through `str::replace`, about a sixth of the
//! server's instructions for `gig(id)` (callgrind, BENCHMARKS.md). The bind values are still
//! collected from the query at every execution; only the text is reused.

use std::sync::OnceLock;

use diesel::{
    pg::{Pg, PgQueryBuilder},
    query_builder::{AstPass, Query, QueryBuilder, QueryFragment, QueryId},
    QueryResult,
};

/// The SQL text of one statement shape, built on first use. One `static` per shape.
pub struct SqlText(OnceLock<String>);

impl SqlText {
    pub const fn new() -> Self {
        Self(OnceLock::new())
    }
}

impl Default for SqlText {
    fn default() -> Self {
        Self::new()
    }
}

/// `query`, with its SQL text taken from a [`SqlText`] built from the first such query.
///
/// Only for statement shapes whose text never depends on values: every value is a bind
/// parameter (`$n`), nothing is written into the SQL (no `Limited`, no `sql()`, no boxed
/// query whose filters vary between calls of the same call site).
pub struct Prerendered<Q> {
    query: Q,
    sql: &'static str,
}

impl<Q: QueryFragment<Pg>> Prerendered<Q> {
    pub fn new(text: &'static SqlText, query: Q) -> QueryResult<Self> {
        let sql = match text.0.get() {
            Some(sql) => sql,
            None => {
                let mut builder = PgQueryBuilder::default();
                query.to_sql(&mut builder, &Pg)?;
                text.0.get_or_init(|| builder.finish())
            }
        };
        #[cfg(debug_assertions)]
        check_same_text(sql, &query)?;
        Ok(Self { query, sql })
    }
}

/// Debug builds (the test suite) render every query again and refuse one whose text
/// differs from its shape's prebuilt text: a call site that mixes shapes fails its tests.
#[cfg(debug_assertions)]
fn check_same_text<Q: QueryFragment<Pg>>(prebuilt: &str, query: &Q) -> QueryResult<()> {
    let mut builder = PgQueryBuilder::default();
    query.to_sql(&mut builder, &Pg)?;
    let fresh = builder.finish();
    if fresh == prebuilt {
        Ok(())
    } else {
        Err(diesel::result::Error::QueryBuilderError(
            format!("prerendered SQL {prebuilt:?} is not this query's {fresh:?}").into(),
        ))
    }
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prerendered<Q> {
    /// Every pass but the text: binds, cacheability, debug output.
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    /// The text: what diesel-async asks for at each execution.
    fn to_sql(&self, out: &mut PgQueryBuilder, _: &Pg) -> QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

impl<Q: QueryId> QueryId for Prerendered<Q> {
    type QueryId = Q::QueryId;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q: Query> Query for Prerendered<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::query_dsl::RunQueryDsl<Conn> for Prerendered<Q> {}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::gig_packages;

    #[test]
    fn the_text_is_built_once_and_binds_stay_per_query() {
        static TEXT: SqlText = SqlText::new();
        let one = uuid::Uuid::new_v4();
        let other = uuid::Uuid::new_v4();
        let of = |id: uuid::Uuid| {
            gig_packages::table
                .filter(gig_packages::gig_id.eq(id))
                .select(gig_packages::tier)
        };
        for id in [one, other] {
            let prerendered = Prerendered::new(&TEXT, of(id)).map(|q| diesel::debug_query::<Pg, _>(&q).to_string());
            assert_eq!(
                prerendered.ok(),
                Some(diesel::debug_query::<Pg, _>(&of(id)).to_string())
            );
        }
    }

    #[cfg(debug_assertions)]
    #[test]
    fn debug_builds_refuse_a_second_shape_on_one_text() {
        static TEXT: SqlText = SqlText::new();
        let id = uuid::Uuid::new_v4();
        let by_gig = gig_packages::table
            .filter(gig_packages::gig_id.eq(id))
            .select(gig_packages::tier);
        assert!(Prerendered::new(&TEXT, by_gig).is_ok());
        let by_tier = gig_packages::table
            .filter(gig_packages::tier.eq("BASIC"))
            .select(gig_packages::tier);
        assert!(Prerendered::new(&TEXT, by_tier).is_err());
    }
}
