//! What the benchmarks run: the same small workloads written once per library, and the
//! pipelines they run against.
//!
//! Shared by the criterion suite (`benches/spans.rs`: time per call) and the counter binary
//! (`src/bin/allocs.rs`: allocations and CPU per span), so both measure exactly the same code.
//!
//! Every library gets the same five variants of one span named `score_request`:
//!
//! | variant  | what the call does                                                    |
//! |----------|-----------------------------------------------------------------------|
//! | `sync`   | one span around a sync function                                       |
//! | `async`  | one span around an `async fn`, awaited on a current-thread runtime    |
//! | `nested` | a parent span whose body calls 10 child functions, each with a span   |
//! | `attrs3` | one span with 3 attributes (a static string, an integer, an argument) |
//! | `struct` | one span recording a 5-field model struct (2 strings, int, float, bool) |
//!
//! Every sampled pipeline exports through a batch processor into an exporter that counts and
//! discards ([`Discard`], [`FastraceDiscard`]), so the export side costs what the pipeline
//! itself costs and nothing more.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData,
    SpanExporter,
};

/// The span name every variant uses.
pub const NAME: &str = "score_request";
/// Children per parent in the `nested` variant.
pub const CHILDREN: u64 = 10;
/// The batch queue of every sampled pipeline (ours and the SDK's alike): large enough that a
/// benchmark loop measures enqueueing, not the cheaper path of dropping on a full queue.
pub const QUEUE: usize = 65_536;

/// The five variants, in table order.
pub const VARIANTS: [&str; 5] = ["sync", "async", "nested", "attrs3", "struct"];

/// Spans one call of `variant` creates.
pub fn spans_per_call(variant: &str) -> u64 {
    if variant == "nested" {
        1 + CHILDREN
    } else {
        1
    }
}

/// An exporter that counts the spans it receives and drops them.
#[derive(Clone, Debug, Default)]
pub struct Discard {
    spans: Arc<AtomicU64>,
}

impl Discard {
    /// Spans exported so far.
    pub fn exported(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.spans.fetch_add(batch.len() as u64, Ordering::Relaxed);
        drop(black_box(batch));
        Ok(())
    }
}

/// fastrace's reporter that counts the spans it receives and drops them.
#[derive(Clone, Debug, Default)]
pub struct FastraceDiscard {
    spans: Arc<AtomicU64>,
}

impl FastraceDiscard {
    /// Spans reported so far.
    pub fn exported(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

impl fastrace::collector::Reporter for FastraceDiscard {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        self.spans.fetch_add(spans.len() as u64, Ordering::Relaxed);
        drop(black_box(spans));
    }
}

/// The SDK's own pipeline: every span sampled, the SDK's `BatchSpanProcessor` with the same
/// queue as ours, into [`Discard`]. The raw-SDK and `tracing` peers run on it.
pub fn sdk_provider(exporter: Discard) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .with_scheduled_delay(Duration::from_millis(100))
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOn)
        .with_span_processor(processor)
        .build()
}

/// maestro-trace's pipeline as a user sets it up, exporting into `exporter` through our batch
/// processor with the same queue as the SDK's pipeline above. Settings not made here come from
/// the environment as in a service (e.g. `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, to see what the
/// batch size does to the export side's cost).
///
/// # Panics
/// If `init` fails (another pipeline is still installed): a bug in the benchmark.
pub fn maestro_pipeline(
    sampling: maestro_trace::Sampling,
    exporter: Discard,
) -> maestro_trace::TracingGuard {
    let config = maestro_trace::TracingConfig::from_env()
        .service_name("bench")
        .sampler(sampling)
        .batch_queue_size(QUEUE)
        .batch_delay(Duration::from_millis(100))
        .span_exporter(exporter);
    match maestro_trace::init(config) {
        Ok(guard) => guard,
        Err(e) => panic!("maestro-trace init failed: {e}"),
    }
}

/// The tracer the raw-SDK peer uses.
pub fn sdk_tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer("bench")
}

