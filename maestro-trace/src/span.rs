//! Spans as values: started by the macros, made current for a closure (`in_scope`) or for every
//! poll of a future (`in_span`), ended exactly once.
//!
//! There is deliberately no guard type that user code can hold across an `.await`: a thread-local
//! "current span" guard living in a suspended future would leak into whatever the executor polls
//! next on that thread.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::baggage::{Baggage, BaggageExt as _};
use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::trace::{
    Link, SpanContext, SpanId, SpanKind, SpanRef, Status, TraceContextExt, TraceId,
};
use opentelemetry::{Context, ContextGuard, KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{EXCEPTION_MESSAGE, EXCEPTION_TYPE};
use pin_project_lite::pin_project;

use crate::attributes::{AttributeValue, Recorder, SpanAttributes};
use crate::finished::{self, Attribute};
use crate::recording::{self, Begin};
use crate::{clock, pipeline};

/// The name of the event added to a span whose future was dropped before it completed.
pub const CANCELLED_EVENT: &str = "cancelled";
/// The name of the event that records an error or a panic (OpenTelemetry semantic conventions).
pub const EXCEPTION_EVENT: &str = "exception";
/// `exception.type` of a panic.
pub const PANIC_TYPE: &str = "panic";

/// A started span, created by [`span!`](crate::span!) (or by the macros internally).
///
/// Make it current with [`Span::in_scope`] (sync) or
/// [`TraceFutureExt::in_span`] (async); it ends when that scope or future ends, or when the
/// value is dropped. With tracing disabled it is an empty value and every method is a no-op.
///
/// ```
/// use maestro_trace::{span, TraceFutureExt};
///
/// fn validate(data: &str) -> Result<(), String> {
///     if data.is_empty() { Err("empty".into()) } else { Ok(()) }
/// }
///
/// # fn main() -> Result<(), String> {
/// let data = "weights";
/// span!("validate_model", model_type = "pytorch").in_scope(|| validate(data))?;
/// # Ok(()) }
/// ```
#[must_use = "a span does nothing until it is made current with `in_scope` or `in_span`"]
#[derive(Debug)]
pub struct Span {
    /// The context holding the span; `None` when tracing is off or once the span has ended.
    cx: Option<Context>,
    /// Whether the span in `cx` is this value's own. Not for a child of an unsampled parent
    /// under a parent-based sampler: that child would be dropped, so it is never created; it
    /// carries the parent's context on instead, records nothing and ends nothing.
    owned: bool,
}

/// What the macros know about a span at compile time.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanMeta {
    /// The validated span name.
    pub name: &'static str,
    /// The span kind.
    pub kind: SpanKind,
    /// Start a new trace instead of a child of the current span.
    pub root: bool,
    /// How many entries its attribute list has (0: nothing to record).
    pub attrs: usize,
    /// How many of them are `key = value` entries (the initial capacity; a bare argument that
    /// is an attribute struct reserves room for its own attributes).
    pub keyed: usize,
}

impl SpanMeta {
    /// Runs `record` into a buffer (one of the thread's spares) with room for this span's
    /// `key = value` attributes.
    fn record(&self, record: impl FnOnce(&mut Recorder<'_>)) -> Vec<Attribute> {
        let mut attributes = finished::buffer(self.keyed);
        record(&mut Recorder::new(&mut attributes));
        attributes
    }
}

impl Span {
    /// A span that records nothing: what every macro yields while tracing is disabled.
    pub const fn none() -> Span {
        Span {
            cx: None,
            owned: false,
        }
    }

