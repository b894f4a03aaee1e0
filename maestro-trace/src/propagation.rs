//! Context propagation formats: W3C trace context and W3C baggage (our own, strict on what they
//! accept) and Jaeger's `uber-trace-id`, combined into the global propagator that `init`
//! installs.
//!
//! The Jaeger propagator is our own too: `opentelemetry-jaeger-propagator` is published on an
//! older OpenTelemetry line (0.32), and one version line across the workspace matters more than a
//! forty-line format.

use opentelemetry::baggage::{BaggageExt, KeyValueMetadata};
use opentelemetry::propagation::{
    text_map_propagator::FieldIter, Extractor, Injector, TextMapCompositePropagator,
    TextMapPropagator,
};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

use crate::baggage::{self, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES};
use crate::config::Propagator;

/// The header of Jaeger's propagation format.
pub const UBER_TRACE_ID: &str = "uber-trace-id";

/// The propagator for `propagators`, in order (the default is trace context + baggage).
pub(crate) fn composite(propagators: &[Propagator]) -> TextMapCompositePropagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = propagators
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(W3cTraceContextPropagator::new()),
                Propagator::Baggage => Box::new(W3cBaggagePropagator::new()),
                Propagator::Jaeger => Box::new(JaegerPropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

/// The W3C `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C `tracestate` header.
pub const TRACESTATE: &str = "tracestate";
/// The most list-members a `tracestate` may carry.
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// W3C Trace Context (Level 2), parsed strictly by the specification's rules: what arrives from
/// outside is untrusted input.
///
/// The SDK's `TraceContextPropagator` accepts forms the specification rejects (a one-digit
/// version or flags, a `+` sign inside the hex ids, which silently changes the trace id). Here an
/// invalid or repeated `traceparent` is treated as absent, so the request starts a new trace; an
/// invalid `tracestate` (a key or value outside the grammar, more than 32 members) is dropped
/// whole while a valid `traceparent` is still honoured. A key repeated in `tracestate` keeps its
/// first (most recent) member and drops the later ones, as the specification allows.
///
/// Keys follow the current grammar, `(lcalpha / DIGIT) 0*255(keychar)` with `@` allowed after the
/// first character. The SDK's `TraceState` only holds keys of the older `tenant@system` form, so
/// a `tracestate` with other keys (`foo@@bar`, `t@` and a 15-character system) is kept beside it
/// and injected as received for as long as the trace and its state are unchanged.
///
/// ```
/// use std::collections::HashMap;
/// use maestro_trace::otel::propagation::TextMapPropagator;
/// use maestro_trace::otel::trace::TraceContextExt;
/// use maestro_trace::propagation::W3cTraceContextPropagator;
///
/// let extract = |traceparent: &str| {
///     let headers = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
///     W3cTraceContextPropagator::new().extract(&headers).span().span_context().is_valid()
/// };
/// assert!(extract("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
/// assert!(!extract("00-+bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct W3cTraceContextPropagator {
    _private: (),
}

impl W3cTraceContextPropagator {
    /// The propagator.
    pub fn new() -> Self {
        W3cTraceContextPropagator { _private: () }
    }
}

impl TextMapPropagator for W3cTraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let context = span.span_context();
        if !context.is_valid() {
            return;
        }
        injector.set(
            TRACEPARENT,
            format!(
                "00-{}-{}-{:02x}",
                context.trace_id(),
                context.span_id(),
                context.trace_flags() & TraceFlags::SAMPLED
            ),
        );
        let received = cx
            .get::<ReceivedTraceState>()
            .filter(|received| received.describes(context));
        injector.set(
            TRACESTATE,
            match received {
                Some(received) => received.header.clone(),
                None => context.trace_state().header(),
            },
        );
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(parent) = single(extractor, TRACEPARENT).and_then(parse_traceparent) else {
            return cx.clone();
        };
        let members = extractor
            .get_all(TRACESTATE)
            .and_then(|values| parse_tracestate(&values))
            .unwrap_or_default();
        // The SDK's `TraceState` predates the current key grammar: when it cannot hold every
        // member, the full list travels beside it.
        let (state, received) = match TraceState::from_key_value(members.iter().copied()) {
            Ok(state) => (state, None),
            Err(_) => {
                let received = ReceivedTraceState::new(&members, parent.trace_id);
                (received.state.clone(), Some(received))
            }
        };
        let cx = cx.with_remote_span_context(SpanContext::new(
            parent.trace_id,
            parent.span_id,
            parent.flags,
            true,
            state,
        ));
        match received {
            Some(received) => cx.with_value(received),
            None => cx,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        // `FieldIter` borrows a slice of `String`s; the field names are built once.
        static NAMES: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
        FieldIter::new(NAMES.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()]))
    }
}

