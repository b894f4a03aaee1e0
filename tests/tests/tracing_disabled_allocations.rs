//! With tracing off, a `tracing` span, event, enter and exit through a registry with
//! `maestro_trace::tracing::layer()` allocate nothing (once the registry is warm). A counting
//! global allocator counts the calling thread's allocations (`counting::thread_allocations`;
//! nothing here runs on another thread).

use maestro_trace::TracingConfig;
use maestro_trace_tests::counting::{thread_allocations, Counting};
use tracing_subscriber::layer::SubscriberExt as _;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[tracing::instrument(fields(model.id = "resnet", rows = 2_u64))]
fn score(batch: u64) -> u64 {
    tracing::info!(batch, "scored");
    tracing::info_span!("normalise", weight = 0.5).in_scope(|| batch * 2)
}

/// Allocations of 1,000 calls of [`score`] under `subscriber`, after a warm-up.
fn allocations_of(subscriber: impl tracing::Subscriber + Send + Sync) -> usize {
    tracing::subscriber::with_default(subscriber, || {
        let mut total = 0;
        for batch in 0..100 {
            total += score(batch);
        }
        let before = thread_allocations();
        for batch in 0..1_000 {
            total += score(batch);
        }
        let allocated = thread_allocations() - before;
        assert_eq!(total, 2 * (99 * 100 / 2 + 999 * 1_000 / 2));
        allocated
    })
}

#[test]
fn the_bridge_allocates_nothing_while_tracing_is_off() {
    // Once, not counted: what the first subscriber of the test sets up lazily.
    allocations_of(tracing_subscriber::registry().with(maestro_trace::tracing::layer()));
    // No pipeline installed yet.
    let uninstalled =
        allocations_of(tracing_subscriber::registry().with(maestro_trace::tracing::layer()));
    // Installed, but switched off (`TRACING_ENABLED=false`).
    let guard = maestro_trace::init(TracingConfig::default().enabled(false).no_exporter())
        .expect("a disabled pipeline");
    let disabled =
        allocations_of(tracing_subscriber::registry().with(maestro_trace::tracing::layer()));
    drop(guard);
    assert_eq!(
        uninstalled, 0,
        "no pipeline installed: the bridge allocates nothing"
    );
    assert_eq!(
        disabled, 0,
        "tracing disabled: the bridge allocates nothing"
    );
}