    /// Starts a span described by `meta`; `record` runs only if the span is sampled.
    #[inline]
    pub(crate) fn start(meta: &SpanMeta, record: impl FnOnce(&mut Recorder<'_>)) -> Span {
        if !pipeline::enabled() {
            return Span::none();
        }
        Span::start_enabled(meta, Context::current(), None::<fn(&mut Vec<Link>)>, record)
    }

    /// Starts a span under `parent` (the current context when it yields `None`) with the links
    /// `links` pushes; `parent` runs only while tracing is on, `links` and `record` only if the
    /// span is sampled.
    #[inline]
    pub(crate) fn start_with(
        meta: &SpanMeta,
        parent: impl FnOnce() -> Option<Context>,
        links: impl FnOnce(&mut Vec<Link>),
        record: impl FnOnce(&mut Recorder<'_>),
    ) -> Span {
        if !pipeline::enabled() {
            return Span::none();
        }
        let parent = parent().unwrap_or_else(Context::current);
        Span::start_enabled(meta, parent, Some(links), record)
    }

    fn start_enabled(
        meta: &SpanMeta,
        parent: Context,
        links: Option<impl FnOnce(&mut Vec<Link>)>,
        record: impl FnOnce(&mut Recorder<'_>),
    ) -> Span {
        let Some(active) = pipeline::active() else {
            return Span::none();
        };
        let sampled_for_sure = {
            let parent_span = parent.span();
            let parent_context =
                Some(parent_span.span_context()).filter(|sc| !meta.root && sc.is_valid());
            if active.hints.drops_child_of(parent_context) {
                // The sampler would drop this span: skip building it, allocate nothing, and
                // keep the parent's (unsampled) context current for the body.
                return Span {
                    cx: Some(parent),
                    owned: false,
                };
            }
            active.hints.samples(parent_context)
        };
        let mut begin = Begin::new(meta.name, meta.kind.clone());
        let mut record = (meta.attrs > 0).then_some(record);
        let mut links = links;
        let mut recorded = Vec::new();
        if sampled_for_sure {
            // Known to be sampled: the attributes go into the span as it is built, in the one
            // buffer the span keeps (no second buffer, no attribute-by-attribute copy), and
            // the sampler is not asked.
            if let Some(record) = record.take() {
                recorded = meta.record(record);
            }
            if let Some(links) = links.take() {
                begin.links = collect_links(links);
            }
        }
        let build = |cx: &Context| {
            let decided = sampled_for_sure.then(|| recording::sampled_for_sure(cx));
            active.sink.build(begin, recorded, cx, decided)
        };
        let mut started = if meta.root {
            build(&root_context(&parent))
        } else {
            build(&parent)
        };
        // Recorded in place: the span is moved once, into the context (not out of `started`
        // first). A span not sampled goes into the context as its span context alone.
        started.recording(|span| {
            if let Some(record) = record {
                // Sampled after all (e.g. by a ratio): record now.
                span.record(meta.record(record));
            }
            if let Some(links) = links {
                span.start_links(collect_links(links));
            }
        });
        Span {
            cx: Some(started.into_context(&parent)),
            owned: true,
        }
    }

    /// A span whose context was started elsewhere in the crate (server and client spans).
    #[cfg(any(feature = "actix", feature = "awc", feature = "reqwest"))]
    pub(crate) fn from_context(cx: Context) -> Span {
        Span {
            cx: Some(cx),
            owned: true,
        }
    }

    /// The context of this span if the span is this value's own (see [`Span::owned`]).
    fn own(&self) -> Option<&Context> {
        self.cx.as_ref().filter(|_| self.owned)
    }

    /// `self`, unless it is empty (tracing off): then it is forgotten, which skips running its
    /// destructor for nothing.
    #[inline]
    pub(crate) fn started(self) -> Option<Span> {
        if self.cx.is_some() {
            Some(self)
        } else {
            std::mem::forget(self);
            None
        }
    }

    /// Whether this span is sampled and records what is set on it.
    pub fn is_recording(&self) -> bool {
        self.own().is_some_and(|cx| cx.span().is_recording())
    }

    /// The OpenTelemetry context carrying this span, to hand to raw `opentelemetry` code or a
    /// propagator. `None` when tracing is disabled or the span has ended.
    pub fn context(&self) -> Option<&Context> {
        self.cx.as_ref()
    }

    /// The trace id of this span, if it is a valid (started) span.
    pub fn trace_id(&self) -> Option<TraceId> {
        let cx = self.cx.as_ref()?;
        let span = cx.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| span_context.trace_id())
    }

    /// The span context of this span, to link another span to it (`links = [..]` of the
    /// macros, [`Span::add_link`]) or to hand to a worker as its `parent = ..`. `None` when
    /// tracing is disabled or the span has ended.
    ///
    /// ```
    /// use maestro_trace::{span, testing};
    ///
    /// let capture = testing::capture();
    /// let producer = span!("enqueue_training_job");
    /// let queued = producer.span_context();
    /// producer.end();
    /// span!("run_training_job", links = queued).in_scope(|| {});
    /// let consumer = capture.span("run_training_job");
    /// assert_eq!(consumer.links()[0].span_id(), capture.span("enqueue_training_job").span_id());
    /// ```
    pub fn span_context(&self) -> Option<SpanContext> {
        let cx = self.cx.as_ref()?;
        let span = cx.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| span_context.clone())
    }

    /// Links this span to `span_context` (a span it relates to outside of its parent: the
    /// producer of the message it handles, the requests a batch job merges). Nothing happens
    /// unless this span is sampled, or for an invalid span context.
    ///
    /// ```
    /// use maestro_trace::{span, testing};
    ///
    /// let capture = testing::capture();
    /// let request = span!("submit_training_job");
    /// let batch = span!("run_training_batch");
    /// if let Some(request) = request.span_context() {
    ///     batch.add_link(request);
    /// }
    /// drop((request, batch));
    /// let submitted = capture.span("submit_training_job");
    /// assert_eq!(capture.span("run_training_batch").links()[0].span_id(), submitted.span_id());
    /// ```
    pub fn add_link(&self, span_context: SpanContext) {
        if let Some(cx) = self.own() {
            let span = cx.span();
            if span.is_recording() && span_context.is_valid() {
                span.add_link(span_context, Vec::new());
            }
        }
    }

    /// Runs `f` with this span current, then ends the span. A panic in `f` ends it with status
    /// Error and an `exception` event; the panic continues.
    pub fn in_scope<R>(self, f: impl FnOnce() -> R) -> R {
        let _scope = SpanScope::enter(self);
        f()
    }

    /// Records every attribute of a `#[span_attrs]` struct on this span.
    pub fn record<A: SpanAttributes + ?Sized>(&self, group: &A) {
        if let Some(cx) = self.own() {
            record_on(cx, group);
        }
    }

    /// Sets one attribute on this span (`None` values are omitted).
    pub fn set_attribute<V: AttributeValue + ?Sized>(&self, key: &'static str, value: &V) {
        if let Some(cx) = self.own() {
            let span = cx.span();
            if span.is_recording() {
                let mut out = Vec::with_capacity(1);
                Recorder::new(&mut out).attr(key, value);
                span.set_attributes(finished::key_values(out));
            }
        }
    }

    /// Records `error` on this span: an `exception` event (`exception.type`, `exception.message`)
    /// and status Error with the error's message (its alternate `Display`, as
    /// [`record_error`](crate::record_error) writes it).
    pub fn record_error<E: Display + ?Sized>(&self, error: &E) {
        if let Some(cx) = self.own() {
            mark_error(cx, std::any::type_name::<E>(), || format!("{error:#}"));
        }
    }

    /// Ends the span now (it also ends when dropped).
    pub fn end(mut self) {
        self.end_in_place();
    }

    /// Takes the span out for ending, if it is this value's own to end.
    #[inline]
    fn take_own(&mut self) -> Option<Context> {
        let cx = self.cx.take()?;
        self.owned.then_some(cx)
    }

    #[inline]
    fn end_in_place(&mut self) {
        if self.cx.is_some() {
            if let Some(cx) = self.take_own() {
                end(&cx);
            }
        }
    }

    /// Ends the span with status Error and an `exception` event for the panic being unwound.
    fn end_panicked(&mut self) {
        if let Some(cx) = self.take_own() {
            mark_error(&cx, PANIC_TYPE, panic_message);
            cx.span().end_with_timestamp(clock::now());
        }
    }

    /// Ends a span whose future was dropped before completing, with a `cancelled` event.
    #[inline]
    fn end_cancelled(&mut self) {
        if self.cx.is_some() {
            if let Some(cx) = self.take_own() {
                cancel(&cx);
            }
        }
    }
}

/// Ends the span in `cx` now, by the clock its start was read from (out of line: the disabled
/// path stays a test of `None`). `SpanRef::end` would read the system clock instead: slower, and
/// not the clock of the span's start.
#[inline(never)]
pub(crate) fn end(cx: &Context) {
    cx.span().end_with_timestamp(clock::now());
}

/// Ends the span in `cx` with a `cancelled` event.
#[inline(never)]
pub(crate) fn cancel(cx: &Context) {
    let span = cx.span();
    let now = clock::now();
    span.add_event_with_timestamp(CANCELLED_EVENT, now, Vec::new());
    span.end_with_timestamp(now);
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        self.end_in_place();
    }
}

/// Records an exception on the span in `cx`, if it is recording (see [`record_exception`]).
/// The message of the panic being unwound, as an `exception` event records it.
fn panic_message() -> String {
    pipeline::panic_message().unwrap_or_else(|| "panicked".to_owned())
}

/// Records an exception on the span of `cx` if it records; `message` runs only then.
fn mark_error(cx: &Context, type_name: &'static str, message: impl FnOnce() -> String) {
    let span = cx.span();
    if span.is_recording() {
        record_exception(&span, type_name, message());
    }
}

/// Records an exception as the semantic conventions do, the one place every span kind does it
/// (spans of the macros, server and client spans): an `exception` event with `exception.type`
/// and `exception.message`, and status Error with the message as its description.
pub(crate) fn record_exception(
    span: &SpanRef<'_>,
    exception_type: impl Into<StringValue>,
    message: String,
) {
    span.add_event_with_timestamp(
        EXCEPTION_EVENT,
        clock::now(),
        vec![
            KeyValue::new(EXCEPTION_TYPE, exception_type.into()),
            KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}

/// An error as a user reads it: its message, then the message of each of its sources, joined
/// with `: ` (`io failure: permission denied`); a source whose message the text so far already
/// contains is skipped (an error that prints its cause itself, as `anyhow` contexts do).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

fn record_on<A: SpanAttributes + ?Sized>(cx: &Context, group: &A) {
    let span = cx.span();
    if span.is_recording() {
        let mut out = Vec::new();
        group.record_attributes(&mut Recorder::new(&mut out));
        span.set_attributes(finished::key_values(out));
    }
}

/// A span made current on this thread until the scope is dropped; ends the span then.
///
/// Used by `#[traced]` on synchronous functions. It is `!Send`, so it cannot live across an
/// `.await` in a spawned task.
///
/// The scope keeps no handle on the span: the context is moved into the thread's current
/// context (no clone), and the span is ended from there when the scope drops, identified by
/// its span id.
#[doc(hidden)]
#[derive(Debug)]
pub struct SpanScope {
    /// The id of the span this scope ends; `None` when there is nothing to end (tracing off,
    /// or a child of an unsampled parent that was never created).
    ends: Option<SpanId>,
    /// Whether the thread was already unwinding when the scope began (a span started inside a
    /// destructor during a panic must not blame itself for that panic).
    unwinding_at_entry: bool,
    _attached: Option<ContextGuard>,
}

impl SpanScope {
    /// Makes `span` current until the scope drops.
    #[inline]
    pub fn enter(mut span: Span) -> SpanScope {
        let cx = span.cx.take();
        let owned = span.owned;
        // Empty now: forgetting it skips a destructor call that would find nothing to end.
        std::mem::forget(span);
        match cx {
            None => SpanScope {
                ends: None,
                unwinding_at_entry: false,
                _attached: None,
            },
            Some(cx) => SpanScope::attach(cx, owned),
        }
    }

    fn attach(cx: Context, owned: bool) -> SpanScope {
        let ends = owned.then(|| cx.span().span_context().span_id());
        SpanScope {
            ends,
            unwinding_at_entry: std::thread::panicking(),
            _attached: Some(cx.attach()),
        }
    }

    /// Ends the span, which is the current one unless the body attached a context and leaked
    /// its guard; then the span ends when its context is released, just after this.
    #[inline(never)]
    fn end(&mut self) {
        let ends = self.ends.take();
        let panicked = !self.unwinding_at_entry && std::thread::panicking();
        Context::map_current(|cx| {
            let span = cx.span();
            if Some(span.span_context().span_id()) == ends {
                if panicked {
                    mark_error(cx, PANIC_TYPE, panic_message);
                }
                span.end_with_timestamp(clock::now());
            }
        });
    }
}

impl Drop for SpanScope {
    #[inline]
    fn drop(&mut self) {
        if self.ends.is_some() {
            self.end();
        }
        // `_attached` drops after this, restoring the previous current context.
    }
}

pin_project! {
    /// A future that runs with its span current during every poll and ends the span when it
    /// completes. Dropped unfinished, it ends the span with a `cancelled` event; a panic inside a
    /// poll ends it with status Error.
    ///
    /// Created by [`TraceFutureExt::in_span`] and by `#[traced]` on async code.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    pub struct InSpan<F> {
        #[pin]
        inner: F,
        span: Span,
    }

    impl<F> PinnedDrop for InSpan<F> {
        fn drop(this: Pin<&mut Self>) {
            this.project().span.end_cancelled();
        }
    }
}

impl<F> InSpan<F> {
    pub(crate) fn new(inner: F, span: Span) -> Self {
        InSpan { inner, span }
    }
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(cx) = this.span.cx.as_ref() else {
            return this.inner.poll(task);
        };
        let _attached = cx.clone().attach();
        let unwind = UnwindMark::new(this.span);
        let output = this.inner.poll(task);
        unwind.finish(output.is_ready());
        output
    }
}

/// Ends the span with Error if a poll unwinds through it; ends it normally when the future is done.
struct UnwindMark<'a> {
    span: &'a mut Span,
    armed: bool,
    unwinding_at_entry: bool,
}