/// A received `tracestate` that the SDK's `TraceState` could not hold whole, kept in the
/// context so that it is passed on as received.
#[derive(Debug)]
struct ReceivedTraceState {
    trace_id: TraceId,
    /// The part the SDK holds: while a span's state still equals it, nothing was changed.
    state: TraceState,
    header: String,
}

impl ReceivedTraceState {
    /// `members` of `trace_id`, with the part of them the SDK's `TraceState` can hold (it
    /// predates the current key grammar).
    fn new(members: &[(&str, &str)], trace_id: TraceId) -> Self {
        let held = members
            .iter()
            .copied()
            .filter(|(key, _)| TraceState::from_key_value([(*key, "v")]).is_ok());
        ReceivedTraceState {
            trace_id,
            state: TraceState::from_key_value(held).unwrap_or_default(),
            header: members
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Whether `context` still carries this state unchanged (same trace, same members).
    fn describes(&self, context: &SpanContext) -> bool {
        context.trace_id() == self.trace_id && *context.trace_state() == self.state
    }
}

/// The one value of `header`; `None` if it is absent or repeated (ambiguous, so untrusted).
fn single<'a>(extractor: &'a dyn Extractor, header: &str) -> Option<&'a str> {
    match extractor.get_all(header) {
        Some(values) if values.len() == 1 => values.first().copied(),
        Some(_) => None,
        None => extractor.get(header),
    }
}

struct TraceParent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `version-traceid-parentid-flags`, by the specification's rules.
fn parse_traceparent(raw: &str) -> Option<TraceParent> {
    let value = raw.trim_matches([' ', '\t']);
    let version = value.get(..2)?;
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 characters; a later version may add fields after a `-`.
    if value.len() < 55 || (version == "00" && value.len() != 55) {
        return None;
    }
    if value.len() > 55 && value.as_bytes().get(55) != Some(&b'-') {
        return None;
    }
    let bytes = value.as_bytes();
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (trace, span, flags) = (value.get(3..35)?, value.get(36..52)?, value.get(53..55)?);
    if !(is_lower_hex(trace) && is_lower_hex(span) && is_lower_hex(flags)) {
        return None;
    }
    let trace_id = TraceId::from(u128::from_str_radix(trace, 16).ok()?);
    let span_id = SpanId::from(u64::from_str_radix(span, 16).ok()?);
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(TraceParent {
        trace_id,
        span_id,
        // Only the sampled bit has a meaning in version 00; other bits are ignored.
        flags: if flags & 0x01 != 0 {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
    })
}

/// The `tracestate` list-members (possibly split over several headers) in order, a repeated key
/// keeping its first member; `None` if any member is invalid or there are more than 32.
fn parse_tracestate<'a>(values: &[&'a str]) -> Option<Vec<(&'a str, &'a str)>> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    let mut count = 0;
    for member in values.iter().flat_map(|v| v.split(',')) {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
            return None;
        }
        count += 1;
        if !members.iter().any(|(k, _)| *k == key) {
            members.push((key, value));
        }
    }
    (count <= MAX_TRACESTATE_MEMBERS).then_some(members)
}

/// `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`.
fn valid_tracestate_key(key: &str) -> bool {
    let Some(first) = key.bytes().next() else {
        return false;
    };
    key.len() <= 256
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && key.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// Up to 256 printable ASCII characters except `,` and `=`, not ending in a space.
fn valid_tracestate_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// The W3C `baggage` header.
pub const BAGGAGE: &str = "baggage";

/// W3C Baggage, with the specification's limits applied to what arrives: incoming baggage is
/// untrusted input.
///
/// Every `baggage` header of a request is read (they form one list). A list-member whose key is
/// not a token, whose value holds a character outside the grammar or a malformed `%` escape, or
/// which does not decode to UTF-8 is dropped, and the valid ones around it are kept. Members are
/// kept in order while they fit in 8192 bytes and 64 entries (the limits of the specification
/// and of the OpenTelemetry `Baggage` type); the ones after are dropped. Values are
/// percent-encoded when sent, so any string arrives as it was set (the SDK's
/// `BaggagePropagator` drops a whole header over 8192 bytes, counts invalid members against
/// the 64, cuts a value at its first `=` and sends `%` unencoded).
///
/// ```
/// use std::collections::HashMap;
/// use maestro_trace::otel::baggage::BaggageExt;
/// use maestro_trace::otel::propagation::TextMapPropagator;
/// use maestro_trace::propagation::W3cBaggagePropagator;
///
/// let header = format!("bad key=1,tenant.id=tenant-123,pad={}", "x".repeat(9000));
/// let headers = HashMap::from([("baggage".to_string(), header)]);
/// let cx = W3cBaggagePropagator::new().extract(&headers);
/// assert_eq!(cx.baggage().len(), 1);
/// assert_eq!(cx.baggage().get("tenant.id").map(|v| v.as_str()), Some("tenant-123"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct W3cBaggagePropagator {
    _private: (),
}

