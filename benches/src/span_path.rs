//! PROTOTYPE, for measurement only (issue 13, `docs/span-path.md`): a compact span record kept
//! on the caller's thread, handed to an export thread in batches and turned into the SDK's
//! `SpanData` there. Nothing in `maestro-trace` uses it; it exists to put numbers on the design
//! choices of the note (`benches/benches/span_path.rs`: time; `src/bin/allocs.rs --prototype`:
//! allocations). It does not sample, make spans current, apply limits or shut down cleanly.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SpanData, SpanEvents, SpanLinks};

/// Spans per hand-off from a caller's thread to the export side.
pub const HANDOFF: usize = 512;
/// Batches waiting for the export side at most; a hand-off beyond that drops its spans
/// (counted), as a full queue does today: the caller never waits and memory stays bounded.
pub const IN_FLIGHT: usize = 16;

/// An attribute value as the caller records it: no allocation for scalars and `&'static str`,
/// owned text copied into the batch's shared text buffer.
#[derive(Clone, Copy, Debug)]
pub enum CompactValue {
    /// `bool`.
    Bool(bool),
    /// `i64`.
    I64(i64),
    /// `f64`.
    F64(f64),
    /// A string the program holds for ever (a literal).
    Static(&'static str),
    /// A string copied into [`Batch::text`] at `start..start + len`.
    Text {
        /// Byte offset in the batch's text buffer.
        start: u32,
        /// Length in bytes.
        len: u32,
    },
}

/// One attribute: keys of macro spans are literals.
#[derive(Clone, Copy, Debug)]
pub struct CompactAttr {
    /// The key.
    pub key: &'static str,
    /// The value.
    pub value: CompactValue,
}

/// One ended span on the caller's thread.
#[derive(Clone, Debug)]
pub struct CompactSpan {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Parent span id (`INVALID` for a root).
    pub parent_span_id: SpanId,
    /// Sampled flag and friends.
    pub flags: TraceFlags,
    /// Whether the parent came from another process.
    pub parent_remote: bool,
    /// The macro's name.
    pub name: &'static str,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, in clock ticks ([`fastant::Instant`]).
    pub start: fastant::Instant,
    /// End, in clock ticks.
    pub end: fastant::Instant,
    /// Attributes: `attrs[attr_start..attr_start + attr_len]` of the batch.
    pub attr_start: u32,
    /// How many.
    pub attr_len: u32,
}

/// What a caller's thread hands over: spans, their attributes and the text they point into.
#[derive(Debug, Default)]
pub struct Batch {
    /// Ended spans.
    pub spans: Vec<CompactSpan>,
    /// Attributes of every span, in order.
    pub attrs: Vec<CompactAttr>,
    /// Owned attribute text.
    pub text: String,
    /// Where the export side sends the emptied buffers back (recycling: the caller's thread
    /// allocates them once and frees nothing the export thread allocated, and vice versa).
    pub back: Option<Sender<Batch>>,
}

impl Batch {
    fn with_capacity() -> Batch {
        Batch {
            spans: Vec::with_capacity(HANDOFF),
            attrs: Vec::with_capacity(HANDOFF * 4),
            text: String::with_capacity(HANDOFF * 16),
            back: None,
        }
    }
}

/// The export side: a thread that turns batches into `SpanData` and counts and drops them (as
/// the benches' discarding exporter does).
#[derive(Debug)]
pub struct Sink {
    sender: SyncSender<Batch>,
    /// Spans converted so far.
    pub converted: Arc<AtomicU64>,
    /// Spans dropped because [`IN_FLIGHT`] batches were already waiting (one atomic add per
    /// dropped batch, not per span).
    pub dropped: AtomicU64,
}

/// The process's sink, started on first use.
pub fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| {
        let (sender, batches) = mpsc::sync_channel(IN_FLIGHT);
        let converted = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&converted);
        std::thread::Builder::new()
            .name("prototype-export".to_owned())
            .spawn(move || export_thread(batches, &counted))
            .expect("the prototype's export thread starts");
        Sink {
            sender,
            converted,
            dropped: AtomicU64::new(0),
        }
    })
}

