//! Backend outages and shutdown, end to end (reliability items 1 and 2).
//!
//! The ML API example (`examples/ml_api.rs`) runs as its own process, configured only through its
//! environment, under steady loopback load (`POST /models` from a few client threads, five
//! spans per request), while the real Jaeger it exports to is killed and restarted on the same
//! ports, frozen (its ports accept connections, nothing answers) and thawed, or down under the
//! UDP transport; and it is stopped with SIGTERM while Jaeger is up or down. The service writes
//! its export counters when it stops, and every test checks that they account for each span its
//! requests created. Each test prints what it measured (`-- --nocapture`); RELIABILITY.md quotes
//! those figures.
//!
//! Timing is never asserted tightly (the machine is shared and small): latency is bounded by
//! the export timeout, a structural fact (no request waits on an export), and memory by a bound
//! derived from the queue size, far below what keeping the outage's spans would cost.

use std::net::SocketAddr;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use maestro_trace_tests::jaeger::{self, Jaeger};
use maestro_trace_tests::ml_api::MlApi;

/// Spans per `POST /models`: the server span, `validate_model`, `save_to_database`, and under it
/// the statement's `INSERT models` with its `acquire_connection`.
const SPANS_PER_REQUEST: u64 = 5;
/// Concurrent client loops.
const LOADERS: usize = 4;
/// The service's span queue (`OTEL_BSP_MAX_QUEUE_SIZE`): small, so that the memory bound it
/// implies is measurable.
const QUEUE_SIZE: u64 = 256;
/// Spans per export (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
const BATCH_SIZE: u64 = 64;
/// How long the batch processor waits for one export (`OTEL_BSP_EXPORT_TIMEOUT`).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(1);
/// The model name each request carries (KiB), recorded on its server span as `model.name`:
/// every server span then weighs several KiB, so keeping an outage's spans would show in memory.
const MODEL_NAME_KIB: u64 = 8;
/// `maestro_trace`'s default shutdown timeout, which the ML API keeps.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The service name the ML API sets in code.
const SERVICE: &str = "maestro-ml-api";
/// Requests sent just before SIGTERM, which the shutdown flush must deliver.
const FINAL_REQUESTS: u64 = 200;
/// An outage lasts at least this long, and until this many requests were sent during it (a
/// slower machine gets a longer outage, so that enough spans are dropped for the memory bound to
/// mean something).
const MIN_OUTAGE: Duration = Duration::from_secs(4);
const MIN_OUTAGE_REQUESTS: u64 = 2_000;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---- the ML API process ---------------------------------------------------------------------

/// The export counters the service writes when it stops (`Diagnostics`' `key=value` line).
#[derive(Debug, Default)]
struct ExportCounters {
    spans_queued: u64,
    spans_exported: u64,
    spans_dropped: u64,
    spans_dropped_queue_full: u64,
    export_errors: u64,
    export_timeouts: u64,
}

impl ExportCounters {
    fn parse(stderr: &str) -> ExportCounters {
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix("maestro-ml-api: trace export: "))
            .unwrap_or_else(|| panic!("the service wrote no export counters:\n{stderr}"));
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        ExportCounters {
            spans_queued: field("spans_queued"),
            spans_exported: field("spans_exported"),
            spans_dropped: field("spans_dropped"),
            spans_dropped_queue_full: field("spans_dropped_queue_full"),
            export_errors: field("export_errors"),
            export_timeouts: field("export_timeouts"),
        }
    }
}

/// How the service ended after SIGTERM.
#[derive(Debug)]
struct Stopped {
    status: ExitStatus,
    /// From SIGTERM to exit.
    took: Duration,
    stderr: String,
    counters: ExportCounters,
}

/// What the tests observe of the running service beside its requests.
trait Observed {
    /// A field of `/proc/PID/status` in KiB (`VmRSS`: now, `VmHWM`: the peak so far).
    fn memory_kib(&self, field: &str) -> u64;
    /// Waits `duration`, sampling the resident memory every 50 ms; returns the highest sample.
    fn watch_memory(&self, duration: Duration) -> u64;
    /// Sends SIGTERM (the service finishes its requests, flushes, writes its counters, exits)
    /// and waits for the exit.
    fn terminate(&mut self) -> Stopped;
}

