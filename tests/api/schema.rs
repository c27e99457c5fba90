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
