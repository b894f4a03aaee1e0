//! Our own span path (issue 13, `docs/span-path.md` step 2): the spans the macros, `span!`, the
//! middleware, the clients, the integrations and the `tracing` bridge start are built here, not
//! by the SDK's tracer, and handed to the pipeline's processors as the same `SpanData` the SDK
//! would hand them.
//!
//! What it skips of the SDK's path: the tracer's two reference counts per span, the provider's
//! lookups, a sampler call when the pipeline's configuration already decides
//! ([`ThreadSink::build`]), the processors' `on_start` calls none of ours needs, and, behind
//! our batch processor, making the `SpanData` on the thread that ends the span: the span is a
//! [`FinishedSpan`] (192 bytes), converted on the export thread. What it keeps, field by
//! field: the ids
//! (the SDK's `RandomIdGenerator`), the sampler's decision, attributes and trace state, the span
//! limits and their dropped counts in the SDK's order, baggage span attributes, the
//! instrumentation scope, and the raw `opentelemetry` API's view: a [`Recording`] is an
//! `opentelemetry::trace::Span`, current in the context like the SDK's, so raw child spans,
//! propagators and `Context::current().span()` writes work on it as they did.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanKind, Status, TraceContextExt as _, TraceFlags,
};
use opentelemetry::{Context, InstrumentationScope, Key, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    IdGenerator as _, RandomIdGenerator, SamplingDecision, SamplingResult, ShouldSample, SpanData,
    SpanLimits, SpanProcessor,
};
use opentelemetry_sdk::Resource;

use crate::batch::BatchProcessor;
use crate::clock;
use crate::finished::{self, Attribute, FinishedSpan};
use crate::processor::baggage_attributes;

/// Told of every recording span at its start (the test capture routes spans by it).
pub(crate) trait OnStart: Send + Sync + fmt::Debug {
    fn on_start(&self, span_context: &SpanContext, parent: &Context);
}

/// Where the spans of one installed pipeline are built and go: its sampler, limits, baggage
/// keys and processors, shared with the provider (which the raw `opentelemetry` API uses) so
/// both paths end in the same processors.
pub(crate) struct Sink {
    sampler: Box<dyn ShouldSample>,
    ids: RandomIdGenerator,
    limits: SpanLimits,
    baggage_keys: Vec<Key>,
    delivery: Delivery,
    on_start: Option<Arc<dyn OnStart>>,
    scope: InstrumentationScope,
    /// Set when the provider shuts down: spans ending after it go nowhere, as with the SDK.
    shut_down: AtomicBool,
}

/// The processors a [`Sink`]'s spans end in.
pub(crate) struct Delivery {
    processors: Vec<Arc<dyn SpanProcessor>>,
    /// Our batch processor when it is the only processor: it takes our spans as they are and
    /// makes their `SpanData` on its export thread.
    batch: Option<Arc<BatchProcessor>>,
}

impl Delivery {
    /// To `processors`, each given every span's `SpanData`.
    pub(crate) fn to(processors: Vec<Arc<dyn SpanProcessor>>) -> Delivery {
        Delivery {
            processors,
            batch: None,
        }
    }

    /// To our batch processor alone.
    pub(crate) fn batched(batch: Arc<BatchProcessor>) -> Delivery {
        Delivery {
            processors: vec![Arc::clone(&batch) as Arc<dyn SpanProcessor>],
            batch: Some(batch),
        }
    }
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sink")
            .field("sampler", &self.sampler)
            .field("limits", &self.limits)
            .field("baggage_keys", &self.baggage_keys)
            .field("processors", &self.delivery.processors.len())
            .finish_non_exhaustive()
    }
}

impl Sink {
    pub(crate) fn new(
        sampler: Box<dyn ShouldSample>,
        limits: SpanLimits,
        baggage_keys: Vec<Key>,
        delivery: Delivery,
        on_start: Option<Arc<dyn OnStart>>,
    ) -> Arc<Sink> {
        Arc::new(Sink {
            sampler,
            ids: RandomIdGenerator::default(),
            limits,
            baggage_keys,
            delivery,
            on_start,
            scope: crate::finished::scope(),
            shut_down: AtomicBool::new(false),
        })
    }
}

