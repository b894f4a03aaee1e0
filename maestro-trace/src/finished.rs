//! A span of ours as it is recorded and handed on when it ends (`docs/span-path.md`, 2.1 and
//! 2.3): everything its `SpanData` will say, in 192 bytes instead of `SpanData`'s 352, and
//! without the instrumentation scope. What few spans have (links, a trace state) sits behind
//! one pointer, allocated by the first of them; events (an error's `exception`, the `tracing`
//! bridge's log lines) and the status are common enough to stay inline.
//!
//! Behind our batch processor the conversion to `SpanData` happens on its export thread, so
//! the thread that ended the span moves 192 bytes once and clones nothing; with any other
//! processor (the console, the test capture) it happens where the span ends.
//!
//! Attributes ([`Attribute`]) are recorded into a buffer the thread takes from its spares
//! ([`buffer`]), strings of up to [`SHORT`] bytes copied into the attribute itself. The export
//! thread copies them out ([`FinishedSpan::detach_span_data`]: the exporter's vector and
//! strings are made there, and freed there after the export) and sends the emptied buffer back
//! to the thread that ended the span, so a span's attributes cost its thread no allocation and
//! no free once it has spares. Their buffer and short strings are then never allocated on one
//! thread and freed on another (what the caller made a `String` of itself, such as a route, a
//! span name or a string longer than [`SHORT`], still is): glibc's allocator takes the
//! allocating thread's arena lock for such a free, and a thread that waits for that lock while
//! its holder is preempted waits for a whole time slice (`docs/span-path.md`, 2.1 and
//! section 6).

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

/// The instrumentation scope of our spans.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("maestro-trace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// A span of ours, open or ended: its ids, times, name, kind and attributes inline, the rest
/// in [`Rare`].
#[derive(Debug)]
pub(crate) struct FinishedSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) flags: TraceFlags,
    pub(crate) parent_span_id: SpanId,
    pub(crate) parent_span_is_remote: bool,
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start_time: SystemTime,
    /// The start time until the span ends.
    pub(crate) end_time: SystemTime,
    pub(crate) attributes: Vec<Attribute>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) events: SpanEvents,
    pub(crate) status: Status,
    /// The batch processor's id of the thread's ring the span went through (0: none), to which
    /// its attribute buffer goes back.
    pub(crate) ring: u32,
    rare: Option<Box<Rare>>,
}

/// What a span has only now and then; a span without any of it allocates none of it.
#[derive(Debug, Default)]
pub(crate) struct Rare {
    pub(crate) trace_state: TraceState,
    pub(crate) links: SpanLinks,
}

impl FinishedSpan {
    /// A span of `span_context` starting at `start_time`, with nothing of [`Rare`] but its
    /// trace state yet. One struct expression, inlined: built where the caller puts it, not
    /// moved there.
    #[inline]
    pub(crate) fn new(
        span_context: &SpanContext,
        parent: Option<&SpanContext>,
        kind: SpanKind,
        name: Cow<'static, str>,
        start_time: SystemTime,
        attributes: Vec<Attribute>,
        dropped_attributes_count: u32,
    ) -> FinishedSpan {
        let trace_state = span_context.trace_state();
        FinishedSpan {
            trace_id: span_context.trace_id(),
            span_id: span_context.span_id(),
            flags: span_context.trace_flags(),
            parent_span_id: parent.map_or(SpanId::INVALID, SpanContext::span_id),
            parent_span_is_remote: parent.is_some_and(SpanContext::is_remote),
            kind,
            name,
            start_time,
            end_time: start_time,
            attributes,
            dropped_attributes_count,
            events: SpanEvents::default(),
            status: Status::Unset,
            ring: 0,
            rare: (*trace_state != TraceState::NONE).then(|| {
                Box::new(Rare {
                    trace_state: trace_state.clone(),
                    links: SpanLinks::default(),
                })
            }),
        }
    }

    /// Whether the span is sampled (exported), not only recorded.
    pub(crate) fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The span's rare parts, allocated on first use.
    pub(crate) fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// The span's `SpanData`, as [`into_span_data`](Self::into_span_data) makes it, with its
    /// attributes copied into the exporter's vector (allocated here, short strings made into
    /// strings of their own on the way), and the buffer they were recorded in, emptied, to be
    /// used again by the thread that recorded them (`None`: the span had no buffer, or one too
    /// large to keep). One pass over the attributes. The span is left emptied, its fields taken
    /// where it lies (not moved out whole first).
    pub(crate) fn detach_span_data(
        &mut self,
        scope: &InstrumentationScope,
    ) -> (SpanData, Option<Vec<Attribute>>) {
        let capacity = self.attributes.capacity();
        if capacity == 0 {
            // No buffer: nothing to convert, nothing to send back.
            return (self.take_span_data(Vec::new(), scope), None);
        }
        let detached = self
            .attributes
            .drain(..)
            .map(Attribute::into_key_value)
            .collect();
        let recorded = std::mem::take(&mut self.attributes);
        let data = self.take_span_data(detached, scope);
        (data, (capacity <= KEPT_CAPACITY).then_some(recorded))
    }

