#![deny(warnings)]
#![deny(clippy::all)]
use maestro_trace::otel::trace::{SpanContext, SpanKind};
use maestro_trace::{span, testing, traced, Span};

#[traced("run_training_job", kind = consumer, parent = job, links = queued_by)]
fn run_job(job: &Span, queued_by: Option<SpanContext>) -> usize {
    // The argument is still usable after the options borrowed it.
    job.span_context().map_or(0, |_| 1)
}

#[traced("consume_training_event", kind = consumer, root, links = [producer])]
async fn consume(producer: &SpanContext) {}

pub(crate) fn main() {
    let capture = testing::capture();
    let job = span!("train_model_job", kind = producer, job.kind = "nightly");
    let queued = job.span_context();
    assert_eq!(run_job(&job, queued.clone()), 1);
    span!(
        "fetch_model_from_registry",
        kind = client,
        root,
        links = queued.clone()
    )
    .in_scope(|| {});
    let producer = queued.expect("sampled");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(consume(&producer));
    drop(job);
    let job = capture.span("train_model_job");
    assert_eq!(job.kind(), SpanKind::Producer);
    assert_eq!(job.attr_str("job.kind").as_deref(), Some("nightly"));
    let run = capture.span("run_training_job");
    assert!(run.is_child_of(&job) && run.is_linked_to(&job));
    let fetch = capture.span("fetch_model_from_registry");
    assert!(fetch.is_root() && fetch.is_linked_to(&job));
    assert_eq!(fetch.kind(), SpanKind::Client);
    assert!(capture.span("consume_training_event").is_linked_to(&job));
}
