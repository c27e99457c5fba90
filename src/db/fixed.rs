//! SQL conditions of fixed text that diesel may keep prepared.
//!
//! `diesel::dsl::sql` marks its statement unsafe to cache, since its text could hold
//! anything; such a statement is parsed and planned again on every run. A condition whose
//! text never changes is written with [`Fixed`] instead: typically a constant a partial
//! index's predicate must see as a literal (a bind parameter hides the value from a generic
//! plan, which then cannot use the index).

use diesel::{
    expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping},
    pg::Pg,
    query_builder::{AstPass, QueryFragment, QueryId},
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