/// A pipeline a benchmark row runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// No instrumentation at all.
    Bare,
    /// `#[traced]` with no pipeline installed (`TRACING_ENABLED=false`).
    MaestroDisabled,
    /// `#[traced]`, sampler `parent_based_ratio(0.0)`: a root that is not sampled.
    MaestroUnsampledRoot,
    /// The same calls inside an unsampled parent span.
    MaestroUnsampledChild,
    /// `#[traced]`, every span sampled and exported through our batch processor.
    MaestroSampled,
    /// The raw SDK, `tracer.in_span`.
    SdkInSpan,
    /// The raw SDK, `tracer.start` + `span.end()`.
    SdkStartEnd,
    /// `tracing` `#[instrument]` + tracing-opentelemetry on the SDK.
    Tracing,
    /// The same `#[instrument]` functions bridged by `maestro_trace::tracing::layer()` into
    /// maestro-trace's sampled pipeline.
    TracingBridge,
    /// tracing-opentelemetry on maestro-trace's pipeline (through the global tracer it installs):
    /// the same pipeline as [`Setup::TracingBridge`].
    TracingOtelMaestro,
    /// fastrace `#[trace]`.
    Fastrace,
}

impl Setup {
    /// Every row, in table order.
    pub const ALL: [Setup; 11] = [
        Setup::Bare,
        Setup::MaestroDisabled,
        Setup::MaestroUnsampledRoot,
        Setup::MaestroUnsampledChild,
        Setup::MaestroSampled,
        Setup::SdkInSpan,
        Setup::SdkStartEnd,
        Setup::Tracing,
        Setup::TracingBridge,
        Setup::TracingOtelMaestro,
        Setup::Fastrace,
    ];

    /// The row's name (criterion's group name, the plot's label).
    pub fn name(self) -> &'static str {
        match self {
            Setup::Bare => "bare",
            Setup::MaestroDisabled => "maestro_disabled",
            Setup::MaestroUnsampledRoot => "maestro_unsampled_root",
            Setup::MaestroUnsampledChild => "maestro_unsampled_child",
            Setup::MaestroSampled => "maestro_sampled",
            Setup::SdkInSpan => "sdk_in_span",
            Setup::SdkStartEnd => "sdk_start_end",
            Setup::Tracing => "tracing_otel",
            Setup::TracingBridge => "tracing_bridge",
            Setup::TracingOtelMaestro => "tracing_otel_maestro",
            Setup::Fastrace => "fastrace",
        }
    }

    /// Whether its spans are exported (so export CPU and drops mean something).
    pub fn exports(self) -> bool {
        matches!(
            self,
            Setup::MaestroSampled
                | Setup::SdkInSpan
                | Setup::SdkStartEnd
                | Setup::Tracing
                | Setup::TracingBridge
                | Setup::TracingOtelMaestro
                | Setup::Fastrace
        )
    }

    /// Whether its spans are `tracing` spans (which also get the `event` variant).
    pub fn is_tracing(self) -> bool {
        matches!(
            self,
            Setup::Tracing | Setup::TracingBridge | Setup::TracingOtelMaestro
        )
    }

    /// Installs the pipeline; it stays until the returned value drops.
    pub fn install(self) -> Installed {
        let mut installed = Installed {
            setup: self,
            exporter: Discard::default(),
            fastrace: None,
            guard: None,
            provider: None,
            tracer: None,
            subscriber: None,
            parent: None,
        };
        match self {
            Setup::Bare | Setup::MaestroDisabled => {}
            Setup::MaestroUnsampledRoot | Setup::MaestroUnsampledChild => {
                installed.guard = Some(maestro_pipeline(
                    maestro_trace::Sampling::parent_based_ratio(0.0),
                    installed.exporter.clone(),
                ));
            }
            Setup::MaestroSampled => {
                installed.guard = Some(maestro_pipeline(
                    maestro_trace::Sampling::AlwaysOn,
                    installed.exporter.clone(),
                ));
            }
            Setup::SdkInSpan | Setup::SdkStartEnd | Setup::Tracing => {
                let provider = sdk_provider(installed.exporter.clone());
                installed.tracer = Some(sdk_tracer(&provider));
                if self == Setup::Tracing {
                    installed.subscriber = Some(tracing::subscriber::set_default(
                        tracing_otel::subscriber(&provider),
                    ));
                }
                installed.provider = Some(provider);
            }
            Setup::TracingBridge | Setup::TracingOtelMaestro => {
                installed.guard = Some(maestro_pipeline(
                    maestro_trace::Sampling::AlwaysOn,
                    installed.exporter.clone(),
                ));
                installed.subscriber = Some(if self == Setup::TracingBridge {
                    tracing::subscriber::set_default(tracing_otel::bridged())
                } else {
                    tracing::subscriber::set_default(tracing_otel::on_global_tracer())
                });
            }
            Setup::Fastrace => installed.fastrace = Some(fastrace_trace::reporter()),
        }
        if self == Setup::MaestroUnsampledChild {
            let parent = maestro_trace::span!("bench_request");
            installed.parent = parent.context().map(|cx| cx.clone().attach());
            assert!(
                installed.parent.is_some(),
                "the unsampled parent has no context"
            );
            assert!(
                !parent.is_recording(),
                "the parent span should not be sampled"
            );
        }
        installed
    }
}