impl Observed for MlApi {
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the service's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    fn watch_memory(&self, duration: Duration) -> u64 {
        let end = Instant::now() + duration;
        let mut peak = self.memory_kib("VmRSS");
        while Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
            peak = peak.max(self.memory_kib("VmRSS"));
        }
        peak
    }

    fn terminate(&mut self) -> Stopped {
        let pid = self.pid().to_string();
        let signalled = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(signalled.success(), "kill -TERM {pid}");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.try_wait() {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the service did not exit within 60 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = start.elapsed();
        let stderr = self.log();
        let counters = ExportCounters::parse(&stderr);
        Stopped {
            status,
            took,
            stderr,
            counters,
        }
    }
}

/// The service's environment: the batch settings every test uses, plus `transport`.
fn service_env(transport: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("OTEL_BSP_MAX_QUEUE_SIZE", QUEUE_SIZE.to_string()),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", BATCH_SIZE.to_string()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        (
            "OTEL_BSP_EXPORT_TIMEOUT",
            EXPORT_TIMEOUT.as_millis().to_string(),
        ),
        // The OTLP client's own timeout is longer: the batch processor's is the one tested.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000".to_owned()),
    ];
    env.extend(transport.iter().cloned());
    env
}

fn otlp_grpc(jaeger: &Jaeger) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_grpc.clone()),
    ]
}

fn jaeger_udp(jaeger: &Jaeger) -> Vec<(&'static str, String)> {
    // The Jaeger agent variables: with OTEL_TRACES_EXPORTER unset they select the UDP agent transport.
    vec![
        ("JAEGER_AGENT_HOST", jaeger.agent_udp.ip().to_string()),
        ("JAEGER_AGENT_PORT", jaeger.agent_udp.port().to_string()),
    ]
}

// ---- load -------------------------------------------------------------------------------------

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// What one phase of load saw.
#[derive(Debug, Default)]
struct PhaseStats {
    sent: u64,
    failed: u64,
    first_failure: Option<String>,
    latencies: Vec<Duration>,
}

impl PhaseStats {
    fn record(&mut self, outcome: Result<Duration, String>) {
        self.sent += 1;
        match outcome {
            Ok(latency) => self.latencies.push(latency),
            Err(error) => {
                self.failed += 1;
                self.first_failure.get_or_insert(error);
            }
        }
    }

    fn merge(&mut self, other: PhaseStats) {
        self.sent += other.sent;
        self.failed += other.failed;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.latencies.extend(other.latencies);
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1);
        sorted.get(index).copied().unwrap_or_default()
    }

    fn summary(&self) -> String {
        format!(
            "{} sent, {} failed, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.sent,
            self.failed,
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.percentile(1.0)),
        )
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One `POST /models` as tenant `tenant` (recorded as `tenant.id` on the server span, which is
/// how the tests find a phase's traces in Jaeger). The model id is per client loop, so the
/// service's store stays the same size however long the load runs.
fn create_model(
    client: &reqwest::blocking::Client,
    address: SocketAddr,
    body: &str,
    tenant: &str,
) -> Result<Duration, String> {
    let start = Instant::now();
    let response = client
        .post(format!("http://{address}/models"))
        .header("content-type", "application/json")
        .header("x-tenant-id", tenant)
        .body(body.to_owned())
        .send()
        .map_err(|e| e.to_string())?;
    let status = response.status();
    response.bytes().map_err(|e| e.to_string())?;
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("status {status}"));
    }
    Ok(start.elapsed())
}

fn model_body(loader: usize) -> String {
    serde_json::json!({
        "id": format!("churn-predictor-{loader}"),
        "name": "churn-predictor ".repeat(MODEL_NAME_KIB as usize * 1024 / 16),
        "type": "classification",
        "version": "v1.3",
        "framework": "pytorch",
    })
    .to_string()
}

/// Client loops sending requests back to back until finished, each request tagged with the
/// phase it was sent in.
struct Load {
    phase: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    /// Requests sent so far, per phase.
    sent: Arc<Vec<AtomicU64>>,
    loaders: Vec<JoinHandle<Vec<PhaseStats>>>,
}