    /// The span's `SpanData`, field by field what the SDK's span would have made, with `scope`;
    /// the attributes converted in their own buffer.
    pub(crate) fn into_span_data(mut self, scope: &InstrumentationScope) -> SpanData {
        let attributes = key_values(std::mem::take(&mut self.attributes));
        self.take_span_data(attributes, scope)
    }

    /// Takes the span's data out into its `SpanData`, with `attributes`, leaving the span
    /// emptied.
    fn take_span_data(
        &mut self,
        attributes: Vec<KeyValue>,
        scope: &InstrumentationScope,
    ) -> SpanData {
        let Rare { trace_state, links } = self.rare.take().map(|rare| *rare).unwrap_or_default();
        SpanData {
            span_context: SpanContext::new(
                self.trace_id,
                self.span_id,
                self.flags,
                false,
                trace_state,
            ),
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_span_is_remote,
            span_kind: std::mem::replace(&mut self.kind, SpanKind::Internal),
            name: std::mem::take(&mut self.name),
            start_time: self.start_time,
            end_time: self.end_time,
            attributes,
            dropped_attributes_count: self.dropped_attributes_count,
            events: std::mem::take(&mut self.events),
            links,
            status: std::mem::take(&mut self.status),
            instrumentation_scope: scope.clone(),
        }
    }
}

/// The longest string an [`Attribute`] holds inline, in bytes: what fits beside the length in
/// the space of an OpenTelemetry `Value` (32 bytes), so an attribute takes a `KeyValue`'s 56.
pub(crate) const SHORT: usize = 23;

/// A buffer of attributes of more than this capacity is not used again (its memory is freed).
const KEPT_CAPACITY: usize = 64;

/// The emptied buffers a thread keeps at most.
const SPARES: usize = 32;

/// One attribute of a span of ours: its key, and its value as OpenTelemetry has it or, for a
/// string of up to [`SHORT`] bytes, copied inline. The size and alignment of a `KeyValue`, so a
/// vector of either turns into the other in place (no allocation).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Attribute {
    key: Key,
    value: Recorded,
}

#[derive(Clone, Debug, PartialEq)]
enum Recorded {
    Value(Value),
    Short { len: u8, bytes: [u8; SHORT] },
}

const _: () = {
    assert!(std::mem::size_of::<Attribute>() == std::mem::size_of::<KeyValue>());
    assert!(std::mem::align_of::<Attribute>() == std::mem::align_of::<KeyValue>());
};

impl Attribute {
    /// `key` with `value` as OpenTelemetry has it.
    pub(crate) fn new(key: Key, value: Value) -> Attribute {
        Attribute {
            key,
            value: Recorded::Value(value),
        }
    }

    /// `key` with the string `text`: copied inline when it is short, else into a string of its
    /// own.
    pub(crate) fn text(key: Key, text: &str) -> Attribute {
        let value = match u8::try_from(text.len()) {
            Ok(len) if text.len() <= SHORT => {
                let mut bytes = [0; SHORT];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                Recorded::Short { len, bytes }
            }
            _ => Recorded::Value(Value::String(StringValue::from(text.to_owned()))),
        };
        Attribute { key, value }
    }

    /// The attribute as OpenTelemetry has it (a short string becomes a string of its own).
    pub(crate) fn into_key_value(self) -> KeyValue {
        let value = match self.value {
            Recorded::Value(value) => value,
            Recorded::Short { len, bytes } => {
                Value::String(StringValue::from(short_str(len, &bytes).to_owned()))
            }
        };
        KeyValue::new(self.key, value)
    }
}

/// The text of a short string; `bytes[..len]` is always the UTF-8 `Attribute::text` copied.
fn short_str(len: u8, bytes: &[u8; SHORT]) -> &str {
    let bytes = &bytes[..usize::from(len).min(SHORT)];
    // Written only from a `&str`, cut at its own length: never invalid.
    std::str::from_utf8(bytes).unwrap_or_default()
}

impl From<KeyValue> for Attribute {
    fn from(kv: KeyValue) -> Attribute {
        Attribute::new(kv.key, kv.value)
    }
}

/// `attributes` as OpenTelemetry has them, in the same allocation.
pub(crate) fn key_values(attributes: Vec<Attribute>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .map(Attribute::into_key_value)
        .collect()
}

/// `attributes` as a span of ours records them, in the same allocation.
pub(crate) fn attributes(attributes: Vec<KeyValue>) -> Vec<Attribute> {
    attributes.into_iter().map(Attribute::from).collect()
}