/// An installed pipeline (see [`Setup::install`]); dropping it shuts the pipeline down.
#[derive(Debug)]
pub struct Installed {
    setup: Setup,
    exporter: Discard,
    fastrace: Option<FastraceDiscard>,
    guard: Option<maestro_trace::TracingGuard>,
    provider: Option<SdkTracerProvider>,
    tracer: Option<SdkTracer>,
    subscriber: Option<tracing::subscriber::DefaultGuard>,
    parent: Option<opentelemetry::ContextGuard>,
}

impl Installed {
    /// The SDK tracer of the raw-SDK rows.
    ///
    /// # Panics
    /// For a row without one: a bug in the benchmark.
    pub fn tracer(&self) -> &SdkTracer {
        match &self.tracer {
            Some(tracer) => tracer,
            None => panic!("{} has no SDK tracer", self.setup.name()),
        }
    }

    /// Spans that reached the discarding exporter so far.
    pub fn exported(&self) -> u64 {
        match &self.fastrace {
            Some(reporter) => reporter.exported(),
            None => self.exporter.exported(),
        }
    }

    /// Pushes queued spans on towards the exporter (does not wait for the SDK's processor).
    pub fn flush(&self) {
        if self.fastrace.is_some() {
            fastrace::flush();
        }
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
    }

    /// Not a measurement: for a row that exports, waits for its queued spans and prints how
    /// many reached the exporter and how many maestro-trace dropped, a check that the row
    /// measured the export path and not the cheaper drop path.
    pub fn report_exported(&self) {
        if !self.setup.exports() {
            return;
        }
        self.flush();
        std::thread::sleep(Duration::from_millis(500));
        let d = maestro_trace::diagnostics();
        eprintln!(
            "{}: {} spans exported; maestro-trace diagnostics: {} dropped",
            self.setup.name(),
            self.exported(),
            d.spans_dropped
        );
    }

