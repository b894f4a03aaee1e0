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
//! A capture installs its own pipeline (every span sampled, exported synchronously on end) and
//! the default propagators (W3C trace context and baggage), and
//! holds a process-wide lock while alive, so tests that capture run one at a time even under
//! `cargo test`'s parallel runner. Dropping it restores whatever pipeline was installed before.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use opentelemetry::trace::{Event, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, SpanData};

use crate::config::Propagator;
use crate::pipeline::{self, Pipeline, SamplerHints};
use crate::tree::{self, TreeStyle};

static CAPTURE_LOCK: Mutex<()> = Mutex::new(());

/// Starts capturing every span, sampled with `AlwaysOn`.
pub fn capture() -> Capture {
    capture_with_sampler(Sampler::AlwaysOn)
}

/// Starts capturing with `sampler` deciding which spans record (e.g. `Sampler::AlwaysOff`, to
/// test what an unsampled call costs or evaluates).
pub fn capture_with_sampler(sampler: Sampler) -> Capture {
    let lock = CAPTURE_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let hints = SamplerHints::of_sdk(&sampler);
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_simple_exporter(exporter.clone())
        .build();
    let previous = pipeline::install(Some(Pipeline::new(provider.clone(), hints)));
    // Propagation as `init` sets it up by default, so tests of incoming and outgoing context
    // (middleware, clients) see what a service would.
    opentelemetry::global::set_text_map_propagator(crate::propagation::composite(&[
        Propagator::TraceContext,
        Propagator::Baggage,
    ]));
    Capture {
        exporter,
        provider,
        previous: Some(previous),
        _lock: lock,
    }
}

/// The spans finished since [`capture`] began; see the module docs.
pub struct Capture {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    previous: Option<Option<Pipeline>>,
    _lock: MutexGuard<'static, ()>,
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
        let mut spans: Vec<CapturedSpan> = self
            .exporter
            .get_finished_spans()
            .unwrap_or_default()
            .into_iter()
            .map(|data| CapturedSpan { data })
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
        self.exporter.reset();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            pipeline::install(previous);
        }
        let _ = self.provider.shutdown();
        // `_lock` is released after this body: the next capturing test starts only now.
    }
}

/// One finished span, as the exporter received it.
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
