//! With tracing off, `parent = ..` and `links = ..` are not evaluated, and spans using them
//! allocate nothing. A counting global allocator counts the calling thread's allocations
//! (`counting::thread_allocations`; nothing here runs on another thread).

use std::cell::Cell;

use maestro_trace::otel::trace::SpanContext;
use maestro_trace::{span, traced, Span};
use maestro_trace_tests::counting::{thread_allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A parent that counts how often it is asked for.
fn counted_parent<'a>(job: &'a Span, runs: &Cell<usize>) -> &'a Span {
    runs.set(runs.get() + 1);
    job
}

/// Links that count how often they are asked for.
fn counted_links(runs: &Cell<usize>) -> Vec<SpanContext> {
    runs.set(runs.get() + 1);
    vec![SpanContext::empty_context()]
}

#[traced("run_training_job", kind = consumer, parent = counted_parent(job, runs), links = counted_links(runs))]
fn run_training_job(job: &Span, runs: &Cell<usize>) -> usize {
    1
}

#[test]
fn tracing_off_evaluates_no_parent_and_no_links() {
    let runs = Cell::new(0);
    let job = span!("train_model_job");
    // Warm up anything lazily initialised by the test harness itself.
    let _ = run_training_job(&job, &runs);

    let before = thread_allocations();
    let mut total = 0;
    for _ in 0..1_000 {
        total += run_training_job(&job, &runs);
        total += span!(
            "run_training_epoch",
            parent = counted_parent(&job, &runs),
            links = counted_links(&runs)
        )
        .in_scope(|| 1);
    }
    let allocated = thread_allocations() - before;
    assert_eq!(total, 2_000);
    assert_eq!(
        runs.get(),
        0,
        "parent and links expressions ran with tracing off"
    );
    assert_eq!(allocated, 0, "allocations with tracing off");
}