    /// Runs `f` with the sync-shaped variants of this row.
    pub fn with_library<R>(&self, f: impl FnOnce(&Library<'_>) -> R) -> R {
        // The four variants of a module whose functions take the call's argument only, or the
        // SDK tracer first.
        macro_rules! library {
            ($m:ident) => {
                f(&Library {
                    sync: &$m::sync,
                    nested: &$m::nested,
                    attrs3: &$m::attrs3,
                    with_struct: &$m::with_struct,
                })
            };
            ($m:ident, $t:expr) => {{
                let t = $t;
                f(&Library {
                    sync: &|x| $m::sync(t, x),
                    nested: &|x| $m::nested(t, x),
                    attrs3: &|x| $m::attrs3(t, x),
                    with_struct: &|m| $m::with_struct(t, m),
                })
            }};
        }
        match self.setup {
            Setup::Bare => f(&Library {
                sync: &bare::sync,
                nested: &bare::nested,
                attrs3: &bare::sync,
                with_struct: &|m| bare::sync(m.version as u64),
            }),
            Setup::MaestroDisabled
            | Setup::MaestroUnsampledRoot
            | Setup::MaestroUnsampledChild
            | Setup::MaestroSampled => library!(maestro),
            Setup::SdkInSpan => library!(sdk_in_span, self.tracer()),
            Setup::SdkStartEnd => library!(sdk_start_end, self.tracer()),
            Setup::Tracing | Setup::TracingBridge | Setup::TracingOtelMaestro => {
                library!(tracing_otel)
            }
            Setup::Fastrace => library!(fastrace_trace),
        }
    }

    /// One call of this row's `async` variant.
    pub async fn call_async(&self, x: u64) -> u64 {
        match self.setup {
            Setup::Bare => bare::run_async(x).await,
            Setup::MaestroDisabled
            | Setup::MaestroUnsampledRoot
            | Setup::MaestroUnsampledChild
            | Setup::MaestroSampled => maestro::run_async(x).await,
            Setup::SdkInSpan => sdk_in_span::run_async(self.tracer(), x).await,
            Setup::SdkStartEnd => sdk_start_end::run_async(self.tracer(), x).await,
            Setup::Tracing | Setup::TracingBridge | Setup::TracingOtelMaestro => {
                tracing_otel::run_async(x).await
            }
            Setup::Fastrace => fastrace_trace::run_async(x).await,
        }
    }

    /// Calls between two fresh roots: fastrace records a `#[trace]` span only under a root, so
    /// its rows run under one root per [`fastrace_trace::CALLS_PER_ROOT`] calls; the others need
    /// none.
    pub fn calls_per_root(&self) -> u64 {
        if self.setup == Setup::Fastrace {
            fastrace_trace::CALLS_PER_ROOT
        } else {
            u64::MAX
        }
    }

    /// A new root for the next [`Installed::calls_per_root`] calls (nothing for most rows).
    pub fn root(&self) -> Option<(fastrace::Span, fastrace::local::LocalParentGuard)> {
        (self.setup == Setup::Fastrace).then(fastrace_trace::root)
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        self.parent.take();
        self.subscriber.take();
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
        if let Some(guard) = self.guard.take() {
            let _ = guard.shutdown();
        }
    }
}

/// The sync-shaped variants of one row, as functions of the call argument.
#[allow(missing_debug_implementations)]
pub struct Library<'a> {
    /// `sync`.
    pub sync: &'a dyn Fn(u64) -> u64,
    /// `nested`.
    pub nested: &'a dyn Fn(u64) -> u64,
    /// `attrs3`.
    pub attrs3: &'a dyn Fn(u64) -> u64,
    /// `struct`.
    pub with_struct: &'a dyn Fn(&ModelAttrs) -> u64,
}

/// A model attribute group (`#[span_attrs]`): 2 strings, an integer, a float and a bool.
#[maestro_trace::span_attrs(prefix = "model")]
#[derive(Clone, Debug)]
pub struct ModelAttrs {
    /// `model.id`
    pub id: String,
    /// `model.framework`
    pub framework: String,
    /// `model.version`
    pub version: i64,
    /// `model.accuracy`
    pub accuracy: f64,
    /// `model.production`
    pub production: bool,
}

/// The current-thread Tokio runtime the `async` variants are awaited on (no I/O or timer
/// driver: the variants never wait).
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => panic!("no Tokio runtime: {e}"),
    }
}

/// How long `iters` calls of `call` take, starting a new root every
/// [`Installed::calls_per_root`] calls where the row needs one (fastrace): the body of the
/// benches' `iter_custom`.
pub fn time_calls(installed: &Installed, call: &dyn Fn(u64) -> u64, iters: u64) -> Duration {
    let start = std::time::Instant::now();
    let mut i = 0;
    while i < iters {
        let _root = installed.root();
        let end = iters.min(i.saturating_add(installed.calls_per_root()));
        while i < end {
            black_box(call(black_box(i)));
            i += 1;
        }
    }
    start.elapsed()
}

/// The struct every `struct` variant records.
pub fn model() -> ModelAttrs {
    ModelAttrs {
        id: "resnet50".to_owned(),
        framework: "pytorch".to_owned(),
        version: 3,
        accuracy: 0.93,
        production: true,
    }
}