impl W3cBaggagePropagator {
    /// The propagator.
    pub fn new() -> Self {
        W3cBaggagePropagator { _private: () }
    }
}

impl TextMapPropagator for W3cBaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let mut header = String::new();
        for (key, (value, metadata)) in cx.baggage() {
            let mut member = format!("{key}={}", baggage::percent_encode(value.as_str()));
            let metadata = metadata.as_str().trim();
            if !metadata.is_empty() {
                member.push(';');
                member.push_str(metadata);
            }
            // Within the limit a receiver must accept; what does not fit is not sent.
            let separator = usize::from(!header.is_empty());
            if header.len() + separator + member.len() > MAX_BAGGAGE_BYTES {
                continue;
            }
            if separator == 1 {
                header.push(',');
            }
            header.push_str(&member);
        }
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let values = match extractor.get_all(BAGGAGE) {
            Some(values) => values,
            None => match extractor.get(BAGGAGE) {
                Some(value) => vec![value],
                None => return cx.clone(),
            },
        };
        let mut entries = Vec::new();
        let mut bytes = 0;
        for member in values.iter().flat_map(|v| v.split(',')) {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let Some(entry) = parse_baggage_member(member) else {
                continue;
            };
            // Counted as received, with the comma before it.
            bytes += member.len() + usize::from(!entries.is_empty());
            if bytes > MAX_BAGGAGE_BYTES || entries.len() == MAX_BAGGAGE_ENTRIES {
                break;
            }
            entries.push(entry);
        }
        cx.with_baggage(entries)
    }

    fn fields(&self) -> FieldIter<'_> {
        // `FieldIter` borrows a slice of `String`s; the one field name is built once.
        static NAMES: std::sync::OnceLock<[String; 1]> = std::sync::OnceLock::new();
        FieldIter::new(NAMES.get_or_init(|| [BAGGAGE.to_owned()]))
    }
}

