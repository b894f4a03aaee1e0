//! In-memory capture of finished spans, for tests that assert on what was traced.
//!
//! ```
//! use maestro_trace::{testing, traced};
//!
//! #[traced("train_model_job", attrs(epochs))]
//! fn train(epochs: i64) -> f64 { 0.93 }
//!
//! let capture = testing::capture();
//! train(10);
//! let span = capture.span("train_model_job");
//! assert_eq!(span.attr_i64("epochs"), Some(10));
//! ```
//!
//! Captures run in parallel, as `cargo test` runs tests, without a lock: while any capture is
//! alive, one shared in-memory pipeline is installed (spans exported synchronously as they end,
//! the default propagators: W3C trace context and baggage), and each finished span goes to the
//! capture it belongs to:
//!
//! - A trace belongs to the capture that was created on the thread where its root span started
//!   (the innermost one, if captures are nested on that thread). Its later spans follow it
//!   wherever they start: on other threads, in spawned tasks, or as server spans continuing a
//!   client span's `traceparent` on a server's worker thread.
//! - A span continuing a trace that started elsewhere (an incoming `traceparent` with a trace id
//!   of no capture) belongs to the capture of the thread it starts on, without claiming that
//!   trace id: two tests may send the same one.
//! - Any other span (on a thread no capture was created on, in a trace of no capture, such as a
//!   request without `traceparent` on a server's worker thread) goes to every capture alive when
//!   it ends, sampled if one of their samplers samples it. A test that counts such spans keeps
//!   its binary to itself.
//! - Each capture's sampler decides for its own spans ([`capture_with_sampler`]). A span of a
//!   capture already dropped is discarded. The span-start shortcuts (skipping a child of an
//!   unsampled parent without allocating) hold for what every alive capture's sampler shares,
//!   so a test that counts allocations keeps its binary to itself.
//!
//! A capture is bound to the thread that created it (it is not `Send`). While captures are alive,
//! [`init`](crate::init) returns [`InitError::CaptureAlive`](crate::InitError::CaptureAlive); a
//! pipeline that `init` installed before is set aside and current again after the last capture
//! ends. So tests that call `init` belong in a test binary of their own.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use opentelemetry::trace::{
    Event, Link, Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceId,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample, Span, SpanData,
    SpanProcessor,
};

use crate::config::Propagator;
use crate::pipeline::{self, Pipeline, SamplerHints};
use crate::recording::{Delivery, OnStart, Sink, SinkProcessor};
use crate::tree::{self, TreeStyle};

/// Starts capturing every span of the work this thread runs, sampled with `AlwaysOn`.
///
/// ```
/// use maestro_trace::span;
///
/// let capture = maestro_trace::testing::capture();
/// span!("validate_model", model_type = "pytorch").in_scope(|| ());
/// assert_eq!(capture.names(), ["validate_model"]);
/// ```
pub fn capture() -> Capture {
    capture_with_sampler(Sampler::AlwaysOn)
}

/// Starts capturing with `sampler` deciding which spans record (e.g. `Sampler::AlwaysOff`, to
/// test what an unsampled call costs or evaluates).
///
/// ```
/// use maestro_trace::sdk::trace::Sampler;
/// use maestro_trace::span;
///
/// let capture = maestro_trace::testing::capture_with_sampler(Sampler::AlwaysOff);
/// assert!(!span!("score_request").is_recording());
/// assert!(capture.spans().is_empty());
/// ```
pub fn capture_with_sampler(sampler: Sampler) -> Capture {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let owner = Arc::new(Owner {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        hints: SamplerHints::of_sdk(&sampler),
        sampler,
        spans: Mutex::new(Vec::new()),
    });
    // Propagation as `init` sets it up by default, so tests of incoming and outgoing context
    // (middleware, clients) see what a service would.
    opentelemetry::global::set_text_map_propagator(crate::propagation::composite(&[
        Propagator::TraceContext,
        Propagator::Baggage,
    ]));
    THREAD_CAPTURES.with(|ids| ids.borrow_mut().push(owner.id));
    Session::join(Arc::clone(&owner));
    Capture {
        owner,
        _bound_to_thread: PhantomData,
    }
}