pub mod span_path;

/// CPU time from the kernel's per-task accounting (`schedstat`, nanoseconds on CPU), which the
/// counting rows read before and after a loop: the calling thread's, and every live thread's of
/// this process (caller, batching and export threads, a driver's worker, a peer's collector).
pub mod cpu {
    use std::path::Path;

    /// Nanoseconds on CPU of one task, from its `schedstat` (first field); 0 where unreadable.
    fn schedstat_ns(path: &Path) -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }

    /// CPU nanoseconds of the calling thread so far.
    pub fn caller_ns() -> u64 {
        schedstat_ns(Path::new("/proc/thread-self/schedstat"))
    }

    /// CPU nanoseconds of every live thread of this process so far.
    pub fn process_ns() -> u64 {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0;
        };
        tasks
            .filter_map(Result::ok)
            .map(|task| schedstat_ns(&task.path().join("schedstat")))
            .sum()
    }
}

/// No instrumentation: what every other row is compared with.
pub mod bare {
    use super::*;

    /// `sync`, `attrs3` and `struct` alike.
    #[inline(never)]
    pub fn sync(x: u64) -> u64 {
        black_box(x)
    }

    /// `async`.
    #[inline(never)]
    pub async fn run_async(x: u64) -> u64 {
        black_box(x)
    }

    /// `nested`.
    #[inline(never)]
    pub fn nested(x: u64) -> u64 {
        (0..CHILDREN).map(|i| sync(x + i)).sum()
    }
}

/// maestro-trace: `#[traced]`.
pub mod maestro {
    use super::*;
    use maestro_trace::traced;

    /// `sync`.
    #[traced("score_request")]
    #[inline(never)]
    pub fn sync(x: u64) -> u64 {
        black_box(x)
    }

    /// `async`.
    #[traced("score_request")]
    #[inline(never)]
    pub async fn run_async(x: u64) -> u64 {
        black_box(x)
    }

    /// `nested`: the parent.
    #[traced("score_request")]
    #[inline(never)]
    pub fn nested(x: u64) -> u64 {
        (0..CHILDREN).map(|i| child(x + i)).sum()
    }

    #[traced("score_row")]
    #[inline(never)]
    fn child(x: u64) -> u64 {
        black_box(x)
    }

    /// `attrs3`.
    #[traced("score_request", attrs(model.name = "resnet50", model.version = 3, batch.size = x))]
    #[inline(never)]
    pub fn attrs3(x: u64) -> u64 {
        black_box(x)
    }

    /// `struct`.
    #[traced("score_request", attrs(model))]
    #[inline(never)]
    pub fn with_struct(model: &ModelAttrs) -> u64 {
        black_box(model.version as u64)
    }
}

/// The raw OpenTelemetry SDK, written the way its documentation shows: `tracer.in_span`.
pub mod sdk_in_span {
    use super::*;

    /// `sync`.
    #[inline(never)]
    pub fn sync(tracer: &SdkTracer, x: u64) -> u64 {
        tracer.in_span(NAME, |_| black_box(x))
    }

    /// `async`: the span made current for the future with `FutureExt::with_context`.
    #[inline(never)]
    pub async fn run_async(tracer: &SdkTracer, x: u64) -> u64 {
        use opentelemetry::context::FutureExt as _;
        let cx = Context::current_with_span(tracer.start(NAME));
        async move { black_box(x) }.with_context(cx).await
    }

    /// `nested`.
    #[inline(never)]
    pub fn nested(tracer: &SdkTracer, x: u64) -> u64 {
        tracer.in_span(NAME, |_| {
            (0..CHILDREN)
                .map(|i| tracer.in_span("score_row", |_| black_box(x + i)))
                .sum()
        })
    }

    /// `attrs3`.
    #[inline(never)]
    pub fn attrs3(tracer: &SdkTracer, x: u64) -> u64 {
        let span = tracer
            .span_builder(NAME)
            .with_attributes([
                KeyValue::new("model.name", "resnet50"),
                KeyValue::new("model.version", 3),
                KeyValue::new("batch.size", x as i64),
            ])
            .start(tracer);
        let _current = Context::current_with_span(span).attach();
        black_box(x)
    }

