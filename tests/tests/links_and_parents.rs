//! Span links, explicit parents, `root` and `kind` in `span!`, and the thread helper: a consumer
//! linked to the producer that queued its work, spans started under a given parent instead of
//! the current one, and OS threads kept in the spawning trace.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use maestro_trace::otel::trace::{SpanContext, SpanKind, TraceContextExt, Tracer};
use maestro_trace::otel::{global, Context};
use maestro_trace::sdk::trace::Sampler;
use maestro_trace::{span, testing, traced, Span, TraceFutureExt};

/// Work queued by a producer, with the span context of the producer's span.
struct TrainingJob {
    model_id: &'static str,
    queued_by: Option<SpanContext>,
}

#[traced("submit_training_job", kind = producer, attrs(model.id = model_id))]
fn submit_training_job(queue: &mpsc::Sender<TrainingJob>, model_id: &'static str) {
    let job = TrainingJob {
        model_id,
        queued_by: maestro_trace::current_span_context(),
    };
    queue.send(job).expect("the worker's queue is open");
}

#[traced("run_training_job", kind = consumer, root, links = job.queued_by.clone(), attrs(model.id = job.model_id))]
fn run_training_job(job: &TrainingJob) -> &'static str {
    job.model_id
}

#[test]
fn a_consumer_links_to_the_producer_that_queued_its_work() {
    let capture = testing::capture();
    let (queue, jobs) = mpsc::channel();
    submit_training_job(&queue, "bert-base");
    let worker = maestro_trace::thread::spawn(move || {
        jobs.iter()
            .map(|job| run_training_job(&job))
            .collect::<Vec<_>>()
    });
    drop(queue);
    assert_eq!(worker.join().ok(), Some(vec!["bert-base"]));

    let producer = capture.span("submit_training_job");
    let consumer = capture.span("run_training_job");
    assert_eq!(producer.kind(), SpanKind::Producer);
    assert_eq!(consumer.kind(), SpanKind::Consumer);
    // A trace of its own (`root`), linked to the producer's span by trace and span id.
    assert!(consumer.is_root());
    assert_ne!(consumer.trace_id(), producer.trace_id());
    let links = consumer.links();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].trace_id(), producer.trace_id());
    assert_eq!(links[0].span_id(), producer.span_id());
    assert!(consumer.is_linked_to(&producer));
}

#[traced("merge_training_batches", links = [first, second])]
async fn merge_training_batches(first: &SpanContext, second: &SpanContext) {}

#[tokio::test]
async fn links_take_any_iterable_and_skip_invalid_span_contexts() {
    let capture = testing::capture();
    let first = span!("load_training_batch", batch.index = 0);
    let second = span!("load_training_batch", batch.index = 1);
    let (a, b) = (
        first.span_context().expect("sampled"),
        second.span_context().expect("sampled"),
    );
    drop((first, second));
    merge_training_batches(&a, &b).await;
    let merged = capture.span("merge_training_batches");
    let ids: Vec<_> = merged.links().iter().map(SpanContext::span_id).collect();
    assert_eq!(ids, [a.span_id(), b.span_id()]);

    // An invalid context (an empty span's) adds no link; a `Vec` of `&Span` works too.
    let producer = span!("enqueue_training_job");
    span!(
        "drain_training_queue",
        links = vec![&producer, &Span::none()]
    )
    .in_scope(|| {});
    span!("drain_empty_queue", links = [SpanContext::empty_context()]).in_scope(|| {});
    let producer_id = producer.span_context().map(|sc| sc.span_id());
    drop(producer);
    let drained = capture.span("drain_training_queue");
    assert_eq!(
        drained.links().first().map(SpanContext::span_id),
        producer_id
    );
    assert_eq!(drained.links().len(), 1);
    assert!(capture.span("drain_empty_queue").links().is_empty());
}

#[test]
fn a_span_handle_adds_links_while_it_runs() {
    let capture = testing::capture();
    let request = span!("submit_training_job");
    let batch = span!("run_training_batch");
    batch.add_link(request.span_context().expect("sampled"));
    batch.add_link(SpanContext::empty_context());
    drop((batch, request));
    let batch = capture.span("run_training_batch");
    assert_eq!(batch.links().len(), 1);
    assert!(batch.is_linked_to(&capture.span("submit_training_job")));
}

/// Counts how often a link expression runs.
fn counted_links(runs: &AtomicUsize) -> Vec<SpanContext> {
    runs.fetch_add(1, Ordering::SeqCst);
    Vec::new()
}