/// The spans finished by the work a capture ran; see the module docs.
///
/// ```
/// use maestro_trace::{span, testing};
///
/// let capture = testing::capture();
/// span!("handle_request").in_scope(|| span!("load_model").in_scope(|| ()));
/// let request = capture.span("handle_request");
/// assert!(capture.span("load_model").is_child_of(&request));
/// assert_eq!(capture.tree(), "handle_request\n└─ load_model\n");
/// capture.clear();
/// assert!(capture.spans().is_empty());
/// ```
pub struct Capture {
    owner: Arc<Owner>,
    /// A capture claims the traces started on the thread that created it, so it stays on that
    /// thread (not `Send`; still `Sync`, to be read from threads it spawns).
    _bound_to_thread: PhantomData<MutexGuard<'static, ()>>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("spans", &self.spans().len())
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// Every finished span, in order of start time.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        let mut spans: Vec<CapturedSpan> = lock(&self.owner.spans)
            .iter()
            .map(|data| CapturedSpan { data: data.clone() })
            .collect();
        spans.sort_by_key(|s| s.data.start_time);
        spans
    }

    /// The names of every finished span, in order of start time.
    pub fn names(&self) -> Vec<String> {
        self.spans().iter().map(|s| s.name().to_owned()).collect()
    }

    /// Every finished span named `name`.
    pub fn spans_named(&self, name: &str) -> Vec<CapturedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.name() == name)
            .collect()
    }

    /// The one finished span named `name`.
    ///
    /// # Panics
    /// If there is no such span or more than one, listing the names that were seen.
    #[track_caller]
    pub fn span(&self, name: &str) -> CapturedSpan {
        let mut found = self.spans_named(name);
        if found.len() != 1 {
            panic!(
                "expected exactly one finished span named `{name}`, found {}; spans seen: {:?}",
                found.len(),
                self.names()
            );
        }
        found.remove(0)
    }

    /// The finished spans drawn as trace trees (names, kinds, errors, attributes, events; no
    /// durations, so the text is stable enough to compare).
    pub fn tree(&self) -> String {
        let data: Vec<SpanData> = self.spans().into_iter().map(|s| s.data).collect();
        tree::render(
            &data,
            TreeStyle {
                durations: false,
                trace_ids: false,
            },
        )
    }

    /// Forgets the spans captured so far.
    pub fn clear(&self) {
        lock(&self.owner.spans).clear();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let id = self.owner.id;
        // `try_with`: a capture may be dropped while the thread's locals are torn down.
        let _ = THREAD_CAPTURES.try_with(|ids| {
            let mut ids = ids.borrow_mut();
            if let Some(at) = ids.iter().rposition(|&other| other == id) {
                ids.remove(at);
            }
        });
        Session::leave(id);
    }
}

