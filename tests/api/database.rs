//! The database schema: `src/db/schema.rs` matches what the migrations build, every foreign
//! key has an index, and every migration reverts cleanly.

use std::collections::BTreeMap;

use diesel::{sql_types, QueryableByName};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use diesel::migration::MigrationSource;
use gigmarket::progress::Unit;

use crate::common::{admin_url, CapturedOutput, TestApp};

#[derive(QueryableByName, Debug, PartialEq)]
struct ColumnInfo {
    #[diesel(sql_type = sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = sql_types::Text)]
    data_type: String,
    #[diesel(sql_type = sql_types::Bool)]
    nullable: bool,
}

const COLUMNS: &str = "SELECT table_name::text, column_name::text, data_type::text, is_nullable = 'YES' AS nullable \
     FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
     ORDER BY table_name, ordinal_position";

/// (table, column) → (PostgreSQL type, nullable), read from the `table!` blocks of schema.rs.
fn declared_columns() -> BTreeMap<(String, String), (String, bool)> {
    let source = include_str!("../../src/db/schema.rs");
    let mut columns = BTreeMap::new();
    let mut table: Option<String> = None;
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_suffix('{').map(str::trim) {
            if let Some((name, _pk)) = rest.split_once(' ') {
                if rest.contains('(') {
                    table = Some(name.to_owned());
                }
            }
            continue;
        }
        if line == "}" {
            table = None;
            continue;
        }
        let (Some(table), Some((column, ty))) = (&table, line.split_once(" -> ")) else {
            continue;
        };
        let ty = ty.trim_end_matches(',');
        let (nullable, inner) = match ty.strip_prefix("Nullable<").and_then(|t| t.strip_suffix('>')) {
            Some(inner) => (true, inner),
            None => (false, ty),
        };
        let pg = match inner {
            "Uuid" => "uuid",
            "Text" => "text",
            "Bytea" => "bytea",
            "Bool" => "boolean",
            "Int2" => "smallint",
            "Int4" => "integer",
            "Int8" => "bigint",
            "Float8" => "double precision",
            "Jsonb" => "jsonb",
            "Timestamptz" => "timestamp with time zone",
            "Date" => "date",
            "Time" => "time without time zone",
            "Tsvector" => "tsvector",

            t if t.starts_with("Array<") => "ARRAY",
            other => panic!("map diesel type {other} in this test"),
        };
        columns.insert((table.clone(), column.to_owned()), (pg.to_owned(), nullable));
    }
    columns
}

async fn actual_columns(conn: &mut AsyncPgConnection) -> BTreeMap<(String, String), (String, bool)> {
    diesel::sql_query(COLUMNS)
        .load::<ColumnInfo>(conn)
        .await
        .expect("columns")
        .into_iter()
        .map(|c| ((c.table_name, c.column_name), (c.data_type, c.nullable)))
        .collect()
}

#[tokio::test]
async fn schema_rs_matches_the_migrated_database() {
    let app = TestApp::spawn().await;
    let mut conn = app.state.db.conn().await.expect("connection");
    let actual = actual_columns(&mut conn).await;
    let declared = declared_columns();
    for (key, value) in &declared {
        assert_eq!(actual.get(key), Some(value), "schema.rs declares {key:?} as {value:?}");
    }
    // Generated columns only SQL fragments read, left out of schema.rs to stay within
    // diesel's 32-column tables (see the comment there).
    let sql_only = [("tasks", "search")];
    for key in actual.keys() {
        if sql_only.iter().any(|(t, c)| key.0 == *t && key.1 == *c) {
            continue;
        }
        assert!(
            declared.contains_key(key),
            "the database has {key:?} but schema.rs does not"
        );
    }
}

#[derive(QueryableByName)]
struct Unindexed {
    #[diesel(sql_type = sql_types::Text)]
    constraint: String,
}

#[tokio::test]
async fn every_foreign_key_has_an_index() {
    let app = TestApp::spawn().await;
    let mut conn = app.state.db.conn().await.expect("connection");
    // A foreign key is covered when some index starts with exactly its columns.
    let missing = diesel::sql_query(
        "SELECT c.conname::text AS constraint FROM pg_constraint c \
         WHERE c.contype = 'f' AND NOT EXISTS ( \
           SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid \
             AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey)",
    )
    .load::<Unindexed>(&mut conn)
    .await
    .expect("query");
    let names: Vec<String> = missing.into_iter().map(|m| m.constraint).collect();
    assert!(names.is_empty(), "foreign keys without an index: {names:?}");
}

#[tokio::test]
async fn migrations_run_up_down_and_up_again_to_the_same_schema() {
    let name = format!("gm_updown_{}", uuid::Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&admin_url()).await.expect("connect");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create");
    let mut url = url::Url::parse(&admin_url()).expect("url");
    url.set_path(&format!("/{name}"));
    let url = url.to_string();

    // Up as `gigmarket migrate` does it: one progress line per migration, in order.
    let output = CapturedOutput::default();
    let progress = output.progress("migrate", Unit::Steps);
    let applied = gigmarket::db::run_migrations_with_progress(&url, &progress)
        .await
        .expect("up");
    let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&gigmarket::db::MIGRATIONS).expect("migrations");
    assert_eq!(applied, migrations.len());
    let lines: Vec<String> = output.text().lines().map(str::to_owned).collect();
    let expected: Vec<String> = migrations
        .iter()
        .enumerate()
        .map(|(i, m)| format!("migrate: applying {}/{applied} {}", i + 1, m.name()))
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(
        gigmarket::db::run_migrations_with_progress(&url, &progress)
            .await
            .expect("up to date"),
        0
    );
    assert_eq!(output.text().lines().count(), applied, "nothing more to report");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    let first = actual_columns(&mut conn).await;
    drop(conn);

    let revert_url = url.clone();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        use diesel_migrations::MigrationHarness;
        let mut conn = <diesel_async::async_connection_wrapper::AsyncConnectionWrapper<
            AsyncPgConnection,
        > as Connection>::establish(&revert_url)
        .expect("connect");
        conn.revert_all_migrations(gigmarket::db::MIGRATIONS).expect("down");
    })
    .await
    .expect("revert task");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    assert!(
        actual_columns(&mut conn).await.is_empty(),
        "down leaves no tables behind"
    );
    drop(conn);

    gigmarket::db::run_migrations(&url).await.expect("up again");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    assert_eq!(actual_columns(&mut conn).await, first);
    drop(conn);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop");
}