/// One thread's handle on a [`Sink`] (`crate::pipeline::Active` keeps it): every span started
/// on the thread holds a reference to it, so the count a span moves at its start and end is on
/// a line that thread alone writes (a span that ends on another thread excepted). Holding the
/// sink's own count instead would make every thread that starts spans write one shared line.
#[derive(Debug)]
pub(crate) struct ThreadSink(Arc<Sink>);

impl ThreadSink {
    pub(crate) fn new(sink: Arc<Sink>) -> ThreadSink {
        ThreadSink(sink)
    }

    /// Builds the span `begin` describes under `parent_cx`, exactly as the SDK's
    /// `Tracer::build_with_context` does (ids, sampling, limits), with the attributes
    /// `recorded` as ours before `begin`'s, and the sampler's decision taken before when
    /// `decided` is given.
    pub(crate) fn build(
        self: &Arc<Self>,
        begin: Begin,
        recorded: Vec<Attribute>,
        parent_cx: &Context,
        decided: Option<SamplingResult>,
    ) -> Started {
        if parent_cx.is_telemetry_suppressed() || self.shut_down.load(Ordering::Relaxed) {
            return Started::Dropped(SpanContext::empty_context());
        }
        let Begin {
            name,
            kind,
            attributes: given,
            links,
        } = begin;
        let span_id = self.ids.new_span_id();
        let parent_span = parent_cx.span();
        let parent = Some(parent_span.span_context()).filter(|sc| sc.is_valid());
        let trace_id = match parent {
            Some(parent) => parent.trace_id(),
            None => self.ids.new_trace_id(),
        };
        let sampling = decided.unwrap_or_else(|| {
            // The sampler sees every attribute the span starts with, as OpenTelemetry has them.
            let all;
            let attributes = if recorded.is_empty() {
                &given
            } else {
                all = recorded
                    .iter()
                    .cloned()
                    .map(Attribute::into_key_value)
                    .chain(given.iter().cloned())
                    .collect::<Vec<_>>();
                &all
            };
            self.sampler
                .should_sample(Some(parent_cx), trace_id, &name, &kind, attributes, &links)
        });
        let flags = parent.map_or(TraceFlags::default(), SpanContext::trace_flags);
        let sampled = match sampling.decision {
            SamplingDecision::Drop => {
                return Started::Dropped(SpanContext::new(
                    trace_id,
                    span_id,
                    TraceFlags::default(),
                    false,
                    sampling.trace_state,
                ))
            }
            SamplingDecision::RecordOnly => false,
            SamplingDecision::RecordAndSample => true,
        };
        let span_context = SpanContext::new(
            trace_id,
            span_id,
            flags.with_sampled(sampled),
            false,
            sampling.trace_state,
        );
        if let Some(hook) = &self.on_start {
            hook.on_start(&span_context, parent_cx);
        }
        let mut attributes = self.start_attributes(recorded, given, sampling.attributes, parent_cx);
        let max_attributes = self.limits.max_attributes_per_span as usize;
        let dropped_attributes_count = attributes.len().saturating_sub(max_attributes) as u32;
        attributes.truncate(max_attributes);
        // One expression, so the span is built where it is returned, not moved there; what few
        // spans have (links) is added to it there.
        let mut started = Started::Recording(Recording {
            data: Some(FinishedSpan::new(
                &span_context,
                parent,
                kind,
                name,
                clock::now(),
                attributes,
                dropped_attributes_count,
            )),
            span_context,
            sink: Arc::clone(self),
        });
        if links.is_empty() {
            release(links);
        } else {
            started.recording(|span| span.start_links(links));
        }
        started
    }
}