impl Load {
    fn start(address: SocketAddr, phases: &'static [&'static str]) -> Load {
        let phase = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let sent: Arc<Vec<AtomicU64>> =
            Arc::new(phases.iter().map(|_| AtomicU64::new(0)).collect());
        let loaders = (0..LOADERS)
            .map(|loader| {
                let (phase, stop, sent) = (phase.clone(), stop.clone(), sent.clone());
                std::thread::spawn(move || {
                    let client = http_client();
                    let body = model_body(loader);
                    let mut stats: Vec<PhaseStats> =
                        phases.iter().map(|_| PhaseStats::default()).collect();
                    while !stop.load(Ordering::Relaxed) {
                        let current = phase.load(Ordering::Relaxed);
                        let outcome = create_model(&client, address, &body, phases[current]);
                        stats[current].record(outcome);
                        sent[current].fetch_add(1, Ordering::Relaxed);
                    }
                    stats
                })
            })
            .collect();
        Load {
            phase,
            stop,
            sent,
            loaders,
        }
    }

    fn enter(&self, phase: usize) {
        self.phase.store(phase, Ordering::Relaxed);
    }

    fn sent_in(&self, phase: usize) -> u64 {
        self.sent[phase].load(Ordering::Relaxed)
    }

    /// Stops the loops (closing their connections) and returns each phase's figures.
    fn finish(self) -> Vec<PhaseStats> {
        self.stop.store(true, Ordering::Relaxed);
        let mut total: Vec<PhaseStats> = Vec::new();
        for loader in self.loaders {
            let stats = loader.join().expect("a client loop panicked");
            if total.is_empty() {
                total = stats;
            } else {
                for (sum, phase) in total.iter_mut().zip(stats) {
                    sum.merge(phase);
                }
            }
        }
        total
    }
}

/// Sends exactly `count` requests as `tenant` from the client loops, then closes them.
fn send(address: SocketAddr, tenant: &'static str, count: u64) -> PhaseStats {
    let left = Arc::new(AtomicU64::new(count));
    let loaders: Vec<_> = (0..LOADERS)
        .map(|loader| {
            let left = left.clone();
            std::thread::spawn(move || {
                let client = http_client();
                let body = model_body(loader);
                let mut stats = PhaseStats::default();
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    stats.record(create_model(&client, address, &body, tenant));
                }
                stats
            })
        })
        .collect();
    let mut total = PhaseStats::default();
    for loader in loaders {
        total.merge(loader.join().expect("a client loop panicked"));
    }
    total
}

// ---- Jaeger -------------------------------------------------------------------------------------

/// The traces of `tenant`'s requests stored in `jaeger`, and their spans.
fn stored(jaeger: &Jaeger, tenant: &str) -> (usize, usize) {
    let traces = jaeger.find_traces(SERVICE, &[("tenant.id", tenant)]);
    let spans = traces.iter().map(|t| jaeger::spans_of(t).len()).sum();
    (traces.len(), spans)
}

