//! Context propagation formats: W3C trace context and baggage (from the SDK) and Jaeger's
//! `uber-trace-id`, combined into the global propagator that `init` installs.
//!
//! The Jaeger propagator is our own: `opentelemetry-jaeger-propagator` is published on an older
//! OpenTelemetry line (0.32), and one version line across the workspace matters more than a
//! forty-line format.

use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapCompositePropagator,
    TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::Propagator;

/// The header of Jaeger's propagation format.
pub const UBER_TRACE_ID: &str = "uber-trace-id";

/// The propagator for `propagators`, in order (the default is trace context + baggage).
pub(crate) fn composite(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = propagators
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::Jaeger => Box::new(JaegerPropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

/// Jaeger's `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` format, for services
/// still instrumented with Jaeger clients.
///
/// ```
/// use std::collections::HashMap;
/// use maestro_trace::otel::propagation::TextMapPropagator;
/// use maestro_trace::otel::trace::TraceContextExt;
/// use maestro_trace::propagation::JaegerPropagator;
///
/// let mut headers = HashMap::new();
/// headers.insert("uber-trace-id".to_string(), "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1".to_string());
/// let cx = JaegerPropagator::new().extract(&headers);
/// assert_eq!(
///     cx.span().span_context().trace_id().to_string(),
///     "4bf92f3577b34da6a3ce929d0e0e4736"
/// );
/// assert!(cx.span().span_context().is_sampled());
/// ```
#[derive(Clone, Debug, Default)]
pub struct JaegerPropagator {
    _private: (),
}

impl JaegerPropagator {
    /// The propagator.
    pub fn new() -> Self {
        JaegerPropagator { _private: () }
    }
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let context = span.span_context();
        if !context.is_valid() {
            return;
        }
        let flags = if context.is_sampled() { 1 } else { 0 };
        injector.set(
            UBER_TRACE_ID,
            format!("{}:{}:0:{flags:x}", context.trace_id(), context.span_id()),
        );
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get(UBER_TRACE_ID).and_then(parse_uber_trace_id) {
            Some(context) => cx.with_remote_span_context(context),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        // `FieldIter` borrows a slice of `String`s; the one field name is built once.
        static NAMES: std::sync::OnceLock<[String; 1]> = std::sync::OnceLock::new();
        FieldIter::new(NAMES.get_or_init(|| [UBER_TRACE_ID.to_owned()]))
    }
}

/// Parses `trace-id:span-id:parent-id:flags`; `None` for anything malformed (treated as absent).
fn parse_uber_trace_id(raw: &str) -> Option<SpanContext> {
    // Jaeger clients may URL-encode the colons.
    let decoded;
    let value = if raw.contains('%') {
        decoded = raw.replace("%3A", ":").replace("%3a", ":");
        decoded.as_str()
    } else {
        raw
    };
    let mut parts = value.trim().split(':');
    let (trace, span, _parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    fn hex(s: &str, max: usize) -> Option<&str> {
        (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
    }
    let trace_id = TraceId::from(u128::from_str_radix(hex(trace, 32)?, 16).ok()?);
    let span_id = SpanId::from(u64::from_str_radix(hex(span, 16)?, 16).ok()?);
    let flags = u8::from_str_radix(hex(flags, 2)?, 16).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let sampled = if flags & 0x01 != 0 {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Some(SpanContext::new(
        trace_id,
        span_id,
        sampled,
        true,
        TraceState::default(),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn extract(value: &str) -> Option<SpanContext> {
        let mut headers = HashMap::new();
        headers.insert(UBER_TRACE_ID.to_owned(), value.to_owned());
        let cx = JaegerPropagator::new().extract(&headers);
        let span = cx.span();
        let context = span.span_context();
        context.is_valid().then(|| context.clone())
    }

    #[test]
    fn round_trip() {
        let context = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
            SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let cx = Context::new().with_remote_span_context(context.clone());
        let mut headers = HashMap::new();
        JaegerPropagator::new().inject_context(&cx, &mut headers);
        assert_eq!(
            headers.get(UBER_TRACE_ID).map(String::as_str),
            Some("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1")
        );
        let back = extract(&headers[UBER_TRACE_ID]).expect("valid");
        assert_eq!(back.trace_id(), context.trace_id());
        assert_eq!(back.span_id(), context.span_id());
        assert!(back.is_sampled() && back.is_remote());
    }

    #[test]
    fn short_ids_encoded_colons_and_unsampled() {
        let context = extract("abc%3A12%3A0%3A0").expect("valid");
        assert_eq!(context.trace_id(), TraceId::from(0xabc_u128));
        assert_eq!(context.span_id(), SpanId::from(0x12_u64));
        assert!(!context.is_sampled());
    }

    #[test]
    fn malformed_values_are_treated_as_absent() {
        for bad in [
            "",
            "abc",
            "0:1:0:1",
            "1:0:0:1",
            "xyz:1:0:1",
            "1:1:0",
            "1:1:0:1:9",
            "123456789012345678901234567890123:1:0:1",
            "1:12345678901234567:0:1",
            "1:1:0:100",
        ] {
            assert!(extract(bad).is_none(), "{bad:?} must be rejected");
        }
    }
}