#[test]
fn link_expressions_run_only_when_sampled() {
    let runs = AtomicUsize::new(0);
    {
        let _capture = testing::capture_with_sampler(Sampler::AlwaysOff);
        span!("score_request", links = counted_links(&runs)).in_scope(|| {});
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let _capture = testing::capture();
    span!("score_request", links = counted_links(&runs)).in_scope(|| {});
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[traced("run_training_epoch", parent = job)]
fn run_training_epoch(job: &Span) {
    span!("compute_gradients").in_scope(|| {});
}

#[test]
fn traced_and_span_start_under_an_explicit_parent() {
    let capture = testing::capture();
    let job = span!("train_model_job");
    // Another span is current, but the explicit parent wins.
    span!("poll_scheduler").in_scope(|| run_training_epoch(&job));
    let cx = job.context().cloned().expect("tracing is on");
    span!("save_checkpoint", parent = &cx).in_scope(|| {});
    let sc = job.span_context().expect("sampled");
    span!("report_metrics", parent = sc).in_scope(|| {});
    drop(job);

    let job = capture.span("train_model_job");
    let epoch = capture.span("run_training_epoch");
    assert!(epoch.is_child_of(&job));
    assert!(capture.span("compute_gradients").is_child_of(&epoch));
    assert!(capture.span("save_checkpoint").is_child_of(&job));
    assert!(capture.span("report_metrics").is_child_of(&job));
    assert!(capture.span("poll_scheduler").is_root());
}

#[traced("handle_remote_job", kind = server, parent = remote)]
async fn handle_remote_job(remote: &Context) {
    span!("load_remote_model").in_scope(|| {});
}

#[tokio::test]
async fn an_async_traced_function_starts_under_a_raw_context() {
    let capture = testing::capture();
    let tracer = global::tracer("links-test");
    let raw = tracer.start("dispatch_remote_job");
    let remote = Context::new().with_span(raw);
    handle_remote_job(&remote).await;
    remote.span().end();
    let dispatch = capture.span("dispatch_remote_job");
    let handled = capture.span("handle_remote_job");
    assert_eq!(handled.kind(), SpanKind::Server);
    assert!(handled.is_child_of(&dispatch));
    assert!(capture.span("load_remote_model").is_child_of(&handled));
}

#[test]
fn span_macro_takes_kind_and_root() {
    let capture = testing::capture();
    span!("handle_request", kind = server).in_scope(|| {
        span!(
            "fetch_model_from_registry",
            kind = client,
            job.kind = "nightly"
        )
        .in_scope(|| {});
        span!("consume_training_event", kind = consumer, root).in_scope(|| {});
    });
    let request = capture.span("handle_request");
    let fetch = capture.span("fetch_model_from_registry");
    let consume = capture.span("consume_training_event");
    assert_eq!(request.kind(), SpanKind::Server);
    assert_eq!(fetch.kind(), SpanKind::Client);
    assert!(fetch.is_child_of(&request));
    // `kind` is the option; a dotted key is an attribute.
    assert_eq!(fetch.attr("kind"), None);
    assert_eq!(fetch.attr_str("job.kind").as_deref(), Some("nightly"));
    assert_eq!(consume.kind(), SpanKind::Consumer);
    assert!(consume.is_root());
    assert_ne!(consume.trace_id(), request.trace_id());
}

#[test]
fn a_thread_spawned_with_the_helper_stays_in_the_trace() {
    let capture = testing::capture();
    span!("train_model_job").in_scope(|| {
        let carried = maestro_trace::thread::spawn(|| {
            span!("load_training_shard").in_scope(|| {});
        });
        assert!(carried.join().is_ok());
        // A plain thread starts with an empty context: a new trace.
        let plain = std::thread::spawn(|| span!("evaluate_model").in_scope(|| {}));
        assert!(plain.join().is_ok());
    });
    let job = capture.span("train_model_job");
    assert!(capture.span("load_training_shard").is_child_of(&job));
    assert!(capture.span("evaluate_model").is_root());
}

#[tokio::test]
async fn an_explicit_parent_holds_across_await() {
    let capture = testing::capture();
    let job = span!("train_model_job");
    async {
        tokio::task::yield_now().await;
        span!("run_training_step").in_scope(|| {});
    }
    .in_span(span!("run_training_epoch", parent = &job))
    .await;
    drop(job);
    let epoch = capture.span("run_training_epoch");
    assert!(epoch.is_child_of(&capture.span("train_model_job")));
    assert!(capture.span("run_training_step").is_child_of(&epoch));
}

#[test]
fn the_tree_shows_each_link_under_its_span() {
    let capture = testing::capture();
    let (queue, jobs) = mpsc::channel();
    submit_training_job(&queue, "bert-base");
    drop(queue);
    for job in jobs.iter() {
        run_training_job(&job);
    }
    let producer = capture.span("submit_training_job");
    let tree = capture.tree();
    let consumer_line = tree
        .lines()
        .position(|line| line.starts_with("run_training_job [consumer]"))
        .unwrap_or_else(|| panic!("no consumer root in\n{tree}"));
    assert_eq!(
        tree.lines().nth(consumer_line + 1),
        Some(
            format!(
                "   ↪ linked to trace {} span {}",
                producer.trace_id(),
                producer.span_id()
            )
            .as_str()
        ),
        "{tree}"
    );
}
