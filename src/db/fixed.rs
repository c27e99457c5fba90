//! SQL of fixed text that diesel may keep prepared.
//!
//! `diesel::dsl::sql` marks its statement unsafe to cache, since its text could hold
//! anything; such a statement is parsed and planned again on every run. A condition whose
//! text never changes is written with [`Fixed`] instead: typically a constant a partial
//! index's predicate must see as a literal (a bind parameter hides the value from a generic
//! plan, which then cannot use the index).

use diesel::{
    expression::{
        is_aggregate, AppearsOnTable, AsExpression, Expression, SelectableExpression, TypedExpressionType,
        ValidGrouping,
    },
    pg::Pg,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{Bool, SqlType, Untyped},
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

/// A statement written as SQL text with bind parameters, like `diesel::sql_query`, except
/// that diesel keeps it prepared: `sql_query` marks its statement unsafe to cache, so every
/// run paid a Parse round trip and a fresh plan. Text and binds alternate, each bind writing
/// its own `$n`.
pub struct Statement {
    parts: Vec<Part>,
}

enum Part {
    Sql(&'static str),
    Bind(Box<dyn QueryFragment<Pg> + Send>),
}

impl Statement {
    pub fn sql(text: &'static str) -> Self {
        Self {
            parts: vec![Part::Sql(text)],
        }
    }

    /// Appends more text.
    pub fn then(mut self, text: &'static str) -> Self {
        self.parts.push(Part::Sql(text));
        self
    }

    /// Appends a parameter of SQL type `ST`.
    pub fn bind<ST, V>(mut self, value: V) -> Self
    where
        V: AsExpression<ST>,
        V::Expression: QueryFragment<Pg> + Send + 'static,
        ST: SqlType + TypedExpressionType,
    {
        self.parts.push(Part::Bind(Box::new(value.as_expression())));
        self
    }
}

impl QueryFragment<Pg> for Statement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for part in &self.parts {
            match part {
                Part::Sql(text) => out.push_sql(text),
                Part::Bind(value) => value.walk_ast(out.reborrow())?,
            }
        }
        Ok(())
    }
}

/// Not static: diesel caches the statement by its text.
impl QueryId for Statement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Rows come back by name (`QueryableByName`), as with `sql_query`.
impl Query for Statement {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use diesel::sql_types::{BigInt, Nullable, Text};

    use super::*;

    #[test]
    fn statements_number_their_parameters_and_may_be_kept_prepared() {
        let statement = Statement::sql("SELECT a FROM t WHERE b = COALESCE(")
            .bind::<Nullable<Text>, _>(None::<&'static str>)
            .then(", b) LIMIT ")
            .bind::<BigInt, _>(5_i64);
        let debug = diesel::debug_query::<Pg, _>(&statement).to_string();
        assert!(
            debug.starts_with("SELECT a FROM t WHERE b = COALESCE($1, b) LIMIT $2"),
            "{debug}"
        );
        assert!(statement.is_safe_to_cache_prepared(&Pg).unwrap());
        let limited = LiteralLimit::new(Statement::sql("SELECT 1"), 21);
        assert!(diesel::debug_query::<Pg, _>(&limited)
            .to_string()
            .starts_with("SELECT 1 LIMIT 21"));
        assert!(!QueryFragment::<Pg>::is_safe_to_cache_prepared(&diesel::sql_query("SELECT 1"), &Pg).unwrap());
    }
}
