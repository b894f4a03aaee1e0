#![deny(warnings)]
// The user's local is named like a static on purpose (to collide with the expansion's), which
// is the user's own lint to answer, not the expansion's.
#![allow(non_snake_case)]
use maestro_trace::traced;

#[traced("score_with_shadowed_static")]
fn score() -> i64 {
    let __MT_SPAN = 1;
    __MT_SPAN
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(score(), 1);
    assert_eq!(
        capture.span("score_with_shadowed_static").name(),
        "score_with_shadowed_static"
    );
}