fn export_thread(batches: Receiver<Batch>, converted: &AtomicU64) {
    let anchor = fastant::Anchor::new();
    let scope = InstrumentationScope::builder("maestro-trace").build();
    while let Ok(mut batch) = batches.recv() {
        let data = to_span_data(&batch, &anchor, &scope);
        converted.fetch_add(data.len() as u64, Ordering::Relaxed);
        drop(std::hint::black_box(data));
        if let Some(back) = batch.back.take() {
            batch.spans.clear();
            batch.attrs.clear();
            batch.text.clear();
            let _ = back.send(batch);
        }
    }
}

/// The export side's conversion: every compact span of `batch` as the SDK's `SpanData`, exactly
/// the fields the SDK fills in for a span ended without events or links.
pub fn to_span_data(
    batch: &Batch,
    anchor: &fastant::Anchor,
    scope: &InstrumentationScope,
) -> Vec<SpanData> {
    batch
        .spans
        .iter()
        .map(|span| {
            let attrs =
                &batch.attrs[span.attr_start as usize..(span.attr_start + span.attr_len) as usize];
            SpanData {
                span_context: SpanContext::new(
                    span.trace_id,
                    span.span_id,
                    span.flags,
                    false,
                    TraceState::NONE,
                ),
                parent_span_id: span.parent_span_id,
                parent_span_is_remote: span.parent_remote,
                span_kind: span.kind.clone(),
                name: Cow::Borrowed(span.name),
                start_time: unix(span.start, anchor),
                end_time: unix(span.end, anchor),
                attributes: attrs
                    .iter()
                    .map(|attr| KeyValue::new(attr.key, value(attr.value, &batch.text)))
                    .collect(),
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status: Status::Unset,
                instrumentation_scope: scope.clone(),
            }
        })
        .collect()
}

fn unix(at: fastant::Instant, anchor: &fastant::Anchor) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(at.as_unix_nanos(anchor))
}

fn value(value: CompactValue, text: &str) -> Value {
    match value {
        CompactValue::Bool(b) => Value::Bool(b),
        CompactValue::I64(i) => Value::I64(i),
        CompactValue::F64(f) => Value::F64(f),
        CompactValue::Static(s) => Value::from(s),
        CompactValue::Text { start, len } => {
            Value::from(text[start as usize..(start + len) as usize].to_owned())
        }
    }
}

/// A span value for the raw API's `Context` that does no span work: a span context and a record
/// of `R` that its end moves out (as a real span hands its record on).
///
/// `Handle` (no record: 64 bytes) is the smallest value `Context::with_span` accepts, what a
/// compact span would hand it; [`SizedHandle`] is as large as maestro-trace's own recording
/// span, to measure what the context costs a span of that size.
#[derive(Debug)]
pub struct Handle<R = ()> {
    span_context: SpanContext,
    record: Option<R>,
}

/// As large as maestro-trace's recording span (272 bytes: its span context, its 192-byte record
/// and a pointer to its pipeline).
pub type SizedHandle = Handle<[u64; 25]>;

const _: () = assert!(std::mem::size_of::<SizedHandle>() == 272);

impl Handle {
    pub fn new(span_context: SpanContext) -> Handle {
        Handle {
            span_context,
            record: Some(()),
        }
    }
}

impl SizedHandle {
    pub fn sized(span_context: SpanContext) -> SizedHandle {
        Handle {
            span_context,
            record: Some([0; 25]),
        }
    }
}

impl<R: std::fmt::Debug + Send + Sync + 'static> opentelemetry::trace::Span for Handle<R> {
    fn add_event_with_timestamp<T>(&mut self, _: T, _: SystemTime, _: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
    }
    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }
    fn is_recording(&self) -> bool {
        self.record.is_some()
    }
    fn set_attribute(&mut self, _: KeyValue) {}
    fn set_status(&mut self, _: Status) {}
    fn update_name<T>(&mut self, _: T)
    where
        T: Into<Cow<'static, str>>,
    {
    }
    fn add_link(&mut self, _: SpanContext, _: Vec<KeyValue>) {}
    fn end_with_timestamp(&mut self, _: SystemTime) {
        std::hint::black_box(self.record.take());
    }
}

/// The caller's thread state: the open batch, the id generator, the way to the export side.
#[derive(Debug)]
struct Local {
    batch: Batch,
    ids: RandomIdGenerator,
    sender: SyncSender<Batch>,
    /// Whether hand-offs reuse the buffers the export side sends back ([`set_recycling`]).
    recycle: bool,
    returned: Receiver<Batch>,
    back: Sender<Batch>,
}

