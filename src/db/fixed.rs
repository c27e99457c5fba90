//! SQL of fixed text that diesel may keep prepared.
//!
//! `diesel::dsl::sql` marks its statement unsafe to cache, since its text could hold
//! anything; such a statement is parsed and planned again on every run. A condition whose
//! text never changes is written with [`Fixed`] instead: typically a constant a partial
//! index's predicate must see as a literal (a bind parameter hides the value from a generic
//! plan, which then cannot use the index).

use diesel::{
    expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping},
    pg::Pg,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::Bool,
    QueryResult,
};

/// A boolean SQL condition, written as is.
#[derive(Debug, Clone, Copy)]
pub struct Fixed(pub &'static str);

impl Expression for Fixed {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Fixed {}

impl<QS> SelectableExpression<QS> for Fixed {}

impl<GB> ValidGrouping<GB> for Fixed {
    type IsAggregate = is_aggregate::Never;
}

/// Not static: the text is part of the statement, which diesel then caches by its SQL.
impl QueryId for Fixed {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Fixed {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

/// `query LIMIT n` with `n` written into the SQL instead of bound. PostgreSQL plans a bound
/// limit generically as a tenth of the estimated rows, which makes the generic plan of a
/// nearest-first search look dearer than a custom one, so it would plan every execution
/// again; with the number in the text (one prepared statement per page size) the generic
/// plan is kept.
#[derive(Debug, Clone)]
pub struct LiteralLimit<Q> {
    query: Q,
    limit: i64,
}

impl<Q> LiteralLimit<Q> {
    pub fn new(query: Q, limit: i64) -> Self {
        Self { query, limit }
    }
}

impl<Q: Query> Query for LiteralLimit<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for LiteralLimit<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

/// Not static: the number is part of the text, by which diesel then caches the statement.
impl<Q> QueryId for LiteralLimit<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}
