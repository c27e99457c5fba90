//! Every filter and sort the gig, task, vouch, verification and SOS lists offer has an index
//! the planner uses: the exact
//! statement the model builds is EXPLAINed with sequential scans disabled, and no plan may
//! scan `gigs` sequentially.

use diesel::{pg::Pg, sql_types, QueryableByName};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use gigmarket::{
    gig::model::{page_query, Filter, Sort},
    task,
};

use crate::common::TestApp;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// A bind value from diesel's debug output as an SQL literal (strings, numbers, text arrays).
fn literal(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        serde_json::Value::Array(items) => {
            format!(
                "ARRAY[{}]::text[]",
                items.iter().map(literal).collect::<Vec<_>>().join(", ")
            )
        }
        other => other.to_string(),
    }
}

/// The statement with its binds inlined, from `debug_query`'s "<sql> -- binds: [...]".
pub fn inline(debug: &str) -> String {
    let (sql, binds) = debug.split_once(" -- binds: ").expect("debug_query output");
    // Debug output is JSON but for UUIDs, which print bare: quote them.
    let uuid = regex::Regex::new(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b").expect("regex");
    let binds = uuid.replace_all(binds, "\"$0\"");
    let binds: Vec<serde_json::Value> = serde_json::from_str(&binds).expect("binds as JSON");
    let mut sql = sql.to_owned();
    for (i, value) in binds.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), &literal(value));
    }
    sql
}

/// The plain EXPLAIN of `sql` (`name` says which statement failed).
pub async fn explain(conn: &mut diesel_async::AsyncPgConnection, name: &str, sql: &str) -> String {
    let plan: Vec<String> = diesel::sql_query(format!("EXPLAIN {sql}"))
        .load::<PlanLine>(conn)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\n{sql}"))
        .into_iter()
        .map(|l| l.line)
        .collect();
    plan.join("\n")
}

/// The plan PostgreSQL keeps for the statement of `debug` (`debug_query` output) once it is
/// prepared with its binds as parameters and planned generically: what a prepared statement
/// runs after its first few executions, whatever the values.
pub async fn explain_generic(conn: &mut diesel_async::AsyncPgConnection, name: &str, debug: &str) -> String {
    let (sql, binds) = debug.split_once(" -- binds: ").expect("debug_query output");
    let binds: Vec<serde_json::Value> = serde_json::from_str(binds).expect("binds as JSON");
    let values = binds.iter().map(literal).collect::<Vec<_>>().join(", ");
    conn.batch_execute(&format!(
        "DEALLOCATE ALL; SET plan_cache_mode = force_generic_plan; PREPARE generic AS {sql}"
    ))
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}\n{sql}"));
    let plan = explain(conn, name, &format!("EXECUTE generic({values})")).await;
    conn.batch_execute("DEALLOCATE generic; RESET plan_cache_mode")
        .await
        .expect("reset");
    plan
}

/// The plan PostgreSQL picks on its own (`plan_cache_mode = auto`) for the statement of
/// `debug` prepared with its binds as parameters, after running it as often as it takes to
/// consider a generic plan: a generic plan shows the parameters (`$1`), a custom one the values.
pub async fn explain_kept(conn: &mut diesel_async::AsyncPgConnection, name: &str, debug: &str) -> String {
    let (sql, binds) = debug.split_once(" -- binds: ").expect("debug_query output");
    let binds: Vec<serde_json::Value> = serde_json::from_str(binds).expect("binds as JSON");
    let values = binds.iter().map(literal).collect::<Vec<_>>().join(", ");
    let execute = if values.is_empty() {
        "EXECUTE kept".to_owned()
    } else {
        format!("EXECUTE kept({values})")
    };
    let runs = [execute.as_str(); 6].join("; ");
    conn.batch_execute(&format!("DEALLOCATE ALL; PREPARE kept AS {sql}; {runs}"))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}\n{sql}"));
    let plan = explain(conn, name, &execute).await;
    conn.batch_execute("DEALLOCATE kept").await.expect("deallocate");
    plan
}

/// EXPLAINs `sql` and asserts `table` is never scanned sequentially and, when named,
/// `index` is used.
pub async fn assert_indexed(
    conn: &mut diesel_async::AsyncPgConnection,
    name: &str,
    sql: &str,
    table: &str,
    index: Option<&str>,
) {
    let plan = explain(conn, name, sql).await;
    assert!(
        !plan.contains(&format!("Seq Scan on {table}")),
        "{name} scans {table} sequentially:\n{plan}"
    );
    if let Some(index) = index {
        assert!(plan.contains(index), "{name} does not use {index}:\n{plan}");
    }
}

