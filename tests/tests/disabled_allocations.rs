//! With tracing off, a `#[traced]` call, `span!`, `event!` and an instrumented future allocate
//! nothing. A counting global allocator counts the calling thread's allocations
//! (`counting::thread_allocations`; nothing here runs on another thread).

use std::future::Future;
use std::task::{Context, Poll, Waker};

use maestro_trace::{event, span, traced, TraceFutureExt};
use maestro_trace_tests::counting::{thread_allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[traced("score_request", attrs(model.id = model_id, batch = rows.len()))]
fn score(model_id: &str, rows: &[f64]) -> f64 {
    event!("scored", rows = rows.len());
    rows.iter().sum()
}

#[traced("fetch_features")]
async fn fetch(n: u64) -> u64 {
    n * 2
}

#[test]
fn tracing_off_allocates_nothing() {
    let rows = [0.5, 0.25];
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    // Warm up anything lazily initialised by the test harness itself.
    let _ = score("m", &rows);

    let before = thread_allocations();
    let mut total = 0.0;
    for _ in 0..1_000 {
        total += score("resnet", &rows);
        total += span!("normalize_batch", size = 2).in_scope(|| 1.0);
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
    assert_eq!(total, 1_000.0 * (0.75 + 1.0 + 42.0 + 1.0));
    assert_eq!(allocated, 0, "tracing off must not allocate");
}