    /// `struct`.
    #[inline(never)]
    pub fn with_struct(tracer: &SdkTracer, model: &ModelAttrs) -> u64 {
        let span = tracer
            .span_builder(NAME)
            .with_attributes(model_key_values(model))
            .start(tracer);
        let _current = Context::current_with_span(span).attach();
        black_box(model.version as u64)
    }

    /// The struct's five attributes as the raw SDK takes them.
    pub fn model_key_values(model: &ModelAttrs) -> [KeyValue; 5] {
        [
            KeyValue::new("model.id", model.id.clone()),
            KeyValue::new("model.framework", model.framework.clone()),
            KeyValue::new("model.version", model.version),
            KeyValue::new("model.accuracy", model.accuracy),
            KeyValue::new("model.production", model.production),
        ]
    }
}

/// The raw SDK at its cheapest: `start` + `end`, the span never made current.
pub mod sdk_start_end {
    use super::*;
    use opentelemetry::trace::Span as _;

    /// `sync`.
    #[inline(never)]
    pub fn sync(tracer: &SdkTracer, x: u64) -> u64 {
        let mut span = tracer.start(NAME);
        let out = black_box(x);
        span.end();
        out
    }

    /// `async`.
    #[inline(never)]
    pub async fn run_async(tracer: &SdkTracer, x: u64) -> u64 {
        let mut span = tracer.start(NAME);
        let out = async move { black_box(x) }.await;
        span.end();
        out
    }

    /// `nested`: the children are started as children of the parent explicitly.
    #[inline(never)]
    pub fn nested(tracer: &SdkTracer, x: u64) -> u64 {
        let parent = Context::current_with_span(tracer.start(NAME));
        let out = (0..CHILDREN)
            .map(|i| {
                let mut span = tracer.start_with_context("score_row", &parent);
                let out = black_box(x + i);
                span.end();
                out
            })
            .sum();
        parent.span().end();
        out
    }

    /// `attrs3`.
    #[inline(never)]
    pub fn attrs3(tracer: &SdkTracer, x: u64) -> u64 {
        let mut span = tracer
            .span_builder(NAME)
            .with_attributes([
                KeyValue::new("model.name", "resnet50"),
                KeyValue::new("model.version", 3),
                KeyValue::new("batch.size", x as i64),
            ])
            .start(tracer);
        let out = black_box(x);
        span.end();
        out
    }

    /// `struct`.
    #[inline(never)]
    pub fn with_struct(tracer: &SdkTracer, model: &ModelAttrs) -> u64 {
        let mut span = tracer
            .span_builder(NAME)
            .with_attributes(super::sdk_in_span::model_key_values(model))
            .start(tracer);
        let out = black_box(model.version as u64);
        span.end();
        out
    }
}

/// `tracing` `#[instrument]`, exported by `tracing-opentelemetry` through [`sdk_provider`] (or
/// through maestro-trace's pipeline), or bridged by `maestro_trace::tracing::layer()`.
pub mod tracing_otel {
    use super::*;
    use tracing::instrument;
    use tracing_subscriber::layer::SubscriberExt as _;