/// `key = value *(; property)`, by the specification's grammar; `None` if it is invalid.
fn parse_baggage_member(member: &str) -> Option<KeyValueMetadata> {
    let (pair, properties) = member.split_once(';').unwrap_or((member, ""));
    let (key, value) = pair.split_once('=')?;
    let (key, value) = (
        key.trim_matches([' ', '\t']),
        value.trim_matches([' ', '\t']),
    );
    let encoded = |b: u8| baggage::is_value_octet(b) || b == b'%';
    if !baggage::is_valid_key(key) || !value.bytes().all(encoded) {
        return None;
    }
    let value = baggage::percent_decode(value)?;
    // Properties are passed on as received, when they are plain visible ASCII.
    let properties = properties.trim_matches([' ', '\t']);
    if !properties
        .bytes()
        .all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
    {
        return None;
    }
    Some(KeyValueMetadata::new(key.to_owned(), value, properties))
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

    fn w3c(traceparent: &str, tracestate: Option<&str>) -> Option<SpanContext> {
        let mut headers = HashMap::new();
        headers.insert(TRACEPARENT.to_owned(), traceparent.to_owned());
        if let Some(state) = tracestate {
            headers.insert(TRACESTATE.to_owned(), state.to_owned());
        }
        let cx = W3cTraceContextPropagator::new().extract(&headers);
        let span = cx.span();
        let context = span.span_context();
        context.is_valid().then(|| context.clone())
    }

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_follows_the_specification() {
        let context = w3c(VALID, None).expect("valid");
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_sampled() && context.is_remote());
        assert!(w3c(
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
            None
        )
        .is_some());
        assert!(!w3c(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            None
        )
        .expect("valid")
        .is_sampled());
        assert!(w3c(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            None
        )
        .expect("unknown flag bits are ignored")
        .is_sampled());
        assert!(
            w3c(
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
                None
            )
            .is_some(),
            "a later version may append fields"
        );
        for bad in [
            "",
            "00",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-+0f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é",
        ] {
            assert!(w3c(bad, None).is_none(), "{bad:?} must be rejected");
        }
    }

    /// The `tracestate` injected from the context extracted out of `traceparent` + `tracestate`.
    fn forwarded_state(tracestate: &[&str]) -> String {
        let mut headers = HashMap::new();
        headers.insert(TRACEPARENT.to_owned(), VALID.to_owned());
        let extractor = Headers(&headers, tracestate);
        let cx = W3cTraceContextPropagator::new().extract(&extractor);
        assert!(
            cx.span().span_context().is_valid(),
            "traceparent still honoured"
        );
        let mut out = HashMap::new();
        W3cTraceContextPropagator::new().inject_context(&cx, &mut out);
        out.remove(TRACESTATE).unwrap_or_default()
    }

    /// A `traceparent` and any number of `tracestate` headers.
    struct Headers<'a>(&'a HashMap<String, String>, &'a [&'a str]);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                TRACESTATE => self.1.first().copied(),
                _ => self.0.get(key).map(String::as_str),
            }
        }

        fn keys(&self) -> Vec<&str> {
            vec![TRACEPARENT, TRACESTATE]
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            match key {
                TRACESTATE => (!self.1.is_empty()).then(|| self.1.to_vec()),
                _ => self.get(key).map(|v| vec![v]),
            }
        }
    }

    #[test]
    fn tracestate_is_kept_when_valid_and_dropped_when_not() {
        let state = |tracestate: &str| forwarded_state(&[tracestate]);
        assert_eq!(
            state("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        );
        assert_eq!(state("tenant1@vendor=x, b=2"), "tenant1@vendor=x,b=2");
        assert_eq!(state("9a=1"), "9a=1", "a key may start with a digit");
        for bad in [
            "Upper=1",
            "a=",
            "a=b=c",
            "=1",
            "a=x\u{1}y",
            "@a=1,b=2",
            "a.b=1",
            "a =1",
        ] {
            assert_eq!(state(bad), "", "{bad:?} must be dropped");
        }
        let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert_eq!(state(&too_many.join(",")), "", "more than 32 members");
        let just_enough: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert_eq!(state(&just_enough.join(",")), just_enough.join(","));
    }

    #[test]
    fn tracestate_keys_follow_the_current_grammar_even_where_the_sdk_cannot_hold_them() {
        let state = |tracestate: &[&str]| forwarded_state(tracestate);
        for key in [
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            &format!("t@{}", "v".repeat(15)),
            &format!("{}@v", "t".repeat(242)),
            &"z".repeat(256),
        ] {
            assert_eq!(
                state(&["foo=1", &format!("{key}=1,bar=2")]),
                format!("foo=1,{key}=1,bar=2"),
                "{key:?} is a valid key"
            );
        }
        assert_eq!(state(&["foo=1", &format!("{}=1", "z".repeat(257))]), "");
    }

    #[test]
    fn a_repeated_tracestate_key_keeps_its_first_member() {
        let state = |tracestate: &[&str]| forwarded_state(tracestate);
        assert_eq!(state(&["foo=1,foo=1"]), "foo=1");
        assert_eq!(state(&["foo=1,foo=2"]), "foo=1");
        assert_eq!(state(&["foo=1", "foo=2"]), "foo=1");
        assert_eq!(state(&["foo@@bar=1,x=2,foo@@bar=3"]), "foo@@bar=1,x=2");
        let repeats: Vec<String> = (0..33).map(|_| "k=v".to_owned()).collect();
        assert_eq!(
            state(&[&repeats.join(",")]),
            "",
            "33 members, even if repeated"
        );
    }

    #[test]
    fn a_received_tracestate_is_not_passed_on_for_another_trace_or_a_changed_state() {
        let mut headers = HashMap::new();
        headers.insert(TRACEPARENT.to_owned(), VALID.to_owned());
        let extractor = Headers(&headers, &["foo@@bar=1,rojo=2"]);
        let cx = W3cTraceContextPropagator::new().extract(&extractor);
        let inject = |cx: &Context| {
            let mut out = HashMap::new();
            W3cTraceContextPropagator::new().inject_context(cx, &mut out);
            out.remove(TRACESTATE).unwrap_or_default()
        };
        assert_eq!(inject(&cx), "foo@@bar=1,rojo=2");
        let span = cx.span();
        let parent = span.span_context();
        let changed = parent
            .trace_state()
            .insert("congo", "x")
            .expect("valid member");
        let child = |trace_id: TraceId, state: TraceState| {
            cx.with_remote_span_context(SpanContext::new(
                trace_id,
                SpanId::from(7_u64),
                TraceFlags::SAMPLED,
                false,
                state,
            ))
        };
        assert_eq!(
            inject(&child(parent.trace_id(), parent.trace_state().clone())),
            "foo@@bar=1,rojo=2",
            "a child of the same trace passes it on"
        );
        assert_eq!(inject(&child(parent.trace_id(), changed)), "congo=x,rojo=2");
        assert_eq!(
            inject(&child(TraceId::from(9_u128), parent.trace_state().clone())),
            "rojo=2"
        );
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

    /// The `baggage` headers of a request, possibly several.
    struct BaggageHeaders(Vec<String>);

    impl Extractor for BaggageHeaders {
        fn get(&self, key: &str) -> Option<&str> {
            (key == BAGGAGE).then(|| self.0.first().map(String::as_str))?
        }

        fn keys(&self) -> Vec<&str> {
            vec![BAGGAGE]
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            (key == BAGGAGE && !self.0.is_empty())
                .then(|| self.0.iter().map(String::as_str).collect())
        }
    }

    /// The entries extracted from `headers`, sorted.
    fn baggage_of(headers: &[&str]) -> Vec<(String, String, String)> {
        let headers = BaggageHeaders(headers.iter().map(|h| h.to_string()).collect());
        let cx = W3cBaggagePropagator::new().extract(&headers);
        let mut entries: Vec<_> = cx
            .baggage()
            .iter()
            .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
            .collect();
        entries.sort();
        entries
    }

    fn entry(key: &str, value: &str) -> (String, String, String) {
        (key.to_owned(), value.to_owned(), String::new())
    }

    #[test]
    fn baggage_members_are_parsed_by_the_grammar_and_invalid_ones_dropped() {
        assert_eq!(
            baggage_of(&[" tenant.id = tenant-123 ,region=eu%2Dwest 1, expr=a=b"]),
            [entry("expr", "a=b"), entry("tenant.id", "tenant-123")],
            "a value with a space inside is invalid; `=` inside a value is kept"
        );
        assert_eq!(
            baggage_of(&[
                "bad key=1,novalue,=empty,a(b)=2,café=x,q=\"x\",ok=1,bs=a\\b,pct=%zz,utf=%C3"
            ]),
            [entry("ok", "1")]
        );
        assert_eq!(
            baggage_of(&["user=ann;ttl=60;secret"]),
            [(
                "user".to_owned(),
                "ann".to_owned(),
                "ttl=60;secret".to_owned()
            )]
        );
        // Several headers form one list.
        assert_eq!(
            baggage_of(&["a=1", "b=2"]),
            [entry("a", "1"), entry("b", "2")]
        );
        assert!(baggage_of(&["", ",,;;==", " "]).is_empty());
    }

    #[test]
    fn baggage_past_the_limits_is_dropped_from_the_end() {
        let pad = "x".repeat(MAX_BAGGAGE_BYTES);
        let header = format!("tenant.id=tenant-123,pad={pad},after=1");
        assert_eq!(
            baggage_of(&[&header]),
            [entry("tenant.id", "tenant-123")],
            "the member over 8192 bytes and the ones after it are dropped"
        );
        // Exactly 8192 bytes fit.
        let fill = "y".repeat(MAX_BAGGAGE_BYTES - "a=1,b=".len());
        assert_eq!(baggage_of(&[&format!("a=1,b={fill}")]).len(), 2);
        assert_eq!(baggage_of(&[&format!("a=1,b={fill}y")]).len(), 1);

        let many: Vec<String> = (0..200).map(|i| format!("k{i:03}=v")).collect();
        let kept = baggage_of(&[&many.join(",")]);
        assert_eq!(kept.len(), MAX_BAGGAGE_ENTRIES);
        assert_eq!(kept.last(), Some(&entry("k063", "v")));
        // Invalid members do not count against the limit.
        let junk = vec!["bad key=1"; 100].join(",");
        assert_eq!(
            baggage_of(&[&format!("{junk},tenant.id=t")]),
            [entry("tenant.id", "t")]
        );
    }

    #[test]
    fn injected_baggage_round_trips_any_value() {
        let value = " 50% off; \"quoted\", back\\slash, café ";
        let cx = Context::new().with_baggage([opentelemetry::KeyValue::new("promo", value)]);
        let mut headers = HashMap::new();
        W3cBaggagePropagator::new().inject_context(&cx, &mut headers);
        let header = headers.get(BAGGAGE).cloned().unwrap_or_default();
        assert!(!header.contains([' ', '"', '\\', ';']), "{header}");
        assert_eq!(baggage_of(&[&header]), [entry("promo", value)]);

        let mut none = HashMap::new();
        W3cBaggagePropagator::new().inject_context(&Context::new(), &mut none);
        assert!(none.is_empty());
    }
}
