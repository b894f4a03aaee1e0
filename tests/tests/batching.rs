//! The batch processor keeps an open batch per thread and hands it over once full (so ending a
//! span costs no system call and no shared write): a full batch is exported at once, the rest
//! waits for the delay, whichever thread it ended on, idle, exited or still running. `init` is
//! process-wide, so the tests here run one at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recording {
    fn exported(&self) -> usize {
        self.spans.load(Ordering::SeqCst)
    }

    /// Waits until `spans` were exported, at most 20 s; the count then.
    fn wait_for(&self, spans: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.exported() < spans && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.exported()
    }
}

fn pipeline(exporter: &Recording, delay: Duration) -> maestro_trace::TracingGuard {
    maestro_trace::init(
        TracingConfig::default()
            .service_name("batching-test")
            .batch_delay(delay)
            .span_exporter(exporter.clone()),
    )
    .expect("init")
}

/// Ends `spans` spans on a new thread, which then waits for `release` before it exits; returns
/// once the spans have ended.
fn worker(spans: usize, release: mpsc::Receiver<()>) -> std::thread::JoinHandle<()> {
    let (ended, done) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        for i in 0..spans {
            span!("worker_item", item = i as i64).in_scope(|| ());
        }
        let _ = ended.send(());
        let _ = release.recv();
    });
    done.recv().expect("the worker ends its spans");
    worker
}

#[test]
fn a_full_batch_is_exported_without_waiting_for_the_delay() {
    let _serial = serial();
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

#[test]
fn the_partial_batch_of_a_thread_gone_idle_is_exported_after_the_delay() {
    let _serial = serial();
    let exporter = Recording::default();
    let guard = pipeline(&exporter, Duration::from_millis(200));
    let (release, idle) = mpsc::channel();
    let worker = worker(3, idle);
    // The worker ends no further span: only the batching thread can take its 3 spans.
    assert_eq!(
        exporter.wait_for(3),
        3,
        "the idle thread's spans are exported"
    );
    release.send(()).expect("the worker waits");
    worker.join().expect("worker");
    guard.shutdown().expect("shutdown");
    assert_eq!(exporter.exported(), 3, "and exported once");
}

#[test]
fn a_shutdown_delivers_the_spans_of_running_and_exited_threads() {
    let _serial = serial();
    let exporter = Recording::default();
    // A delay no test waits for: only the shutdown can deliver these spans.
    let guard = pipeline(&exporter, Duration::from_secs(60));
    let (release, running) = mpsc::channel();
    let still_running = worker(7, running);
    let (hang_up, exits) = mpsc::channel();
    drop(hang_up);
    worker(5, exits).join().expect("exited worker");
    span!("main_item").in_scope(|| ());
    assert_eq!(
        exporter.exported(),
        0,
        "nothing is exported before the delay"
    );
    // Shut down from yet another thread than the ones that ended the spans.
    std::thread::spawn(move || guard.shutdown())
        .join()
        .expect("shutdown thread")
        .expect("shutdown");
    assert_eq!(
        exporter.exported(),
        7 + 5 + 1,
        "every span ended before the shutdown"
    );
    // A span that ends after the shutdown is not exported (it is counted as dropped).
    span!("after_shutdown").in_scope(|| ());
    release.send(()).expect("the worker waits");
    still_running.join().expect("running worker");
    assert_eq!(exporter.exported(), 13);
}

/// Holds every export until the gate opens.
#[derive(Clone, Debug, Default)]
struct Gated {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    inner: Recording,
}

impl Gated {
    fn open(&self) {
        let (open, opened) = &*self.open;
        *open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        opened.notify_all();
    }

    fn wait_open(&self) {
        let (open, opened) = &*self.open;
        let mut is_open = open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*is_open {
            is_open = opened.wait(is_open).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl SpanExporter for Gated {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.wait_open();
        self.inner.export(batch).await
    }
}

#[test]
fn spans_past_a_full_ring_wait_in_the_queue_while_the_export_is_held_up() {
    let _serial = serial();
    let before = maestro_trace::diagnostics();
    let exporter = Gated::default();
    let guard = maestro_trace::init(
        TracingConfig::default()
            .service_name("batching-test")
            .batch_size(10)
            .batch_queue_size(1000)
            .span_exporter(exporter.clone()),
    )
    .expect("init");
    // A thread's ring holds an eighth of the queue (125 spans), and the first export blocks
    // the batching thread: 10 are in that export, the ring fills, and the rest wait in the
    // queue.
    for i in 0..300 {
        span!("held_up", item = i).in_scope(|| ());
    }
    exporter.open();
    guard.shutdown().expect("shutdown");
    let after = maestro_trace::diagnostics();
    assert_eq!(
        exporter.inner.exported(),
        300,
        "no span is lost behind the held-up export"
    );
    assert_eq!(after.spans_dropped, before.spans_dropped);
    assert_eq!(after.spans_queued - before.spans_queued, 300);
}
