//! Under a parent-based sampler, a child of an unsampled parent is never built: a `#[traced]` call,
//! `span!` and an instrumented future inside an unsampled request allocate nothing and evaluate no
//! attribute expression. A counting global allocator counts the calling thread's allocations
//! (`counting::thread_allocations`; nothing here runs on another thread).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use maestro_trace::sdk::trace::Sampler;
use maestro_trace::{span, traced, TraceFutureExt};
use maestro_trace_tests::counting::{thread_allocations, Counting};

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

#[global_allocator]
static GLOBAL: Counting = Counting;

/// An attribute value that counts its own evaluation.
fn model_name() -> &'static str {
    EVALUATED.fetch_add(1, Ordering::SeqCst);
    "resnet50"
}

#[traced("score_request", attrs(model.name = model_name(), batch.size = rows.len()))]
fn score(rows: &[f64]) -> f64 {
    rows.iter().sum()
}

#[traced("fetch_features", attrs(model.name = model_name()))]
async fn fetch(n: u64) -> u64 {
    n * 2
}

#[test]
fn children_of_an_unsampled_parent_allocate_nothing_and_evaluate_nothing() {
    let capture = maestro_trace::testing::capture_with_sampler(Sampler::ParentBased(Box::new(
        Sampler::AlwaysOff,
    )));
    let rows = [0.5, 0.25];
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);

    let request = span!("handle_request");
    assert!(!request.is_recording(), "the root must be unsampled");
    let request_trace = request.trace_id();
    assert!(
        request_trace.is_some(),
        "an unsampled root still has a trace id"
    );

    let (allocated, total, inner_trace) = request.in_scope(|| {
        // Warm up what the first call initialises lazily (the thread's context stack).
        let _ = score(&rows);
        EVALUATED.store(0, Ordering::SeqCst);

        let before = thread_allocations();
        let mut total = 0.0;
        for _ in 0..1_000 {
            total += score(&rows);
            total += span!("normalize_batch", model.name = model_name()).in_scope(|| 1.0);
            let mut future = std::pin::pin!(fetch(21));
            if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                total += v as f64;
            }
            let mut manual = std::pin::pin!(async { 1.0 }.in_span(span!("manual_future_step")));
            if let Poll::Ready(v) = manual.as_mut().poll(&mut cx) {
                total += v;
            }
        }
        let allocated = thread_allocations() - before;
        // The skipped child carries the parent's context on: same trace, not sampled.
        let inner = span!("inner_step");
        (allocated, total, inner.trace_id())
    });
    assert_eq!(total, 1_000.0 * (0.75 + 1.0 + 42.0 + 1.0));
    assert_eq!(
        allocated, 0,
        "children of an unsampled parent must not allocate"
    );
    assert_eq!(
        EVALUATED.load(Ordering::SeqCst),
        0,
        "no attribute expression evaluated"
    );
    assert_eq!(
        inner_trace, request_trace,
        "children stay in the parent's trace"
    );
    assert!(capture.spans().is_empty(), "nothing unsampled is exported");
}
