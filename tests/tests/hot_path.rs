//! The shortcuts the span-start path takes (see BENCHMARKS.md) keep what a user sees unchanged:
//! attributes land whichever way the sampler decides, a reinstalled pipeline is picked up by a
//! thread that cached the old one. (That a full batch does not wait for the delay is in
//! `batching.rs`: it needs `init`, which must not overlap these captures.)

use maestro_trace::sdk::trace::Sampler;
use maestro_trace::testing::{capture, capture_with_sampler};
use maestro_trace::{span, span_attrs, traced};

#[span_attrs(prefix = "model")]
struct Model {
    id: String,
    version: i64,
    stage: Option<&'static str>,
}

#[traced("score_request", attrs(model, batch.size = 3, model.framework = "pytorch"))]
fn score(model: &Model) -> i64 {
    model.version
}

fn model() -> Model {
    Model {
        id: "resnet50".into(),
        version: 3,
        stage: None,
    }
}

fn assert_attributes(capture: &maestro_trace::testing::Capture) {
    let span = capture.span("score_request");
    assert_eq!(span.attr_str("model.id").as_deref(), Some("resnet50"));
    assert_eq!(span.attr_i64("model.version"), Some(3));
    assert_eq!(span.attr("model.stage"), None, "a `None` field is omitted");
    assert_eq!(span.attr_i64("batch.size"), Some(3));
    assert_eq!(span.attr_str("model.framework").as_deref(), Some("pytorch"));
    assert_eq!(span.attributes().len(), 4);
}

#[test]
fn attributes_are_recorded_when_sampling_is_known_in_advance() {
    // Always on: recorded before the span is built.
    let capture = capture();
    score(&model());
    assert_attributes(&capture);
}

#[test]
fn attributes_are_recorded_when_the_sampler_decides() {
    // A ratio sampler decides only when asked: recorded after the span is built.
    let capture = capture_with_sampler(Sampler::TraceIdRatioBased(1.0));
    score(&model());
    assert_attributes(&capture);
}

#[test]
fn children_of_a_sampled_parent_record_under_a_parent_based_sampler() {
    let capture = capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    span!("handle_request").in_scope(|| score(&model()));
    assert_attributes(&capture);
    let child = capture.span("score_request");
    assert!(child.is_child_of(&capture.span("handle_request")));
}

#[test]
fn a_skipped_child_of_an_unsampled_parent_leaves_the_parent_intact() {
    let capture = capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let request = span!("handle_request");
    let trace = request.trace_id();
    request.in_scope(|| {
        let child = span!("inner_step");
        assert!(!child.is_recording());
        assert_eq!(child.trace_id(), trace);
        // Ending or marking the skipped child must not touch the parent's span.
        child.record_error(&"boom");
        child.end();
        assert_eq!(
            span!("next_step").trace_id(),
            trace,
            "the parent is still current"
        );
    });
    assert!(capture.spans().is_empty());
}

#[test]
fn a_thread_picks_up_a_reinstalled_pipeline() {
    // The span-start path caches the tracer per thread: each capture must still get its own
    // spans when captures follow one another on the same thread.
    for round in 0..3 {
        let capture = capture();
        span!("round_step", round = round).in_scope(|| ());
        let spans = capture.spans();
        assert_eq!(spans.len(), 1, "round {round}: {:?}", capture.names());
        assert_eq!(spans[0].attr_i64("round"), Some(round));
    }
}
