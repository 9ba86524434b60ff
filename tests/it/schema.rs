//! The schema test: `schema.graphql` is what the code produces. (Its comparison with the shared
//! GraphQL contract, with `tests/contract-pending.txt`, is a step of `.ci/run`: the contract is
//! not part of this repository.)

use std::path::PathBuf;

#[test]
fn schema_graphql_is_what_the_code_produces() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let committed = std::fs::read_to_string(path).expect("schema.graphql at the root");
    let produced = acumatica_bridge::api::sdl();
    assert!(
        committed == produced,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}