thread_local! {
    /// The ids of the captures created on this thread and still alive, innermost last.
    static THREAD_CAPTURES: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// One capture as the shared pipeline sees it.
#[derive(Debug)]
struct Owner {
    id: u64,
    sampler: Sampler,
    hints: SamplerHints,
    spans: Mutex<Vec<SpanData>>,
}

/// The shared pipeline, installed while any capture is alive.
#[derive(Debug)]
struct Session {
    routes: Arc<Routes>,
    provider: SdkTracerProvider,
    sink: Arc<Sink>,
}

static SESSION: Mutex<Option<Session>> = Mutex::new(None);

impl Session {
    fn pipeline(&self, hints: SamplerHints) -> Pipeline {
        Pipeline::new(self.provider.clone(), Arc::clone(&self.sink), hints)
    }

    /// Adds a capture, installing the shared pipeline if it is the first.
    fn join(owner: Arc<Owner>) {
        let mut session = lock(&SESSION);
        let session = session.get_or_insert_with(Session::start);
        let hints = {
            let mut table = lock(&session.routes.table);
            table.alive.push(owner);
            table.hints()
        };
        pipeline::install_capture(Some(session.pipeline(hints)));
    }

    /// Removes a capture; the last one uninstalls the shared pipeline.
    fn leave(id: u64) {
        let mut slot = lock(&SESSION);
        let Some(session) = slot.as_ref() else {
            return;
        };
        let remaining = {
            let mut table = lock(&session.routes.table);
            table.alive.retain(|owner| owner.id != id);
            (!table.alive.is_empty()).then(|| table.hints())
        };
        match remaining {
            Some(hints) => {
                pipeline::install_capture(Some(session.pipeline(hints)));
            }
            None => {
                pipeline::install_capture(None);
                if let Some(session) = slot.take() {
                    let _ = session.provider.shutdown();
                }
            }
        }
    }

    fn start() -> Session {
        let routes = Arc::new(Routes::default());
        let routing = Arc::new(RoutingProcessor(Arc::clone(&routes)));
        let sink = Sink::new(
            Box::new(RoutingSampler(Arc::clone(&routes))),
            opentelemetry_sdk::trace::SpanLimits::default(),
            Vec::new(),
            Delivery::to(vec![Arc::clone(&routing) as Arc<dyn SpanProcessor>]),
            Some(routing),
        );
        let provider = SdkTracerProvider::builder()
            .with_sampler(RoutingSampler(Arc::clone(&routes)))
            .with_span_processor(SinkProcessor(Arc::clone(&sink)))
            .build();
        Session {
            routes,
            provider,
            sink,
        }
    }
}

/// Which capture each trace and each open span belongs to.
#[derive(Debug, Default)]
struct Routes {
    table: Mutex<RouteTable>,
}

#[derive(Debug, Default)]
struct RouteTable {
    /// The captures alive, in order of creation.
    alive: Vec<Arc<Owner>>,
    /// The capture each trace started under. Kept until the shared pipeline ends, so that a
    /// late span of a capture already dropped is discarded, not handed to another.
    traces: HashMap<TraceId, u64>,
    /// Where each started span goes when it ends.
    open: HashMap<(TraceId, SpanId), Route>,
}

/// Where a span goes.
#[derive(Clone, Copy, Debug)]
enum Route {
    /// To the capture with this id (if it is still alive when the span ends).
    Capture(u64),
    /// To every capture alive when it ends: the span belongs to no capture's trace.
    Everyone,
}

/// The captures that decide about a span and receive it.
enum Recipients {
    One(Arc<Owner>),
    All(Vec<Arc<Owner>>),
}

impl RouteTable {
    /// The route of a span of `trace_id` started with `parent` on this thread; a new trace is
    /// claimed by this thread's innermost capture.
    fn route(&mut self, parent: &Context, trace_id: TraceId) -> Route {
        if let Some(&id) = self.traces.get(&trace_id) {
            return Route::Capture(id);
        }
        let alive = &self.alive;
        let here = THREAD_CAPTURES
            .try_with(|ids| {
                ids.borrow()
                    .iter()
                    .rev()
                    .find(|id| alive.iter().any(|owner| owner.id == **id))
                    .copied()
            })
            .ok()
            .flatten();
        let Some(id) = here else {
            return Route::Everyone;
        };
        // A remote parent's trace is not claimed: another test may send the same trace id.
        if !parent.span().span_context().is_valid() {
            self.traces.insert(trace_id, id);
        }
        Route::Capture(id)
    }

    fn recipients(&self, route: Route) -> Option<Recipients> {
        match route {
            Route::Capture(id) => self
                .alive
                .iter()
                .find(|owner| owner.id == id)
                .map(|owner| Recipients::One(Arc::clone(owner))),
            Route::Everyone => Some(Recipients::All(self.alive.clone())),
        }
    }

    /// What is known for sure of every alive capture's sampler.
    fn hints(&self) -> SamplerHints {
        self.alive
            .iter()
            .map(|owner| owner.hints)
            .reduce(|a, b| SamplerHints {
                drops_unsampled_children: a.drops_unsampled_children && b.drops_unsampled_children,
                samples_sampled_children: a.samples_sampled_children && b.samples_sampled_children,
                samples_roots: a.samples_roots && b.samples_roots,
                ignores_names: a.ignores_names && b.ignores_names,
            })
            .unwrap_or_default()
    }
}

/// Asks the sampler of the capture a span belongs to.
#[derive(Clone, Debug)]
struct RoutingSampler(Arc<Routes>);

impl ShouldSample for RoutingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let root = Context::new();
        let parent = parent_context.unwrap_or(&root);
        let recipients = {
            let mut table = lock(&self.0.table);
            let route = table.route(parent, trace_id);
            table.recipients(route)
        };
        let ask = |owner: &Owner| {
            owner
                .sampler
                .should_sample(Some(parent), trace_id, name, span_kind, attributes, links)
        };
        let mut decided = None;
        match recipients {
            Some(Recipients::One(owner)) => decided = Some(ask(&owner)),
            Some(Recipients::All(owners)) => {
                for owner in &owners {
                    let result = ask(owner);
                    let sampled = result.decision == SamplingDecision::RecordAndSample;
                    decided = Some(result);
                    if sampled {
                        break;
                    }
                }
            }
            // The capture this trace belongs to is gone.
            None => {}
        }
        decided.unwrap_or_else(|| SamplingResult {
            decision: SamplingDecision::Drop,
            attributes: Vec::new(),
            trace_state: parent.span().span_context().trace_state().clone(),
        })
    }
}