    /// The subscriber: a registry with the OpenTelemetry layer on `provider`'s tracer.
    pub fn subscriber(provider: &SdkTracerProvider) -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")))
    }

    /// A registry with the OpenTelemetry layer on the global tracer (maestro-trace's pipeline
    /// once it is installed).
    pub fn on_global_tracer() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry().with(
            tracing_opentelemetry::layer().with_tracer(opentelemetry::global::tracer("bench")),
        )
    }

    /// A registry with maestro-trace's bridge.
    pub fn bridged() -> impl tracing::Subscriber + Send + Sync {
        tracing_subscriber::registry().with(maestro_trace::tracing::layer())
    }

    /// `event`: one span with one event (a message and an integer field) inside it.
    #[instrument(name = "score_request", skip_all)]
    #[inline(never)]
    pub fn with_event(x: u64) -> u64 {
        tracing::info!(batch.size = x, "request scored");
        black_box(x)
    }

    /// `sync`.
    #[instrument(name = "score_request", skip_all)]
    #[inline(never)]
    pub fn sync(x: u64) -> u64 {
        black_box(x)
    }

    /// `async`.
    #[instrument(name = "score_request", skip_all)]
    #[inline(never)]
    pub async fn run_async(x: u64) -> u64 {
        black_box(x)
    }

    /// `nested`.
    #[instrument(name = "score_request", skip_all)]
    #[inline(never)]
    pub fn nested(x: u64) -> u64 {
        (0..CHILDREN).map(|i| child(x + i)).sum()
    }

    #[instrument(name = "score_row", skip_all)]
    #[inline(never)]
    fn child(x: u64) -> u64 {
        black_box(x)
    }

    /// `attrs3`.
    #[instrument(
        name = "score_request",
        skip_all,
        fields(model.name = "resnet50", model.version = 3, batch.size = x)
    )]
    #[inline(never)]
    pub fn attrs3(x: u64) -> u64 {
        black_box(x)
    }

    /// `struct`.
    #[instrument(
        name = "score_request",
        skip_all,
        fields(
            model.id = %model.id,
            model.framework = %model.framework,
            model.version = model.version,
            model.accuracy = model.accuracy,
            model.production = model.production,
        )
    )]
    #[inline(never)]
    pub fn with_struct(model: &ModelAttrs) -> u64 {
        black_box(model.version as u64)
    }
}

/// fastrace `#[trace]`, reported to [`FastraceDiscard`].
///
/// fastrace records a `#[trace]` span only under a root span set as the thread's local parent;
/// the benchmarks run these under one root per 100 calls, so the root's cost is amortised and
/// what is measured is the `#[trace]` span.
pub mod fastrace_trace {
    use super::*;
    use fastrace::trace;

    /// Calls between two roots.
    pub const CALLS_PER_ROOT: u64 = 100;

    /// Installs the discarding reporter (fastrace keeps one reporter per process: later calls
    /// replace it, so each returned counter counts from its own installation on).
    pub fn reporter() -> FastraceDiscard {
        let reporter = FastraceDiscard::default();
        fastrace::set_reporter(
            reporter.clone(),
            fastrace::collector::Config::default().report_interval(Duration::from_millis(100)),
        );
        reporter
    }

    /// Starts a root and makes it the local parent; spans report when both are dropped.
    pub fn root() -> (fastrace::Span, fastrace::local::LocalParentGuard) {
        let root = fastrace::Span::root("bench_root", fastrace::collector::SpanContext::random());
        let guard = root.set_local_parent();
        (root, guard)
    }

    /// `sync`.
    #[trace(name = "score_request")]
    #[inline(never)]
    pub fn sync(x: u64) -> u64 {
        black_box(x)
    }

    /// `async`.
    #[trace(name = "score_request")]
    #[inline(never)]
    pub async fn run_async(x: u64) -> u64 {
        black_box(x)
    }

    /// `nested`.
    #[trace(name = "score_request")]
    #[inline(never)]
    pub fn nested(x: u64) -> u64 {
        (0..CHILDREN).map(|i| child(x + i)).sum()
    }

    #[trace(name = "score_row")]
    #[inline(never)]
    fn child(x: u64) -> u64 {
        black_box(x)
    }

    /// `attrs3`.
    #[trace(
        name = "score_request",
        properties = { "model.name": "resnet50", "model.version": "3", "batch.size": "{x}" }
    )]
    #[inline(never)]
    pub fn attrs3(x: u64) -> u64 {
        black_box(x)
    }

    /// `struct`: fastrace properties are strings.
    #[inline(never)]
    pub fn with_struct(model: &ModelAttrs) -> u64 {
        let _span =
            fastrace::local::LocalSpan::enter_with_local_parent(NAME).with_properties(|| {
                [
                    ("model.id", model.id.clone()),
                    ("model.framework", model.framework.clone()),
                    ("model.version", model.version.to_string()),
                    ("model.accuracy", model.accuracy.to_string()),
                    ("model.production", model.production.to_string()),
                ]
            });
        black_box(model.version as u64)
    }
}