/// What a span of ours starts with, as the code starting it describes it: the part of the
/// SDK's `SpanBuilder` the crate's spans use (80 bytes to the builder's 120, so less to write
/// and to move on every span). Its start time is taken as it is built.
#[derive(Debug)]
pub(crate) struct Begin {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    /// Attributes as OpenTelemetry has them, after those recorded as ours (the sampler sees
    /// them too).
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) links: Vec<Link>,
}

impl Begin {
    /// A span named `name` of `kind`, with nothing else yet.
    #[inline]
    pub(crate) fn new(name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Begin {
        Begin {
            name: name.into(),
            kind,
            attributes: Vec::new(),
            links: Vec::new(),
        }
    }
}

impl std::ops::Deref for ThreadSink {
    type Target = Sink;

    fn deref(&self) -> &Sink {
        &self.0
    }
}

impl Sink {
    /// The attributes a span starts with, in the SDK's order: those `recorded` as ours and the
    /// builder's (`given`), then the sampler's, then the configured baggage entries of
    /// `parent_cx` (what the SDK's baggage processor sets at start).
    #[inline]
    fn start_attributes(
        &self,
        recorded: Vec<Attribute>,
        given: Vec<KeyValue>,
        sampler_attributes: Vec<KeyValue>,
        parent_cx: &Context,
    ) -> Vec<Attribute> {
        let mut attributes = recorded;
        if given.capacity() == 0 {
            release(given);
        } else if attributes.capacity() == 0 {
            // The given vector becomes the span's buffer (in place, no copy).
            attributes = finished::attributes(given);
        } else {
            attributes.extend(given.into_iter().map(Attribute::from));
        }
        if sampler_attributes.is_empty() {
            release(sampler_attributes);
        } else {
            attributes.extend(sampler_attributes.into_iter().map(Attribute::from));
        }
        if !self.baggage_keys.is_empty() {
            attributes
                .extend(baggage_attributes(&self.baggage_keys, parent_cx).map(Attribute::from));
        }
        attributes
    }

    /// Hands the ended span out of `span` to every processor: as it is to our batch processor
    /// (moved from where it lies straight onto the thread's ring), else as the `SpanData` made
    /// of it. Leaves `span` empty.
    fn deliver(&self, span: &mut Option<FinishedSpan>) {
        if self.shut_down.load(Ordering::Relaxed) {
            *span = None;
            return;
        }
        match &self.delivery.batch {
            Some(batch) => batch.end_ours(span),
            None => {
                if let Some(span) = span.take() {
                    if !self.delivery.processors.is_empty() {
                        self.to_processors(span.into_span_data(&self.scope));
                    }
                }
            }
        }
    }

    /// Hands the `SpanData` of a raw SDK span to every processor.
    fn deliver_data(&self, span: SpanData) {
        if !self.shut_down.load(Ordering::Relaxed) {
            self.to_processors(span);
        }
    }

