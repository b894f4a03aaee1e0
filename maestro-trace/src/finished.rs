//! A span of ours as it is recorded and handed on when it ends (`docs/span-path.md`, 2.1 and
//! 2.3): everything its `SpanData` will say, in 192 bytes instead of `SpanData`'s 352, and
//! without the instrumentation scope. What few spans have (links, a trace state) sits behind
//! one pointer, allocated by the first of them; events (an error's `exception`, the `tracing`
//! bridge's log lines) and the status are common enough to stay inline.
//!
//! Behind our batch processor the conversion to `SpanData` happens on its batching thread, so
//! the thread that ended the span moves 192 bytes once and clones nothing; with any other
//! processor (the console, the test capture) it happens where the span ends.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
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
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) events: SpanEvents,
    pub(crate) status: Status,
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
        attributes: Vec<KeyValue>,
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

    /// The span's `SpanData`, field by field what the SDK's span would have made, with `scope`.
    pub(crate) fn into_span_data(self, scope: &InstrumentationScope) -> SpanData {
        let Rare { trace_state, links } = self.rare.map(|rare| *rare).unwrap_or_default();
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
            span_kind: self.kind,
            name: self.name,
            start_time: self.start_time,
            end_time: self.end_time,
            attributes: self.attributes,
            dropped_attributes_count: self.dropped_attributes_count,
            events: self.events,
            links,
            status: self.status,
            instrumentation_scope: scope.clone(),
        }
    }
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
}