/// Polls until `tenant` has at least `traces` traces in Jaeger; returns how long that took.
fn wait_for_traces(jaeger: &Jaeger, tenant: &str, traces: usize, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (found, _) = stored(jaeger, tenant);
        if found >= traces {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{found} of {traces} traces of tenant {tenant} in Jaeger after {within:?}\nJaeger log:\n{}",
            jaeger.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---- the outage scenario ---------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Outage {
    /// Jaeger killed (ports closed), then restarted on the same ports, empty.
    Killed,
    /// Jaeger frozen (ports accept, nothing answers), then thawed.
    Frozen,
}

const PHASES: &[&str] = &["before-outage", "during-outage", "after-recovery"];

/// What one outage run measured.
#[derive(Debug)]
struct OutageRun {
    phases: Vec<PhaseStats>,
    last: PhaseStats,
    /// Resident memory in KiB: the highest sample before the outage, during it, after it, and
    /// the process's peak (`VmHWM`).
    rss_before: u64,
    rss_during: u64,
    rss_after: u64,
    rss_peak: u64,
    /// How long the outage lasted.
    outage_for: Duration,
    /// From Jaeger being back to the first new request's trace found in it.
    recovery: Duration,
    stopped: Stopped,
    /// Traces and spans of the last requests Jaeger holds after the shutdown flush.
    delivered: (usize, usize),
}

/// Runs the ML API under load against `jaeger`: before the outage, during it (see
/// [`MIN_OUTAGE`]), after Jaeger is back (until a new request's trace arrives), then a fixed
/// number of requests and SIGTERM.
fn run_outage(
    jaeger: &mut Jaeger,
    transport: Vec<(&'static str, String)>,
    outage: Outage,
) -> OutageRun {
    let mut api = MlApi::start(&service_env(&transport));
    let load = Load::start(api.address, PHASES);

    let rss_before = api.watch_memory(Duration::from_secs(2));
    wait_for_traces(jaeger, PHASES[0], 1, Duration::from_secs(20));

    match outage {
        Outage::Killed => jaeger.stop(),
        Outage::Frozen => jaeger.pause(),
    }
    load.enter(1);
    let started = Instant::now();
    let mut rss_during = 0;
    while started.elapsed() < MIN_OUTAGE || load.sent_in(1) < MIN_OUTAGE_REQUESTS {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "only {} requests in 30 s of outage",
            load.sent_in(1)
        );
        rss_during = rss_during.max(api.watch_memory(Duration::from_millis(250)));
    }
    let outage_for = started.elapsed();

    match outage {
        Outage::Killed => jaeger.restart(),
        Outage::Frozen => jaeger.resume(),
    }
    load.enter(2);
    let recovery = wait_for_traces(jaeger, PHASES[2], 1, Duration::from_secs(30));
    let rss_after = api.watch_memory(Duration::from_millis(500));
    let phases = load.finish();

    let last = send(api.address, "before-shutdown", FINAL_REQUESTS);
    let rss_peak = api.memory_kib("VmHWM");
    let stopped = api.terminate();
    wait_for_traces(
        jaeger,
        "before-shutdown",
        FINAL_REQUESTS as usize,
        Duration::from_secs(20),
    );
    let delivered = stored(jaeger, "before-shutdown");
    OutageRun {
        phases,
        last,
        rss_before,
        rss_during,
        rss_after,
        rss_peak,
        outage_for,
        recovery,
        stopped,
        delivered,
    }
}

impl OutageRun {
    fn sent(&self) -> u64 {
        self.phases.iter().map(|p| p.sent).sum::<u64>() + self.last.sent
    }

    fn print(&self, name: &str) {
        let c = &self.stopped.counters;
        eprintln!("== {name}");
        for (label, phase) in PHASES.iter().zip(&self.phases) {
            eprintln!("  {label:<15} {}", phase.summary());
        }
        eprintln!("  before-shutdown {}", self.last.summary());
        eprintln!(
            "  requests: {} sent, {} failed; spans: {} created, {} exported, {} dropped ({} queue full); exports: {} failed, {} timed out",
            self.sent(),
            self.phases.iter().map(|p| p.failed).sum::<u64>() + self.last.failed,
            self.sent() * SPANS_PER_REQUEST,
            c.spans_exported,
            c.spans_dropped,
            c.spans_dropped_queue_full,
            c.export_errors,
            c.export_timeouts,
        );
        eprintln!(
            "  RSS: {:.1} MiB before, {:.1} MiB peak during the {:.1} s outage (+{:.1} MiB), {:.1} MiB after; VmHWM {:.1} MiB",
            mib(self.rss_before),
            mib(self.rss_during),
            self.outage_for.as_secs_f64(),
            mib(self.rss_during.saturating_sub(self.rss_before)),
            mib(self.rss_after),
            mib(self.rss_peak),
        );
        eprintln!(
            "  recovery: a new request's trace in Jaeger {:.0} ms after it was back; shutdown: exit code {} in {:.0} ms, {}/{} traces ({} spans) of the last requests delivered",
            ms(self.recovery),
            exit_code(self.stopped.status),
            ms(self.stopped.took),
            self.delivered.0,
            FINAL_REQUESTS,
            self.delivered.1,
        );
    }

    /// What every outage must show, whatever the transport.
    fn assert_reliable(&self) {
        for (label, phase) in PHASES.iter().zip(&self.phases) {
            assert_eq!(
                phase.failed, 0,
                "{label}: no request fails: {:?}",
                phase.first_failure
            );
        }
        assert_eq!(self.last.failed, 0, "{:?}", self.last.first_failure);

        // Latency is not tied to the exporter: no request waits on an export. Were each to
        // wait one export timeout, the outage could have served at most this many requests;
        // it serves far more, and 99% of them in well under one export timeout.
        let during = &self.phases[1];
        let if_blocked =
            (LOADERS as f64 * self.outage_for.as_secs_f64() / EXPORT_TIMEOUT.as_secs_f64()) as u64;
        assert!(
            during.sent >= 10 * if_blocked,
            "{} requests during the outage, not far above the {if_blocked} possible if each waited on an export",
            during.sent
        );
        assert!(
            during.percentile(0.99) < EXPORT_TIMEOUT,
            "p99 latency during the outage {:?} reaches the export timeout",
            during.percentile(0.99)
        );

        // Every span is accounted for: queued or refused by the full queue when it ended,
        // then exported or counted as dropped.
        let created = self.sent() * SPANS_PER_REQUEST;
        let c = &self.stopped.counters;
        assert_eq!(
            c.spans_queued + c.spans_dropped_queue_full,
            created,
            "{c:?}"
        );
        assert_eq!(c.spans_exported + c.spans_dropped, created, "{c:?}");
        assert!(
            c.spans_dropped > 0 && c.export_errors > 0,
            "the outage shows in the counters: {c:?}"
        );

        // Memory is bounded by the queue, not by the outage. The bound: the queue and the two
        // batches that may be in flight, each span counted at twice the model name it may
        // carry, plus 4 MiB of allocator slack. Keeping the spans the outage dropped would cost
        // more than that bound: at least the model name of every dropped server span.
        let bound_kib = (QUEUE_SIZE + 2 * BATCH_SIZE) * 2 * MODEL_NAME_KIB + 4 * 1024;
        let kept_kib = c.spans_dropped / SPANS_PER_REQUEST * MODEL_NAME_KIB;
        assert!(
            kept_kib > bound_kib,
            "the outage is long enough for the bound to mean something: the dropped spans hold {kept_kib} KiB, the bound is {bound_kib} KiB"
        );
        let growth = self.rss_during.saturating_sub(self.rss_before);
        assert!(
            growth < bound_kib,
            "RSS grew {growth} KiB during the outage, over the {bound_kib} KiB bound"
        );

        // Spans flow again without restarting the service, and its shutdown flush delivers
        // every span of the last requests, within the shutdown timeout.
        assert!(
            self.stopped.status.success(),
            "shutdown with Jaeger up succeeds:\n{}",
            self.stopped.stderr
        );
        assert!(
            self.stopped.took < SHUTDOWN_TIMEOUT,
            "shutdown took {:?}",
            self.stopped.took
        );
        assert_eq!(
            self.delivered,
            (
                FINAL_REQUESTS as usize,
                (FINAL_REQUESTS * SPANS_PER_REQUEST) as usize
            ),
            "every span of the last requests reached Jaeger"
        );
    }
}

fn exit_code(status: ExitStatus) -> String {
    status
        .code()
        .map_or_else(|| "none (killed by a signal)".to_owned(), |c| c.to_string())
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[test]
fn jaeger_killed_and_restarted_under_load_costs_counted_spans_only_and_spans_flow_again() {
    let _serial = serial();
    let mut jaeger = Jaeger::start();
    let transport = otlp_grpc(&jaeger);
    let run = run_outage(&mut jaeger, transport, Outage::Killed);
    run.print("OTLP gRPC, Jaeger killed and restarted");
    run.assert_reliable();
}

#[test]
fn jaeger_frozen_under_load_is_bounded_by_the_export_timeout_and_spans_flow_again() {
    let _serial = serial();
    let mut jaeger = Jaeger::start();
    let transport = otlp_grpc(&jaeger);
    let run = run_outage(&mut jaeger, transport, Outage::Frozen);
    run.print("OTLP gRPC, Jaeger frozen (accepts, never answers) and thawed");
    run.assert_reliable();
    let c = &run.stopped.counters;
    assert!(
        c.export_timeouts >= 1,
        "exports were abandoned after the export timeout: {c:?}"
    );
    assert!(
        c.spans_dropped_queue_full > 0,
        "the queue filled while the export hung, and dropped instead of growing: {c:?}"
    );
}

#[test]
fn jaeger_down_under_the_udp_agent_transport_costs_counted_spans_only_and_spans_flow_again() {
    let _serial = serial();
    let mut jaeger = Jaeger::start();
    let transport = jaeger_udp(&jaeger);
    let run = run_outage(&mut jaeger, transport, Outage::Killed);
    run.print("Jaeger agent UDP, Jaeger killed and restarted");
    run.assert_reliable();
}

/// Item 2: stopped while Jaeger is down, the service still exits, within the shutdown timeout,
/// and says the flush failed. Spans are still queued at SIGTERM (the batch delay is long), so
/// the shutdown has something to flush; the export timeout is longer than the shutdown timeout,
/// so only the shutdown timeout can end the wait on a frozen Jaeger.
#[test]
fn stopping_the_service_while_jaeger_is_down_returns_within_the_shutdown_timeout_with_an_error() {
    let _serial = serial();
    for outage in [Outage::Killed, Outage::Frozen] {
        let mut jaeger = Jaeger::start();
        let mut env = service_env(&otlp_grpc(&jaeger));
        env.extend([
            ("OTEL_BSP_SCHEDULE_DELAY", "60000".to_owned()),
            ("OTEL_BSP_EXPORT_TIMEOUT", "30000".to_owned()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "60000".to_owned()),
        ]);
        let mut api = MlApi::start(&env);
        match outage {
            Outage::Killed => jaeger.stop(),
            Outage::Frozen => jaeger.pause(),
        }
        // Fewer spans than a batch: all of them wait in the queue for the shutdown flush.
        let requests = (BATCH_SIZE - 1) / SPANS_PER_REQUEST;
        let sent = send(api.address, "jaeger-down", requests);
        let stopped = api.terminate();
        let c = &stopped.counters;
        eprintln!(
            "== shutdown with Jaeger {outage:?}: {}; exit code {} {:.0} ms after SIGTERM (shutdown timeout {:?}); spans: {} queued, {} exported, {} dropped; stderr:\n{}",
            sent.summary(),
            exit_code(stopped.status),
            ms(stopped.took),
            SHUTDOWN_TIMEOUT,
            c.spans_queued,
            c.spans_exported,
            c.spans_dropped,
            stopped.stderr.trim_end(),
        );
        assert_eq!(sent.failed, 0, "{:?}", sent.first_failure);
        assert!(
            !stopped.status.success(),
            "{outage:?}: the failed flush is reported:\n{}",
            stopped.stderr
        );
        assert!(
            stopped.stderr.contains("Error: ") && stopped.stderr.contains("ShutdownError"),
            "{outage:?}: the error says what failed:\n{}",
            stopped.stderr
        );
        // The shutdown timeout bounds the wait (plus the server's own stop): far below the
        // 30 s export timeout a frozen Jaeger would otherwise hold it for.
        assert!(
            stopped.took < SHUTDOWN_TIMEOUT + Duration::from_secs(5),
            "{outage:?}: exit {:?} after SIGTERM",
            stopped.took
        );
        assert_eq!(c.spans_queued, requests * SPANS_PER_REQUEST, "{c:?}");
        assert_eq!(c.spans_exported, 0, "{c:?}");
        // Refused (killed) or given up on by the shutdown (frozen): every queued span is
        // counted as dropped either way.
        assert_eq!(
            c.spans_dropped,
            requests * SPANS_PER_REQUEST,
            "a failed shutdown counts every queued span as dropped: {c:?}"
        );
        if let Outage::Frozen = outage {
            jaeger.resume();
        }
    }
}