thread_local! {
    /// Emptied attribute buffers, back from the export thread.
    static SPARE: RefCell<Vec<Vec<Attribute>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer for at least `capacity` attributes: one of this thread's spares if it has one
/// (no allocation while it is large enough), else a new one.
pub(crate) fn buffer(capacity: usize) -> Vec<Attribute> {
    let spare = SPARE
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    match spare {
        Some(mut buffer) => {
            buffer.reserve(capacity);
            buffer
        }
        None => Vec::with_capacity(capacity),
    }
}

/// When this thread is short of spare buffers (under half of [`SPARES`]), keeps the emptied
/// buffers `next` yields as its spares, while it has room for them.
pub(crate) fn restock(mut next: impl FnMut() -> Option<Vec<Attribute>>) {
    let _ = SPARE.try_with(|spare| {
        let Ok(mut spare) = spare.try_borrow_mut() else {
            return;
        };
        if spare.len() >= SPARES / 2 {
            return;
        }
        while spare.len() < SPARES {
            match next() {
                Some(buffer) => spare.push(buffer),
                None => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a ring slot, and each move of a span on the thread that ends it, costs.
    #[test]
    fn a_span_takes_192_bytes() {
        assert_eq!(std::mem::size_of::<FinishedSpan>(), 192);
        assert_eq!(std::mem::size_of::<Option<FinishedSpan>>(), 192);
    }

    fn recorded() -> Vec<Attribute> {
        let mut attributes = Vec::with_capacity(8);
        attributes.push(Attribute::text(Key::from_static_str("short"), "resnet50"));
        attributes.push(Attribute::text(
            Key::from_static_str("limit"),
            &"x".repeat(SHORT),
        ));
        attributes.push(Attribute::text(
            Key::from_static_str("long"),
            &"y".repeat(SHORT + 1),
        ));
        attributes.push(Attribute::text(Key::from_static_str("empty"), ""));
        attributes.push(Attribute::from(KeyValue::new("count", 3_i64)));
        attributes
    }

    fn expected() -> Vec<KeyValue> {
        vec![
            KeyValue::new("short", "resnet50"),
            KeyValue::new("limit", "x".repeat(SHORT)),
            KeyValue::new("long", "y".repeat(SHORT + 1)),
            KeyValue::new("empty", ""),
            KeyValue::new("count", 3_i64),
        ]
    }

    #[test]
    fn strings_up_to_the_limit_are_inline_and_come_out_as_they_went_in() {
        let attributes = recorded();
        assert!(matches!(attributes[1].value, Recorded::Short { .. }));
        assert!(matches!(attributes[2].value, Recorded::Value(_)));
        let buffer = attributes.as_ptr() as usize;
        let converted = key_values(attributes);
        assert_eq!(converted, expected());
        assert_eq!(converted.as_ptr() as usize, buffer, "converted in place");
        let back = super::attributes(converted);
        assert_eq!(back.as_ptr() as usize, buffer, "and back, in place");
    }

    /// A sampled internal span named `name` with `attributes`.
    fn span_with(name: &'static str, attributes: Vec<Attribute>) -> FinishedSpan {
        let span_context = SpanContext::new(
            TraceId::from(1),
            SpanId::from(2),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let kind = SpanKind::Internal;
        let start = SystemTime::now();
        FinishedSpan::new(
            &span_context,
            None,
            kind,
            Cow::Borrowed(name),
            start,
            attributes,
            0,
        )
    }

    #[test]
    fn detaching_copies_the_values_out_and_returns_the_buffer_emptied() {
        let attributes = recorded();
        let buffer = attributes.as_ptr() as usize;
        let mut span = span_with("detached", attributes);
        let (data, returned) = span.detach_span_data(&scope());
        let returned = returned.expect("a buffer to return");
        assert!(returned.is_empty());
        assert_eq!(returned.capacity(), 8);
        assert_eq!(
            returned.as_ptr() as usize,
            buffer,
            "the recorded buffer itself"
        );
        assert_ne!(data.attributes.as_ptr() as usize, buffer);
        assert_eq!(data.attributes, expected());
        assert_eq!(data.name, "detached");
        // A span without attributes has no buffer to return; an oversized one is not kept.
        let (data, returned) = span_with("bare", Vec::new()).detach_span_data(&scope());
        assert!(returned.is_none() && data.attributes.is_empty());
        let (_, returned) = span_with("oversized", Vec::with_capacity(KEPT_CAPACITY + 1))
            .detach_span_data(&scope());
        assert!(returned.is_none());
    }

    #[test]
    fn spares_are_kept_up_to_the_limit_and_handed_out_again() {
        let mut returned: Vec<Vec<Attribute>> = (0..SPARES + 4).map(|_| recorded()).collect();
        for buffer in &mut returned {
            buffer.clear();
        }
        let first = returned[0].as_ptr() as usize;
        returned.reverse();
        restock(|| returned.pop());
        assert_eq!(returned.len(), 4, "the rest is left where it was");
        let kept: Vec<Vec<Attribute>> = (0..SPARES).map(|_| buffer(4)).collect();
        assert!(kept.iter().any(|buffer| buffer.as_ptr() as usize == first));
        assert!(kept
            .iter()
            .all(|buffer| buffer.capacity() == 8 && buffer.is_empty()));
        // None left: a new buffer.
        assert_eq!(buffer(2).capacity(), 2);
    }
}