impl<'a> UnwindMark<'a> {
    fn new(span: &'a mut Span) -> Self {
        UnwindMark {
            span,
            armed: true,
            unwinding_at_entry: std::thread::panicking(),
        }
    }

    /// The poll returned normally: end the span if the future completed.
    fn finish(mut self, completed: bool) {
        self.armed = false;
        if completed {
            self.span.end_in_place();
        }
    }
}

impl Drop for UnwindMark<'_> {
    fn drop(&mut self) {
        if self.armed && !self.unwinding_at_entry && std::thread::panicking() {
            self.span.end_panicked();
        }
    }
}

/// Tracing for futures: run one inside a span, or carry the current context into it.
///
/// ```
/// use maestro_trace::{span, TraceFutureExt};
///
/// async fn save(table: &str) -> Result<(), String> { Ok(()) }
///
/// # async fn handler() -> Result<(), String> {
/// save("models").in_span(span!("save_to_database", table = "models")).await?;
/// # Ok(()) }
/// ```
pub trait TraceFutureExt: Future + Sized {
    /// Runs this future with `span` current during every poll; the span ends when the future
    /// completes (or is dropped, marked `cancelled`).
    fn in_span(self, span: Span) -> InSpan<Self> {
        InSpan::new(self, span)
    }

    /// Captures the current context now and makes it current during every poll of this future:
    /// what a future handed to another task needs to stay in the caller's trace.
    fn in_current_span(self) -> WithContext<Self> {
        self.with_current_context()
    }
}

