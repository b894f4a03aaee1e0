//! `init` and `testing::capture` share the process-wide pipeline: `init` while a capture is
//! alive is an error (it would silently take the capture's spans), and a capture started over
//! `init` sets its pipeline aside until the capture ends. One test: `init` must not overlap the
//! captures of other tests, so this binary has no other.

use maestro_trace::{init, span, testing, InitError, TracingConfig};
use maestro_trace_tests::recording::Recorded;

#[test]
fn init_while_capturing_is_an_error_and_a_capture_over_init_sets_it_aside() {
    let capture = testing::capture();
    let error = init(TracingConfig::default().no_exporter()).err();
    assert_eq!(error, Some(InitError::CaptureAlive));
    assert!(
        error.is_some_and(|e| e.to_string().contains("capture")),
        "the message names the capture"
    );
    assert_eq!(
        init(TracingConfig::default().enabled(false)).err(),
        Some(InitError::CaptureAlive),
        "disabling tracing would take the capture's pipeline too"
    );
    span!("validate_model").in_scope(|| ());
    assert_eq!(
        capture.names(),
        ["validate_model"],
        "the capture kept capturing"
    );
    drop(capture);

    let exported = Recorded::default();
    let guard = init(TracingConfig::default().span_exporter(exported.clone()))
        .expect("init once no capture is alive");
    let capture = testing::capture();
    span!("score_request").in_scope(|| ());
    drop(capture);
    span!("publish_model").in_scope(|| ());
    drop(guard);
    assert_eq!(
        exported.names(),
        ["publish_model"],
        "spans go to the capture while it is alive, to init's pipeline again after it"
    );
}
