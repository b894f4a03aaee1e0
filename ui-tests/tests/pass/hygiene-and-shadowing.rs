#![deny(warnings)]
// Names the expansion uses internally, and common names, shadowed by the user: nothing collides.
use maestro_trace::{event, record_errors, span, traced};

#[allow(dead_code)]
mod __private {}
#[allow(dead_code)]
struct Span;
#[allow(dead_code)]
fn start() {}
#[allow(dead_code)]
fn instrument() {}
type Result<T> = std::result::Result<T, String>;

#[traced("score_with_shadowed_names", attrs(span_arg = __mt_span, result_arg = __mt_result, recorder = __mt_recorder))]
#[record_errors]
fn score(__mt_span: i64, __mt_result: i64, __mt_recorder: &str) -> Result<i64> {
    let __mt_scope = 3;
    Ok(__mt_span + __mt_result + __mt_scope + __mt_recorder.len() as i64)
}

#[traced("load_with_shadowed_names")]
async fn load(__mt_setup: i64) -> i64 {
    let __mt_span = __mt_setup;
    __mt_span
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(score(1, 2, "abc"), Ok(9));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(load(5)), 5);
    let __mt_recorder = 3;
    span!("shadowed_recorder_local", recorder = __mt_recorder)
        .in_scope(|| event!("shadow_checked", recorder = __mt_recorder));
    let span = capture.span("score_with_shadowed_names");
    assert_eq!(span.attr_i64("span_arg"), Some(1));
    assert_eq!(span.attr_i64("result_arg"), Some(2));
    assert_eq!(span.attr_str("recorder").as_deref(), Some("abc"));
    assert_eq!(
        capture.span("load_with_shadowed_names").name(),
        "load_with_shadowed_names"
    );
    assert_eq!(
        capture.span("shadowed_recorder_local").attr_i64("recorder"),
        Some(3)
    );
}