impl<F: Future> TraceFutureExt for F {}

/// `tokio::spawn` that keeps the spawned task in the caller's trace.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = maestro_trace::spawn(async { 1 + 1 });
/// assert_eq!(handle.await.ok(), Some(2));
/// # }
/// ```
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_span())
}

/// The span context of the current span, if there is a valid one: what a producer sends along
/// with the work it queues, for the consumer to link to (`links = [..]`) or to continue
/// (`parent = ..`).
///
/// ```
/// use maestro_trace::{span, testing};
///
/// let capture = testing::capture();
/// let queued = span!("enqueue_training_job").in_scope(maestro_trace::current_span_context);
/// assert_eq!(queued.map(|sc| sc.span_id()), Some(capture.span("enqueue_training_job").span_id()));
/// ```
pub fn current_span_context() -> Option<SpanContext> {
    Context::map_current(|cx| {
        let span = cx.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| span_context.clone())
    })
}

/// What `parent = ..` of [`#[traced]`](crate::traced) and [`span!`](crate::span) accepts: the
/// context or span to start the new span under, in place of the current one.
///
/// Implemented for `&Context` and `Context` (raw OpenTelemetry code, an extracted remote
/// context), `&Span` (a span handle) and `SpanContext` / `&SpanContext` (sent along with queued
/// work; the new span then keeps the current context's other values, such as baggage).
///
/// ```
/// use maestro_trace::{span, testing};
///
/// let capture = testing::capture();
/// let job = span!("train_model_job");
/// let epoch = span!("run_training_epoch", parent = &job);
/// drop((epoch, job));
/// assert!(capture.span("run_training_epoch").is_child_of(&capture.span("train_model_job")));
/// ```
#[diagnostic::on_unimplemented(
    message = "`parent = ..` takes a `&Context`, `Context`, `&Span` or `SpanContext`, not `{Self}`",
    label = "not a context or span to start under",
    note = "pass `&span` for a `maestro_trace::Span`, or `span.span_context()` sent from another thread"
)]
pub trait IntoParent {
    /// The context the new span starts under.
    fn into_parent(self) -> Context;
}

