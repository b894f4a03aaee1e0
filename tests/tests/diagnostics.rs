//! Self-diagnostics and the batch processor's bounds: every span is counted as exported or
//! dropped, a hung backend costs dropped spans (never a blocked caller or unbounded memory), and
//! an unreachable backend is reported once, not once per batch. `init` and the counters are
//! process-wide, so the tests here run one at a time.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use maestro_trace::sdk::error::{OTelSdkError, OTelSdkResult};
use maestro_trace::sdk::trace::{SpanData, SpanExporter};
use maestro_trace::{diagnostics, init, span, Diagnostics, TracingConfig};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The counters' change between two snapshots.
fn delta(before: &Diagnostics, after: &Diagnostics) -> Diagnostics {
    let mut d = after.clone();
    d.spans_queued -= before.spans_queued;
    d.spans_exported -= before.spans_exported;
    d.spans_dropped -= before.spans_dropped;
    d.spans_dropped_queue_full -= before.spans_dropped_queue_full;
    d.export_errors -= before.export_errors;
    d.export_timeouts -= before.export_timeouts;
    d
}

fn emit(count: i64) {
    for index in 0..count {
        span!("score_request", index = index).in_scope(|| ());
    }
}

#[derive(Clone, Debug, Default)]
struct Recorded(Arc<Mutex<usize>>);

impl SpanExporter for Recorded {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) += batch.len();
        Ok(())
    }
}

/// A backend that refuses every export.
#[derive(Debug)]
struct Refusing;

impl SpanExporter for Refusing {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        Err(OTelSdkError::InternalFailure(
            "connection refused by the test backend".into(),
        ))
    }
}

/// A backend that accepts the connection and never answers.
#[derive(Debug)]
struct Hanging;

impl SpanExporter for Hanging {
    async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        std::future::pending().await
    }
}

#[test]
fn every_span_of_a_healthy_pipeline_is_counted_as_exported() {
    let _serial = serial();
    let exporter = Recorded::default();
    let before = diagnostics();
    let guard = init(TracingConfig::default().span_exporter(exporter.clone())).expect("init");
    emit(700);
    guard.shutdown().expect("flush");
    let d = delta(&before, &diagnostics());
    assert_eq!(
        (d.spans_queued, d.spans_exported, d.spans_dropped),
        (700, 700, 0)
    );
    assert_eq!(
        *exporter.0.lock().unwrap_or_else(PoisonError::into_inner),
        700
    );
}

#[test]
fn failed_exports_count_their_spans_as_dropped_and_keep_the_error() {
    let _serial = serial();
    let before = diagnostics();
    let guard = init(
        TracingConfig::default()
            .span_exporter(Refusing)
            .batch_size(100),
    )
    .expect("init");
    emit(300);
    let _ = guard.shutdown();
    let d = delta(&before, &diagnostics());
    assert_eq!(d.spans_exported, 0);
    assert_eq!(d.spans_dropped, 300);
    // Batches that fill up are exported (and fail) one by one; what is still queued at
    // shutdown is dropped after the first failure instead of tried again.
    assert!((1..=3).contains(&d.export_errors), "{d:?}");
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|e| e.contains("connection refused by the test backend")),
        "{d:?}"
    );
}

#[test]
fn a_backend_that_never_answers_costs_dropped_spans_not_a_blocked_caller() {
    let _serial = serial();
    let before = diagnostics();
    let guard = init(
        TracingConfig::default()
            .span_exporter(Hanging)
            .batch_queue_size(64)
            .batch_size(16)
            .batch_delay(Duration::from_millis(10))
            .export_timeout(Duration::from_millis(100))
            .shutdown_timeout(Duration::from_millis(500)),
    )
    .expect("init");
    // The application keeps running at full speed while the backend hangs: this loop finishes
    // (on_end never waits), and what does not fit the queue is dropped and counted.
    emit(5_000);
    std::thread::sleep(Duration::from_millis(300)); // let at least one export time out
    let shutdown = guard.shutdown();
    assert!(shutdown.is_err(), "a hung backend makes shutdown report it");
    let d = delta(&before, &diagnostics());
    assert_eq!(d.spans_exported, 0);
    assert_eq!(
        d.spans_queued + d.spans_dropped_queue_full,
        5_000,
        "every span was either queued or refused: {d:?}"
    );
    assert!(
        d.spans_dropped_queue_full >= 5_000 - 64 - 2 * 16,
        "queue bounded: {d:?}"
    );
    assert!(
        d.export_timeouts >= 1,
        "the export timeout was honoured: {d:?}"
    );
}