    fn to_processors(&self, span: SpanData) {
        match self.delivery.processors.as_slice() {
            [] => {}
            [processor] => processor.on_end(span),
            processors => {
                for processor in processors {
                    processor.on_end(span.clone());
                }
            }
        }
    }
}

/// Drops `vec`, without the call to its destructor when it holds no memory (capacity 0:
/// nothing to free, no element to drop). Most spans start with no links and no given or
/// sampler attributes, and the span path lets go of those three empty vectors per span.
#[inline(always)]
fn release<T>(vec: Vec<T>) {
    if vec.capacity() == 0 {
        std::mem::forget(vec);
    }
}

/// The first `max` of `items`, each with its first `max_attributes` attributes, and how many
/// items were dropped; each item counts its own dropped attributes (the SDK's order and counts).
fn limited<T>(
    mut items: Vec<T>,
    max: u32,
    max_attributes: u32,
    attributes: fn(&mut T) -> (&mut Vec<KeyValue>, &mut u32),
) -> (Vec<T>, u32) {
    let dropped = items.len().saturating_sub(max as usize) as u32;
    items.truncate(max as usize);
    for item in &mut items {
        let (kept, dropped_attributes) = attributes(item);
        *dropped_attributes = kept.len().saturating_sub(max_attributes as usize) as u32;
        kept.truncate(max_attributes as usize);
    }
    (items, dropped)
}

/// Adds the item `make` builds from `attributes` (cut to `max_attributes`, with how many were
/// cut) to `items`, unless it holds `max` already: then it counts one more dropped item, as the
/// SDK's span does for events and links.
fn push_limited<T>(
    (items, dropped): (&mut Vec<T>, &mut u32),
    (max, max_attributes): (u32, u32),
    mut attributes: Vec<KeyValue>,
    make: impl FnOnce(Vec<KeyValue>, u32) -> T,
) {
    if items.len() < max as usize {
        let cut = attributes.len().saturating_sub(max_attributes as usize) as u32;
        attributes.truncate(max_attributes as usize);
        items.push(make(attributes, cut));
    } else {
        *dropped += 1;
    }
}

/// A span [`ThreadSink::build`] started.
#[derive(Debug)]
// Returned by value and taken apart at once; boxing the recording would allocate per span.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Started {
    /// Sampled (or recorded only): it records until it ends.
    Recording(Recording),
    /// Not recorded: only its span context, for children and propagation.
    Dropped(SpanContext),
}

impl Started {
    /// Puts the span into `parent`'s context: a recording span as the context's span, a dropped
    /// one as its span context alone (nothing to box for a span that records nothing).
    #[inline]
    pub(crate) fn into_context(self, parent: &Context) -> Context {
        match self {
            Started::Recording(recording) => parent.with_span(recording),
            Started::Dropped(span_context) => parent.with_remote_span_context(span_context),
        }
    }

    /// Whether the span records.
    pub(crate) fn is_recording(&self) -> bool {
        matches!(self, Started::Recording(_))
    }

    /// Runs `f` on the span if it records.
    pub(crate) fn recording(&mut self, f: impl FnOnce(&mut Recording)) {
        if let Started::Recording(recording) = self {
            f(recording);
        }
    }
}

/// A span of ours that records: what the SDK's span records, with the same limits, delivered
/// to the pipeline's processors when it ends (or is dropped).
pub(crate) struct Recording {
    span_context: SpanContext,
    /// `None` once ended.
    data: Option<FinishedSpan>,
    sink: Arc<ThreadSink>,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("span_context", &self.span_context)
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

impl Recording {
    /// Sets the links the span starts with, with the span limits applied as the SDK applies
    /// them: the first up to the limit kept, each with its first attributes up to the limit,
    /// and the rest counted as dropped. No links: nothing set (no room made for them).
    pub(crate) fn start_links(&mut self, links: Vec<Link>) {
        let limits = &self.sink.limits;
        if let (Some(data), false) = (&mut self.data, links.is_empty()) {
            let links_of = &mut data.rare().links;
            (links_of.links, links_of.dropped_count) = limited(
                links,
                limits.max_links_per_span,
                limits.max_attributes_per_link,
                |link| (&mut link.attributes, &mut link.dropped_attributes_count),
            );
        }
    }

    /// Adds `attributes` recorded as ours, within the span's attribute limit (the rest counted
    /// as dropped), as `set_attribute` would one by one.
    pub(crate) fn record(&mut self, attributes: Vec<Attribute>) {
        self.record_with(|recorded| recorded.extend(attributes));
    }

    /// Lets `record` append to the span's own attributes (no vector of its own, no copy), then
    /// keeps them within the span's attribute limit (the rest counted as dropped), as
    /// `set_attribute` would one by one. `record` does not run once the span has ended.
    pub(crate) fn record_with(&mut self, record: impl FnOnce(&mut Vec<Attribute>)) {
        let max = self.sink.limits.max_attributes_per_span as usize;
        if let Some(data) = &mut self.data {
            record(&mut data.attributes);
            let dropped = data.attributes.len().saturating_sub(max);
            data.dropped_attributes_count += dropped as u32;
            data.attributes.truncate(max);
        }
    }