/// Hands each finished span to the capture (or captures) it belongs to.
#[derive(Debug)]
struct RoutingProcessor(Arc<Routes>);

impl OnStart for RoutingProcessor {
    fn on_start(&self, span_context: &SpanContext, parent: &Context) {
        let key = (span_context.trace_id(), span_context.span_id());
        let mut table = lock(&self.0.table);
        let route = table.route(parent, key.0);
        table.open.insert(key, route);
    }
}

impl SpanProcessor for RoutingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        OnStart::on_start(self, span.span_context(), cx);
    }

    fn on_end(&self, span: SpanData) {
        let key = (span.span_context.trace_id(), span.span_context.span_id());
        let recipients = {
            let mut table = lock(&self.0.table);
            let route = table.open.remove(&key);
            route.and_then(|route| table.recipients(route))
        };
        match recipients {
            Some(Recipients::One(owner)) => lock(&owner.spans).push(span),
            Some(Recipients::All(owners)) => {
                for owner in owners {
                    lock(&owner.spans).push(span.clone());
                }
            }
            None => {}
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Locks `mutex`, going on past a panic of another holder (a failed test must not fail others).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One finished span, as the exporter received it: its name, kind, status, typed attributes,
/// events and place in its trace.
///
/// ```
/// use maestro_trace::otel::trace::SpanKind;
/// use maestro_trace::{record_errors, testing, traced};
///
/// #[traced("validate_model", kind = client, attrs(model_type = kind, epochs))]
/// #[record_errors]
/// fn validate(kind: &str, epochs: i64) -> Result<(), String> {
///     Err(format!("{kind} weights are missing"))
/// }
///
/// let capture = testing::capture();
/// let _ = validate("pytorch", 3);
/// let span = capture.span("validate_model");
/// assert_eq!(span.kind(), SpanKind::Client);
/// assert_eq!(span.attr_str("model_type").as_deref(), Some("pytorch"));
/// assert_eq!(span.attr_i64("epochs"), Some(3));
/// assert!(span.is_error() && span.is_root());
/// let exception = span.event("exception");
/// assert_eq!(
///     exception.attr_str("exception.message").as_deref(),
///     Some("pytorch weights are missing")
/// );
/// ```
#[derive(Clone, Debug)]
pub struct CapturedSpan {
    data: SpanData,
}

impl CapturedSpan {
    /// The span's name.
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// The span's kind.
    pub fn kind(&self) -> SpanKind {
        self.data.span_kind.clone()
    }

    /// The span's status.
    pub fn status(&self) -> Status {
        self.data.status.clone()
    }

    /// Whether the status is Error.
    pub fn is_error(&self) -> bool {
        matches!(self.data.status, Status::Error { .. })
    }

    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<Value> {
        find(&self.data.attributes, key)
    }

    /// The value of attribute `key` if it is a string.
    pub fn attr_str(&self, key: &str) -> Option<String> {
        string_of(self.attr(key)?)
    }

    /// The value of attribute `key` if it is an integer.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attr(key)? {
            Value::I64(v) => Some(v),
            _ => None,
        }
    }

    /// The value of attribute `key` if it is a float.
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        match self.attr(key)? {
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The value of attribute `key` if it is a boolean.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        match self.attr(key)? {
            Value::Bool(v) => Some(v),
            _ => None,
        }
    }

    /// Every attribute, in the order recorded.
    pub fn attributes(&self) -> &[KeyValue] {
        &self.data.attributes
    }

    /// The span's events, in order.
    pub fn events(&self) -> Vec<CapturedEvent<'_>> {
        self.data
            .events
            .iter()
            .map(|event| CapturedEvent { event })
            .collect()
    }

    /// The one event named `name`.
    ///
    /// # Panics
    /// If there is no such event or more than one, listing the events that were seen.
    #[track_caller]
    pub fn event(&self, name: &str) -> CapturedEvent<'_> {
        let events = self.events();
        let matching: Vec<_> = events.iter().filter(|e| e.name() == name).collect();
        if matching.len() != 1 {
            panic!(
                "expected exactly one event named `{name}` on span `{}`, found {}; events seen: {:?}",
                self.name(),
                matching.len(),
                events.iter().map(CapturedEvent::name).collect::<Vec<_>>()
            );
        }
        *matching[0]
    }

    /// The trace this span belongs to.
    pub fn trace_id(&self) -> TraceId {
        self.data.span_context.trace_id()
    }

    /// This span's id.
    pub fn span_id(&self) -> SpanId {
        self.data.span_context.span_id()
    }

    /// The parent's span id (`SpanId::INVALID` for a root).
    pub fn parent_span_id(&self) -> SpanId {
        self.data.parent_span_id
    }

    /// Whether this span starts its trace (no parent).
    pub fn is_root(&self) -> bool {
        self.data.parent_span_id == SpanId::INVALID
    }

    /// Whether `parent` is this span's direct parent (same trace, parent id matches).
    pub fn is_child_of(&self, parent: &CapturedSpan) -> bool {
        self.trace_id() == parent.trace_id() && self.data.parent_span_id == parent.span_id()
    }

    /// The span contexts this span links to, in the order added.
    pub fn links(&self) -> Vec<SpanContext> {
        self.data
            .links
            .iter()
            .map(|link| link.span_context.clone())
            .collect()
    }

    /// Whether this span has a link to `other` (its trace and span id).
    pub fn is_linked_to(&self, other: &CapturedSpan) -> bool {
        self.data.links.iter().any(|link| {
            link.span_context.trace_id() == other.trace_id()
                && link.span_context.span_id() == other.span_id()
        })
    }

    /// The exporter's full record of the span.
    pub fn data(&self) -> &SpanData {
        &self.data
    }
}

/// One event of a captured span.
#[derive(Clone, Copy, Debug)]
pub struct CapturedEvent<'a> {
    event: &'a Event,
}

impl CapturedEvent<'_> {
    /// The event's name.
    pub fn name(&self) -> &str {
        let name: &Cow<'static, str> = &self.event.name;
        name
    }

    /// The value of attribute `key`, if set.
    pub fn attr(&self, key: &str) -> Option<Value> {
        find(&self.event.attributes, key)
    }

    /// The value of attribute `key` if it is a string.
    pub fn attr_str(&self, key: &str) -> Option<String> {
        string_of(self.attr(key)?)
    }
}

fn string_of(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

fn find(attributes: &[KeyValue], key: &str) -> Option<Value> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}