impl IntoParent for &Context {
    fn into_parent(self) -> Context {
        self.clone()
    }
}

impl IntoParent for Context {
    fn into_parent(self) -> Context {
        self
    }
}

/// A span handle's context; an empty handle (tracing off) gives an empty context, a new trace.
impl IntoParent for &Span {
    fn into_parent(self) -> Context {
        self.cx.clone().unwrap_or_default()
    }
}

impl IntoParent for SpanContext {
    fn into_parent(self) -> Context {
        Context::current().with_remote_span_context(self)
    }
}

impl IntoParent for &SpanContext {
    fn into_parent(self) -> Context {
        self.clone().into_parent()
    }
}

/// What each item of `links = ..` of [`#[traced]`](crate::traced) and [`span!`](crate::span)
/// can be: a span to link the new span to. `links` takes any `IntoIterator` of these (an
/// array, a `Vec`, a slice, an `Option`).
///
/// Implemented for `SpanContext` / `&SpanContext`, `&Span`, and `Link` (a link with
/// attributes); an invalid span context (an empty span, tracing off) adds no link.
#[diagnostic::on_unimplemented(
    message = "`links = ..` takes items that are a `SpanContext`, `&Span` or `Link`, not `{Self}`",
    label = "not a span to link to",
    note = "write `links = [span_context]`, `links = [&span]`, or pass a `Vec` or `Option` of them"
)]
pub trait IntoLink {
    /// The link, or `None` when there is nothing valid to link to.
    fn into_link(self) -> Option<Link>;
}