#[tokio::test]
async fn every_gig_filter_and_sort_uses_an_index() {
    let app = TestApp::spawn().await;
    // Plans only mean something with data and statistics behind them.
    let size = gigmarket::seed::CatalogueSize {
        users: 300,
        gigs: 20_000,
        tasks: 10,
    };
    gigmarket::seed::catalogue(&app.state, size).await.expect("seed");
    let mut conn = app.state.db.conn().await.expect("connection");
    conn.batch_execute("SET enable_seqscan = off").await.expect("set");
    let cases: Vec<(&str, Filter, Sort, Option<&str>)> = vec![
        (
            "newest",
            Filter::default(),
            Sort::Newest,
            Some("gigs_active_newest_idx"),
        ),
        (
            "category",
            Filter {
                category: Some("design".into()),
                ..Default::default()
            },
            Sort::Newest,
            None,
        ),
        // A selective term: for common words (7% of this catalogue) scanning the active index is cheaper.
        (
            "search",
            Filter {
                search: Some("12345".into()),
                ..Default::default()
            },
            Sort::Relevance,
            Some("gigs_search_idx"),
        ),
        (
            "tags",
            Filter {
                tags: vec!["rust".into()],
                ..Default::default()
            },
            Sort::Newest,
            None,
        ),
        (
            "price range",
            Filter {
                price_min: Some(1000),
                price_max: Some(5000),
                ..Default::default()
            },
            Sort::PriceLow,
            Some("gigs_active_price_idx"),
        ),
        (
            "price high",
            Filter::default(),
            Sort::PriceHigh,
            Some("gigs_active_price_idx"),
        ),
        (
            "delivery",
            Filter {
                max_delivery_days: Some(3),
                ..Default::default()
            },
            Sort::Newest,
            None,
        ),
        (
            "rating",
            Filter {
                min_rating: Some(4.0),
                ..Default::default()
            },
            Sort::Rating,
            None,
        ),
        (
            "rating sort",
            Filter::default(),
            Sort::Rating,
            Some("gigs_active_rating_idx"),
        ),
        (
            "owner",
            Filter {
                owner: Some(uuid::Uuid::nil()),
                ..Default::default()
            },
            Sort::Newest,
            Some("gigs_owner_id_idx"),
        ),
    ];
    for (name, filter, sort, index) in cases {
        let sql = inline(&diesel::debug_query::<Pg, _>(&page_query(&filter, sort, None, 21)).to_string());
        assert_indexed(&mut conn, name, &sql, "gigs", index).await;
    }
}

#[tokio::test]
async fn every_task_filter_uses_an_index() {
    let app = TestApp::spawn().await;
    let size = gigmarket::seed::CatalogueSize {
        users: 300,
        gigs: 10,
        tasks: 20_000,
    };
    gigmarket::seed::catalogue(&app.state, size).await.expect("seed");
    let mut conn = app.state.db.conn().await.expect("connection");
    conn.batch_execute("SET enable_seqscan = off").await.expect("set");
    let cases: Vec<(&str, task::model::Filter, Option<&str>)> = vec![
        ("newest", Default::default(), Some("tasks_open_newest_idx")),
        // Newest first with a LIMIT: walking the newest index (or the GIN index) are both fine.
        (
            "search",
            task::model::Filter {
                search: Some("12345".into()),
                ..Default::default()
            },
            None,
        ),
        (
            "category",
            task::model::Filter {
                category: Some("design".into()),
                ..Default::default()
            },
            None,
        ),
        (
            "skills",
            task::model::Filter {
                skills: vec!["Rust".into()],
                ..Default::default()
            },
            None,
        ),
        (
            "budget",
            task::model::Filter {
                budget_min: Some(400_000),
                ..Default::default()
            },
            None,
        ),
        (
            "poster",
            task::model::Filter {
                poster: Some(uuid::Uuid::nil()),
                ..Default::default()
            },
            Some("tasks_poster_id_idx"),
        ),
    ];
    for (name, filter, index) in cases {
        let sql = inline(&diesel::debug_query::<Pg, _>(&task::model::page_query(&filter, None, 21)).to_string());
        assert_indexed(&mut conn, name, &sql, "tasks", index).await;
    }
}

#[tokio::test]
async fn vouch_verification_and_sos_lists_use_their_indexes() {
    use gigmarket::{sos, verification, vouch};

    let app = TestApp::spawn().await;
    let mut conn = app.state.db.conn().await.expect("connection");
    conn.batch_execute("SET enable_seqscan = off").await.expect("set");
    let someone = uuid::Uuid::now_v7();
    let cases = [
        (
            "vouches of users",
            vouch::model::PAGES_SQL
                .replace("$1", &format!("ARRAY['{someone}', '{}']", uuid::Uuid::now_v7()))
                .replace("$2", "NULL")
                .replace("$3", &format!("'{someone}'"))
                .replace("$4", "21"),
            "vouches",
            "vouches_vouchee_idx",
        ),
        (
            "vouches of users in one area",
            vouch::model::PAGES_SQL
                .replace("$1", &format!("ARRAY['{someone}']"))
                .replace("$2", "'led tech'")
                .replace("$3", "NULL")
                .replace("$4", "21"),
            "vouches",
            "vouches_vouchee_idx",
        ),
        (
            "pending verifications",
            inline(
                &diesel::debug_query::<Pg, _>(&verification::model::page_query(
                    Some(gigmarket::profile::model::VerificationStatus::Pending),
                    Some(someone),
                    21,
                ))
                .to_string(),
            ),
            "verification_requests",
            "verification_requests_status_idx",
        ),
        (
            "all verifications",
            inline(&diesel::debug_query::<Pg, _>(&verification::model::page_query(None, None, 21)).to_string()),
            "verification_requests",
            "verification_requests_pkey",
        ),
        (
            "open SOS alerts",
            inline(
                &diesel::debug_query::<Pg, _>(&sos::model::page_query(Some(sos::model::SosStatus::Open), None, 21))
                    .to_string(),
            ),
            "sos_alerts",
            "sos_alerts_status_idx",
        ),
        (
            "all SOS alerts",
            inline(&diesel::debug_query::<Pg, _>(&sos::model::page_query(None, Some(someone), 21)).to_string()),
            "sos_alerts",
            "sos_alerts_pkey",
        ),
    ];
    for (name, sql, table, index) in cases {
        assert_indexed(&mut conn, name, &sql, table, Some(index)).await;
    }
}
