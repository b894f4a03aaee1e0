//! Every compile error a user can hit with the maestro-trace macros, pinned with its exact
//! message (`tests/fail`), and every supported shape compiling and running (`tests/pass`).
//!
//! Regenerate the expected output after an intended message change with
//! `TRYBUILD=overwrite cargo test -p maestro-trace-ui-tests`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/pass/*.rs");
    cases.compile_fail("tests/fail/*.rs");
}