thread_local! {
    static LOCAL: RefCell<Local> = {
        let (back, returned) = mpsc::channel();
        RefCell::new(Local {
            batch: Batch::with_capacity(),
            ids: RandomIdGenerator::default(),
            sender: sink().sender.clone(),
            recycle: false,
            returned,
            back,
        })
    };
}

/// Whether this thread's hand-offs reuse buffers sent back by the export side (`true`) or
/// allocate fresh ones that the export thread frees (`false`, the default).
pub fn set_recycling(on: bool) {
    LOCAL.with(|local| local.borrow_mut().recycle = on);
}

/// What a started prototype span holds on the caller's stack until it ends.
#[derive(Debug)]
pub struct Open {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId,
    name: &'static str,
    start: fastant::Instant,
    attr_start: u32,
}

/// Starts a span under `parent` (a root when `None`): ids and the start time, nothing else.
#[inline]
pub fn start(name: &'static str, parent: Option<(TraceId, SpanId)>) -> Open {
    LOCAL.with(|local| {
        let local = local.borrow();
        let (trace_id, parent_span_id) = match parent {
            Some(parent) => parent,
            None => (local.ids.new_trace_id(), SpanId::INVALID),
        };
        Open {
            trace_id,
            span_id: local.ids.new_span_id(),
            parent_span_id,
            name,
            start: fastant::Instant::now(),
            attr_start: local.batch.attrs.len() as u32,
        }
    })
}

/// Records an attribute of the open span (it must be the innermost one on this thread).
#[inline]
pub fn attr(key: &'static str, value: CompactValue) {
    LOCAL.with(|local| {
        local
            .borrow_mut()
            .batch
            .attrs
            .push(CompactAttr { key, value })
    });
}

/// Records a string attribute whose value is copied into the batch's text buffer.
#[inline]
pub fn attr_text(key: &'static str, text: &str) {
    LOCAL.with(|local| {
        let batch = &mut local.borrow_mut().batch;
        let start = batch.text.len() as u32;
        batch.text.push_str(text);
        batch.attrs.push(CompactAttr {
            key,
            value: CompactValue::Text {
                start,
                len: text.len() as u32,
            },
        });
    });
}

/// Ends the span: the end time, one push, and every [`HANDOFF`] spans one channel send.
#[inline]
pub fn end(open: Open) {
    let end = fastant::Instant::now();
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        // A hand-off while the span was open took its attributes with it (the prototype's
        // variants record attributes only on spans without children, so none are lost; the
        // design keeps an open span's attributes with the span instead).
        let attr_len = (local.batch.attrs.len() as u32).saturating_sub(open.attr_start);
        let attr_start = open.attr_start.min(local.batch.attrs.len() as u32);
        local.batch.spans.push(CompactSpan {
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent_span_id: open.parent_span_id,
            flags: TraceFlags::SAMPLED,
            parent_remote: false,
            name: open.name,
            kind: SpanKind::Internal,
            start: open.start,
            end,
            attr_start,
            attr_len,
        });
        if local.batch.spans.len() >= HANDOFF {
            let next = if local.recycle {
                local
                    .returned
                    .try_recv()
                    .unwrap_or_else(|_| Batch::with_capacity())
            } else {
                Batch::with_capacity()
            };
            let mut full = std::mem::replace(&mut local.batch, next);
            full.back = local.recycle.then(|| local.back.clone());
            hand_off(&local.sender, full);
        }
    });
}

thread_local! {
    /// The same open batch behind a per-thread mutex that a flushing thread could also lock
    /// (the alternative to a lock-free per-thread queue: uncontended but not free).
    static LOCKED: Arc<std::sync::Mutex<Batch>> = Arc::new(std::sync::Mutex::new(Batch::with_capacity()));
}

/// [`end`], with the batch behind a per-thread mutex (`LOCKED`).
#[inline]
pub fn end_locked(open: Open) {
    let end = fastant::Instant::now();
    LOCKED.with(|locked| {
        let mut batch = locked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // No attributes in this variant (`open.attr_start` points into the other buffer).
        batch.spans.push(CompactSpan {
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent_span_id: open.parent_span_id,
            flags: TraceFlags::SAMPLED,
            parent_remote: false,
            name: open.name,
            kind: SpanKind::Internal,
            start: open.start,
            end,
            attr_start: 0,
            attr_len: 0,
        });
        if batch.spans.len() >= HANDOFF {
            let full = std::mem::replace(&mut *batch, Batch::with_capacity());
            drop(batch);
            LOCAL.with(|local| hand_off(&local.borrow().sender, full));
        }
    });
}