impl IntoLink for SpanContext {
    fn into_link(self) -> Option<Link> {
        self.is_valid().then(|| Link::with_context(self))
    }
}

impl IntoLink for &SpanContext {
    fn into_link(self) -> Option<Link> {
        self.is_valid().then(|| Link::with_context(self.clone()))
    }
}

impl IntoLink for &Span {
    fn into_link(self) -> Option<Link> {
        self.span_context().map(Link::with_context)
    }
}

impl IntoLink for Link {
    fn into_link(self) -> Option<Link> {
        self.span_context.is_valid().then_some(self)
    }
}

/// The context a `root` span starts in: no parent span, so a new trace, but the baggage of
/// `parent` kept, so the span processors (baggage span attributes) see what its children will.
/// (Not an invalid span context in `parent`: a parent-based sampler reads that as an unsampled
/// parent and drops the span.)
fn root_context(parent: &Context) -> Context {
    let baggage = parent.baggage();
    if baggage.is_empty() {
        Context::new()
    } else {
        let baggage: Baggage = baggage
            .iter()
            .map(|(key, entry)| (key.clone(), entry.clone()))
            .collect();
        Context::new().with_baggage(baggage)
    }
}

/// The links `push` writes, in one buffer.
fn collect_links(push: impl FnOnce(&mut Vec<Link>)) -> Vec<Link> {
    let mut links = Vec::new();
    push(&mut links);
    links
}

