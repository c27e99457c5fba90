//! The checked-in SDL is the running schema's.

#[test]
fn schema_graphql_matches_the_running_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let running = gigmarket::graphql::sdl();
    assert!(
        checked_in == running,
        "schema.graphql is stale: run `cargo run -- export-schema` and commit the result"
    );
}

/// `.ci/schema-diff` (GraphQL Inspector) with the given schemas and commit message.
async fn schema_diff(previous: &str, current: &str, message: &str) -> std::process::Output {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    crate::node::ensure_installed(&root.join("tests/schema")).await;
    let dir = std::env::temp_dir().join(format!("gm-schema-diff-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("previous.graphql"), previous).unwrap();
    std::fs::write(dir.join("current.graphql"), current).unwrap();
    let output = crate::node::run(
        &root,
        "bash",
        &[".ci/schema-diff"],
        &[
            ("SCHEMA_PREVIOUS", &dir.join("previous.graphql").to_string_lossy()),
            ("SCHEMA_CURRENT", &dir.join("current.graphql").to_string_lossy()),
            ("COMMIT_MESSAGE", message),
        ],
        std::time::Duration::from_secs(120),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    output
}

#[tokio::test]
async fn a_breaking_schema_change_fails_the_governance_check_unless_declared() {
    let schema = gigmarket::graphql::sdl();
    let unchanged = schema_diff(&schema, &schema, "Tidy").await;
    assert!(unchanged.status.success(), "{}", crate::node::report(&unchanged));

    let added = schema.replacen(
        "type Query {",
        "type Query {\n\t\"\"\"A new field.\"\"\"\n\tplaygroundProbe: Int",
        1,
    );
    let additive = schema_diff(&schema, &added, "Add a field").await;
    assert!(additive.status.success(), "{}", crate::node::report(&additive));

    // Matches the field whether or not its arguments are printed with descriptions.
    let removed = schema.replacen("\tacceptTask(", "\tacceptTaskLater(", 1);
    assert_ne!(removed, schema, "the test edits a field that exists");
    let breaking = schema_diff(&schema, &removed, "Rename acceptTask").await;
    assert!(!breaking.status.success(), "{}", crate::node::report(&breaking));
    assert!(
        String::from_utf8_lossy(&breaking.stderr).contains("BREAKING CHANGE"),
        "{}",
        crate::node::report(&breaking)
    );
    let declared = schema_diff(
        &schema,
        &removed,
        "Rename acceptTask\n\nBREAKING CHANGE: acceptTask is now acceptTaskLater; clients rename the field.",
    )
    .await;
    assert!(declared.status.success(), "{}", crate::node::report(&declared));
}
