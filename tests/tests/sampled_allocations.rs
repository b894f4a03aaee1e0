//! Behind the batch processor, a sampled span's attributes cost the thread that records them no
//! allocation once it has spare buffers: the batching thread copies the attributes out and sends
//! each span's buffer back, and strings of up to 23 bytes are copied into the attribute itself.
//! What arrives at the exporter is what was recorded, short, long and multi-byte strings alike.
//! A counting global allocator counts each thread's allocations; `init` is process-wide, so the
//! tests here run one at a time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use maestro_trace::otel::Value;
use maestro_trace::sdk::error::OTelSdkResult;
use maestro_trace::sdk::trace::{SpanData, SpanExporter};
use maestro_trace::{span_attrs, traced, TracingConfig};
use maestro_trace_tests::counting::{thread_allocations, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Keeps every span it is handed.
#[derive(Clone, Debug, Default)]
struct Keep {
    spans: Arc<Mutex<Vec<SpanData>>>,
    count: Arc<AtomicUsize>,
}

impl Keep {
    /// Waits (at most 20 s) until `spans` spans have arrived; returns how many did.
    fn wait_for(&self, spans: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.count.load(Ordering::SeqCst) < spans && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.count.load(Ordering::SeqCst)
    }

    fn spans(&self) -> Vec<SpanData> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SpanExporter for Keep {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let arrived = batch.len();
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        self.count.fetch_add(arrived, Ordering::SeqCst);
        Ok(())
    }
}

/// Full batches of 8 spans are exported at once, so no test waits for the delay.
fn pipeline(exporter: &Keep) -> maestro_trace::TracingGuard {
    let config = TracingConfig::default()
        .service_name("allocations-test")
        .batch_size(8)
        .batch_delay(Duration::from_secs(60))
        .span_exporter(exporter.clone());
    maestro_trace::init(config).expect("init")
}

#[span_attrs(prefix = "model")]
struct Model {
    id: String,
    framework: String,
    version: i64,
    accuracy: f64,
    production: bool,
}

fn model() -> Model {
    Model {
        id: "resnet50-v2".into(),
        framework: "pytorch".into(),
        version: 3,
        accuracy: 0.93,
        production: true,
    }
}

#[traced("plain")]
fn plain() -> u64 {
    std::hint::black_box(1)
}

#[traced("score_request", attrs(model))]
fn score(model: &Model) -> u64 {
    std::hint::black_box(model.version as u64)
}

/// The allocations one call of `f` makes on this thread.
fn allocations_of(f: impl FnOnce() -> u64) -> usize {
    let before = thread_allocations();
    std::hint::black_box(f());
    thread_allocations() - before
}

#[test]
fn attributes_cost_the_recording_thread_no_allocation_once_buffers_come_back() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let exporter = Keep::default();
    let guard = pipeline(&exporter);
    let model = model();
    let measured = std::thread::spawn(move || {
        // A new thread has no spare buffer: its first span with attributes allocates one.
        let _ = allocations_of(plain);
        let first_plain = allocations_of(plain);
        let first_scored = allocations_of(|| score(&model));
        for _ in 0..61 {
            score(&model);
        }
        // 64 spans, 8 full batches: their buffers are on their way back once they arrive.
        let arrived = exporter.wait_for(64);
        // This span's end takes the returned buffers as the thread's spares.
        plain();
        let later: Vec<(usize, usize)> = (0..8)
            .map(|_| (allocations_of(plain), allocations_of(|| score(&model))))
            .collect();
        (first_plain, first_scored, arrived, later)
    })
    .join()
    .expect("measuring thread");
    let (first_plain, first_scored, arrived, later) = measured;
    assert_eq!(arrived, 64, "every span reached the exporter");
    assert_eq!(
        first_scored,
        first_plain + 1,
        "without spares, the 5 attributes cost one buffer (the 2 strings are inline)"
    );
    for (plain, scored) in later {
        assert_eq!(
            scored, plain,
            "with spares, 5 attributes cost the recording thread nothing"
        );
    }
    guard.shutdown().expect("shutdown");
}

#[traced("texts", attrs(short = short, limit = limit, long = long, unicode = unicode, count = 7_i64))]
fn texts(short: &str, limit: &str, long: &str, unicode: &str) {}

#[test]
fn recorded_strings_reach_the_exporter_as_they_were() {
    let _serial = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let exporter = Keep::default();
    let guard = pipeline(&exporter);
    // 23 bytes is the longest inline string; 24 is kept as a string of its own.
    let limit = "x".repeat(23);
    let long = "y".repeat(24);
    // 22 bytes of 2-byte characters and 1 of a 1-byte one: inline, cut nowhere.
    let unicode = format!("{}z", "é".repeat(11));
    for _ in 0..8 {
        texts("ok", &limit, &long, &unicode);
    }
    assert_eq!(exporter.wait_for(8), 8);
    for span in exporter.spans() {
        let values: Vec<(String, Value)> = span
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.clone()))
            .collect();
        assert_eq!(
            values,
            vec![
                ("short".to_owned(), Value::from("ok")),
                ("limit".to_owned(), Value::from(limit.clone())),
                ("long".to_owned(), Value::from(long.clone())),
                ("unicode".to_owned(), Value::from(unicode.clone())),
                ("count".to_owned(), Value::I64(7)),
            ]
        );
    }
    guard.shutdown().expect("shutdown");
}