    fn end_at(&mut self, end_time: SystemTime) {
        let Some(data) = &mut self.data else {
            return;
        };
        data.end_time = end_time;
        self.sink.deliver(&mut self.data);
        debug_assert!(self.data.is_none(), "delivered, so ended: once");
    }
}

impl opentelemetry::trace::Span for Recording {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        let limits = self.sink.limits;
        if let Some(data) = &mut self.data {
            let events = &mut data.events;
            push_limited(
                (&mut events.events, &mut events.dropped_count),
                (limits.max_events_per_span, limits.max_attributes_per_event),
                attributes,
                |attributes, dropped| Event::new(name, timestamp, attributes, dropped),
            );
        }
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        let max = self.sink.limits.max_attributes_per_span as usize;
        if let Some(data) = &mut self.data {
            if data.attributes.len() < max {
                data.attributes.push(Attribute::from(attribute));
            } else {
                data.dropped_attributes_count += 1;
            }
        }
    }

    fn set_status(&mut self, status: Status) {
        if let Some(data) = &mut self.data {
            // A total order: Ok > Error > Unset.
            if status > data.status {
                data.status = status;
            }
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Some(data) = &mut self.data {
            data.name = new_name.into();
        }
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        let limits = self.sink.limits;
        if let Some(data) = &mut self.data {
            let links = &mut data.rare().links;
            push_limited(
                (&mut links.links, &mut links.dropped_count),
                (limits.max_links_per_span, limits.max_attributes_per_link),
                attributes,
                |attributes, dropped| Link::new(span_context, attributes, dropped),
            );
        }
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.end_at(timestamp);
    }

    fn end(&mut self) {
        self.end_at(clock::now());
    }

    fn add_event<T>(&mut self, name: T, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.add_event_with_timestamp(name, clock::now(), attributes);
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if self.data.is_some() {
            self.end_at(clock::now());
        }
    }
}

/// The sampling result of a span the pipeline's configuration samples for sure: what the SDK's
/// always-on and parent-based samplers return for it (the parent's trace state, no attributes).
pub(crate) fn sampled_for_sure(parent_cx: &Context) -> SamplingResult {
    SamplingResult {
        decision: SamplingDecision::RecordAndSample,
        attributes: Vec::new(),
        trace_state: parent_cx.span().span_context().trace_state().clone(),
    }
}

/// A [`Sink`]'s processors and start hook as the provider sees them, so that spans of the raw
/// `opentelemetry` API reach the same processors, and the provider's flush and shutdown reach
/// the sink.
#[derive(Debug)]
pub(crate) struct SinkProcessor(pub(crate) Arc<Sink>);

impl SpanProcessor for SinkProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        for processor in &self.0.delivery.processors {
            processor.on_start(span, cx);
        }
    }

    fn on_end(&self, span: SpanData) {
        self.0.deliver_data(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0
            .delivery
            .processors
            .iter()
            .map(|processor| processor.force_flush())
            .find(Result::is_err)
            .unwrap_or(Ok(()))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shut_down.store(true, Ordering::Relaxed);
        let mut result = Ok(());
        for processor in &self.0.delivery.processors {
            let shut = processor.shutdown_with_timeout(timeout);
            if result.is_ok() {
                result = shut;
            }
        }
        result
    }

    /// The processors were given the resource when the sink was made.
    fn set_resource(&mut self, _resource: &Resource) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What each span start writes and passes on, against the SDK's `SpanBuilder` it replaced.
    #[test]
    fn a_begin_takes_two_thirds_of_a_span_builder() {
        assert_eq!(std::mem::size_of::<Begin>(), 80);
        assert_eq!(
            std::mem::size_of::<opentelemetry::trace::SpanBuilder>(),
            120
        );
    }
}