#[test]
fn a_shutdown_that_gives_up_counts_what_it_left_behind_as_dropped() {
    let _serial = serial();
    let before = diagnostics();
    // The export timeout is far longer than the shutdown's: the shutdown cannot wait for the
    // hung export, and the spans in it and behind it must still be accounted for.
    let guard = init(
        TracingConfig::default()
            .span_exporter(Hanging)
            .batch_size(16)
            .batch_delay(Duration::from_millis(10))
            .export_timeout(Duration::from_secs(30))
            .shutdown_timeout(Duration::from_millis(300)),
    )
    .expect("init");
    emit(40);
    std::thread::sleep(Duration::from_millis(100)); // the first batch is now stuck exporting
    assert!(guard.shutdown().is_err(), "the shutdown gave up");
    let d = delta(&before, &diagnostics());
    assert_eq!(d.spans_queued, 40, "{d:?}");
    assert_eq!(d.spans_exported, 0, "{d:?}");
    assert_eq!(
        d.spans_dropped, 40,
        "every unexported span counted as dropped: {d:?}"
    );
}

#[test]
fn an_unreachable_backend_is_reported_once_not_once_per_batch() {
    let _serial = serial();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_emit_and_exit"))
        .arg("1000")
        .env_clear()
        .env("OTEL_SERVICE_NAME", "unreachable")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{closed}"),
        )
        .env("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "50")
        .env("OTEL_BSP_SCHEDULE_DELAY", "10")
        .output()
        .expect("run emit_and_exit");
    assert!(
        output.status.success(),
        "an unreachable backend never fails the program"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reports = stderr.matches("maestro-trace: exporting").count();
    assert_eq!(reports, 1, "one report for ~20 failed exports:\n{stderr}");
    assert!(stderr.contains("OTLP HTTP"), "{stderr}");
}

/// A server that accepts connections and never answers: the backend hangs mid-request.
fn silent_endpoint() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream); // keep it open, read nothing, answer nothing
        }
    });
    port
}

#[test]
fn an_endpoint_that_accepts_but_never_answers_is_bounded_by_the_export_timeout() {
    let _serial = serial();
    let port = silent_endpoint();
    for exporter in [
        maestro_trace::Exporter::otlp_http(format!("http://127.0.0.1:{port}")),
        maestro_trace::Exporter::JaegerCollector {
            endpoint: format!("http://127.0.0.1:{port}/api/traces"),
        },
    ] {
        let name = exporter.name();
        let before = diagnostics();
        let guard = init(
            TracingConfig::default()
                .exporter(exporter)
                .batch_delay(Duration::from_millis(20))
                .export_timeout(Duration::from_millis(300))
                .shutdown_timeout(Duration::from_secs(2)),
        )
        .expect("init");
        emit(50);
        std::thread::sleep(Duration::from_millis(700)); // the first export starts and hangs
                                                        // Shutdown must come back (with an error) instead of waiting on the silent backend.
        let (done, returned) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(guard.shutdown());
        });
        // (It returns an error if an export was still hanging then, `Ok` if the exporter's own
        // request timeout had already failed it: either way it returns.)
        let _shutdown = returned
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{name}: shutdown never returned"));
        let d = delta(&before, &diagnostics());
        assert_eq!(d.spans_queued, 50, "{name}: {d:?}");
        assert_eq!(d.spans_exported, 0, "{name}");
        assert_eq!(
            d.spans_dropped, 50,
            "{name}: every span accounted for: {d:?}"
        );
        assert!(d.export_errors >= 1, "{name}: the hang is counted: {d:?}");
        assert!(d.last_error.is_some(), "{name}: and described");
    }
}