/// Records every attribute of a `#[span_attrs]` struct on the current span.
///
/// ```
/// use maestro_trace::span_attrs;
///
/// #[span_attrs(prefix = "tenant")]
/// struct Tenant { id: String }
///
/// maestro_trace::record(&Tenant { id: "tenant-123".into() });
/// ```
pub fn record<A: SpanAttributes + ?Sized>(group: &A) {
    record_on(&Context::current(), group);
}

/// Records `error` on the current span: an `exception` event (`exception.type`: the error's
/// type name, `exception.message`: its message) and status Error with the message.
///
/// The message is the error's alternate `Display` (`{:#}`), which is its plain `Display` for most
/// types and the whole context chain for `anyhow::Error`. `#[record_errors]` does the same for a
/// returned `Err`, and for a `std::error::Error` appends each `source()` not already in the
/// message (`io failure: permission denied`).
///
/// ```
/// use maestro_trace::{span, testing};
///
/// let capture = testing::capture();
/// span!("load_model_weights").in_scope(|| {
///     maestro_trace::record_error("weights not found in s3://models/bert-base");
/// });
/// let span = capture.span("load_model_weights");
/// assert!(span.is_error());
/// let exception = span.event("exception");
/// assert_eq!(
///     exception.attr_str("exception.message").as_deref(),
///     Some("weights not found in s3://models/bert-base")
/// );
/// ```
pub fn record_error<E: Display + ?Sized>(error: &E) {
    mark_error(&Context::current(), std::any::type_name::<E>(), || {
        format!("{error:#}")
    });
}

/// Records a `std::error::Error` on the current span with its sources ([`error_chain`]).
pub(crate) fn record_error_chain<E: std::error::Error>(error: &E) {
    mark_error(&Context::current(), std::any::type_name::<E>(), || {
        error_chain(error)
    });
}

/// Adds an event to the current span; `record` runs only if that span is sampled.
pub(crate) fn add_event(name: &'static str, attrs: usize, record: impl FnOnce(&mut Recorder<'_>)) {
    let cx = Context::current();
    let span = cx.span();
    if span.is_recording() {
        let mut attributes = Vec::with_capacity(attrs);
        record(&mut Recorder::new(&mut attributes));
        span.add_event_with_timestamp(name, clock::now(), finished::key_values(attributes));
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::io;

    use super::error_chain;

    /// An error whose message is `message`, caused by `source`.
    #[derive(Debug)]
    struct Failure {
        message: String,
        source: Option<io::Error>,
    }

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.message)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source.as_ref().map(|e| e as _)
        }
    }

    #[test]
    fn an_error_reads_with_its_sources() {
        let denied = || io::Error::new(io::ErrorKind::PermissionDenied, "permission denied");
        let failure = Failure {
            message: "io failure".into(),
            source: Some(denied()),
        };
        assert_eq!(error_chain(&failure), "io failure: permission denied");
        // A message that already prints its cause does not get it twice.
        let failure = Failure {
            message: "io failure: permission denied".into(),
            source: Some(denied()),
        };
        assert_eq!(error_chain(&failure), "io failure: permission denied");
        let alone = Failure {
            message: "io failure".into(),
            source: None,
        };
        assert_eq!(error_chain(&alone), "io failure");
    }
}
