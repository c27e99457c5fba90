//! SQL of fixed text that diesel may keep prepared: constants ([`Const`]), a literal
//! `LIMIT` ([`Limited`]) and hand-written statements ([`Statement`]).
//!
//! `diesel::dsl::sql` and `diesel::sql_query` mark their statement unsafe to cache, since its
//! text could hold anything; such a statement is parsed and planned again on every run. And
//! PostgreSQL plans a prepared statement again at every execution when its generic plan looks
//! dearer than a custom one, as it does when a partial index's constant or a `LIMIT` is bound.

use std::marker::PhantomData;

use diesel::{
    expression::{
        is_aggregate, AppearsOnTable, AsExpression, Expression, SelectableExpression, TypedExpressionType,
        ValidGrouping,
    },
    pg::Pg,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{SqlType, Untyped},
    QueryResult,
};

/// A constant piece of SQL that, unlike `diesel::dsl::sql`, may live in a cached prepared
/// statement. diesel never caches statements that contain `sql()` (their text could differ
/// between executions), and a constant written as a bind parameter (`status = $1`) leaves
/// PostgreSQL unable to prove a partial index's predicate in a generic plan, so it plans the
/// statement again on every execution. Only `'static` strings: the text never carries input.
#[derive(Debug, Clone, Copy)]
pub struct Const<ST>(&'static str, PhantomData<ST>);

impl<ST> Const<ST> {
    pub const fn new(sql: &'static str) -> Self {
        Self(sql, PhantomData)
    }
}

impl<ST: SqlType + TypedExpressionType> Expression for Const<ST> {
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for Const<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.0);
        Ok(())
    }
}

/// The text is part of the statement, so statements are told apart by their SQL, not by type.
impl<ST> QueryId for Const<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS, ST> SelectableExpression<QS> for Const<ST> where Self: Expression {}
impl<QS, ST> AppearsOnTable<QS> for Const<ST> where Self: Expression {}
impl<ST, GB> ValidGrouping<GB> for Const<ST> {
    type IsAggregate = is_aggregate::Never;
}

/// A query with its `LIMIT` written into the SQL instead of bound. PostgreSQL plans a
/// bound `LIMIT $n` generically as if it kept a tenth of the rows, finds that dearer than a
/// plan for the real value and so re-plans a page query at every execution (~0.2 ms of
/// server CPU per feed request, measured). Page sizes are few (1 to the maximum page size),
/// so each connection caches at most that many statements per query shape.
pub struct Limited<Q> {
    query: Q,
    limit: String,
}

impl<Q> Limited<Q> {
    pub fn new(query: Q, limit: i64) -> Self {
        Self {
            query,
            limit: format!(" LIMIT {limit}"),
        }
    }
}

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Limited<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(&self.limit);
        Ok(())
    }

    /// The same text as `walk_ast` writes, built through the query's own `to_sql`, so that a
    /// [`Prerendered`](super::prerendered::Prerendered) query keeps its prebuilt text under a limit.
    fn to_sql(&self, out: &mut diesel::pg::PgQueryBuilder, backend: &Pg) -> QueryResult<()> {
        use diesel::query_builder::QueryBuilder;
        self.query.to_sql(out, backend)?;
        out.push_sql(&self.limit);
        Ok(())
    }
}

impl<Q> QueryId for Limited<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> diesel::query_dsl::RunQueryDsl<Conn> for Limited<Q> {}

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
        let limited = Limited::new(Statement::sql("SELECT 1"), 21);
        assert!(diesel::debug_query::<Pg, _>(&limited)
            .to_string()
            .starts_with("SELECT 1 LIMIT 21"));
        assert!(!QueryFragment::<Pg>::is_safe_to_cache_prepared(&diesel::sql_query("SELECT 1"), &Pg).unwrap());
    }
}