/// Sends `batch` to the export side, or drops its spans (counted) when [`IN_FLIGHT`] batches are
/// already waiting; a dropped batch's buffers go straight back to its thread for reuse.
fn hand_off(sender: &SyncSender<Batch>, batch: Batch) {
    match sender.try_send(batch) {
        Ok(()) => {}
        Err(TrySendError::Full(mut batch) | TrySendError::Disconnected(mut batch)) => {
            sink()
                .dropped
                .fetch_add(batch.spans.len() as u64, Ordering::Relaxed);
            if let Some(back) = batch.back.take() {
                batch.spans.clear();
                batch.attrs.clear();
                batch.text.clear();
                let _ = back.send(batch);
            }
        }
    }
}

/// A ready-made batch of `n` spans with `attrs` attributes each (3 kinds: static, int, text),
/// for timing the conversion alone.
pub fn sample_batch(n: usize, attrs: usize) -> Batch {
    let ids = RandomIdGenerator::default();
    let mut batch = Batch::default();
    for _ in 0..n {
        let attr_start = batch.attrs.len() as u32;
        for i in 0..attrs {
            let value = match i % 3 {
                0 => CompactValue::Static("resnet50"),
                1 => CompactValue::I64(i as i64),
                _ => {
                    let start = batch.text.len() as u32;
                    batch.text.push_str("pytorch");
                    CompactValue::Text { start, len: 7 }
                }
            };
            batch.attrs.push(CompactAttr {
                key: "model.attr",
                value,
            });
        }
        let now = fastant::Instant::now();
        batch.spans.push(CompactSpan {
            trace_id: ids.new_trace_id(),
            span_id: ids.new_span_id(),
            parent_span_id: SpanId::INVALID,
            flags: TraceFlags::SAMPLED,
            parent_remote: false,
            name: crate::NAME,
            kind: SpanKind::Internal,
            start: now,
            end: now,
            attr_start,
            attr_len: attrs as u32,
        });
    }
    batch
}

/// The prototype's versions of the benchmark variants.
pub mod variants {
    use super::*;
    use std::hint::black_box;

    /// `sync`: a root span around the call (the `sync_recycled` rows run it after
    /// [`set_recycling`]`(true)`).
    #[inline(never)]
    pub fn sync(x: u64) -> u64 {
        let open = start(crate::NAME, None);
        let out = black_box(x);
        end(open);
        out
    }

    /// `sync`, ended through the per-thread mutex ([`end_locked`]).
    #[inline(never)]
    pub fn sync_locked(x: u64) -> u64 {
        let open = start(crate::NAME, None);
        let out = black_box(x);
        end_locked(open);
        out
    }

    /// `nested`: a parent and 10 children.
    #[inline(never)]
    pub fn nested(x: u64) -> u64 {
        let parent = start(crate::NAME, None);
        let ids = (parent.trace_id, parent.span_id);
        let out = (0..crate::CHILDREN)
            .map(|i| {
                let child = start("score_row", Some(ids));
                let out = black_box(x + i);
                end(child);
                out
            })
            .sum();
        end(parent);
        out
    }

    /// `attrs3`.
    #[inline(never)]
    pub fn attrs3(x: u64) -> u64 {
        let open = start(crate::NAME, None);
        attr("model.name", CompactValue::Static("resnet50"));
        attr("model.version", CompactValue::I64(3));
        attr("batch.size", CompactValue::I64(x as i64));
        let out = black_box(x);
        end(open);
        out
    }

    /// `struct`: the two strings copied into the batch's text.
    #[inline(never)]
    pub fn with_struct(model: &crate::ModelAttrs) -> u64 {
        let open = start(crate::NAME, None);
        attr_text("model.id", &model.id);
        attr_text("model.framework", &model.framework);
        attr("model.version", CompactValue::I64(model.version));
        attr("model.accuracy", CompactValue::F64(model.accuracy));
        attr("model.production", CompactValue::Bool(model.production));
        let out = black_box(model.version as u64);
        end(open);
        out
    }
}
