//! The batch processor wakes its thread once per full batch, not once per span (so enqueueing a
//! span costs no system call): a full batch is exported at once, the rest waits for the delay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use maestro_trace::sdk::error::OTelSdkResult;
use maestro_trace::sdk::trace::{SpanData, SpanExporter};
use maestro_trace::{span, TracingConfig};

/// Counts the spans it is handed, with the time each batch arrived.
#[derive(Clone, Debug, Default)]
struct Recording {
    spans: Arc<AtomicUsize>,
    batches: Arc<Mutex<Vec<(usize, Instant)>>>,
}

impl SpanExporter for Recording {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.spans.fetch_add(batch.len(), Ordering::SeqCst);
        if let Ok(mut batches) = self.batches.lock() {
            batches.push((batch.len(), Instant::now()));
        }
        Ok(())
    }
}

#[test]
fn a_full_batch_is_exported_without_waiting_for_the_delay() {
    // The batching thread sleeps until the delay unless a full batch wakes it: with a one-minute
    // delay, only that wake-up can deliver these spans before the test gives up.
    let exporter = Recording::default();
    let guard = maestro_trace::init(
        TracingConfig::default()
            .service_name("hot-path-test")
            .batch_delay(Duration::from_secs(60))
            .batch_size(10)
            .span_exporter(exporter.clone()),
    )
    .expect("init");
    let started = Instant::now();
    for i in 0..25 {
        span!("batch_item", item = i).in_scope(|| ());
    }
    let deadline = started + Duration::from_secs(20);
    while exporter.spans.load(Ordering::SeqCst) < 20 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let batches = exporter.batches.lock().expect("batches").clone();
    assert_eq!(
        batches.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [10, 10],
        "two full batches exported before the delay; the last 5 spans wait for it"
    );
    // The remaining 5 go out with the shutdown flush.
    guard.shutdown().expect("shutdown");
    assert_eq!(exporter.spans.load(Ordering::SeqCst), 25);
}
