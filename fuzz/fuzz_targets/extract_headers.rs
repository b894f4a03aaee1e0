//! Untrusted propagation headers: arbitrary bytes as `traceparent`, `tracestate`, `baggage` and
//! `uber-trace-id`, through every propagator maestro-trace installs. Extraction must never panic,
//! and an accepted `traceparent` must say exactly what the header says.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use maestro_trace::baggage::{MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES};
use maestro_trace::otel::baggage::BaggageExt;
use maestro_trace::otel::propagation::TextMapPropagator;
use maestro_trace::otel::trace::TraceContextExt;
use maestro_trace::propagation::{
    JaegerPropagator, W3cBaggagePropagator, W3cTraceContextPropagator,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let traceparent = parts.next().unwrap_or_default();
    let headers = HashMap::from([
        ("traceparent".to_owned(), traceparent.to_owned()),
        ("tracestate".to_owned(), parts.next().unwrap_or_default().to_owned()),
        ("baggage".to_owned(), parts.next().unwrap_or_default().to_owned()),
        ("uber-trace-id".to_owned(), parts.next().unwrap_or_default().to_owned()),
    ]);

    let cx = W3cTraceContextPropagator::new().extract(&headers);
    let context = cx.span().span_context().clone();
    if context.is_valid() {
        let fields: Vec<&str> = traceparent.trim_matches([' ', '\t']).split('-').collect();
        assert_eq!(context.trace_id().to_string(), fields[1], "trace id reinterpreted");
        assert_eq!(context.span_id().to_string(), fields[2], "span id reinterpreted");
        assert!(context.trace_state().header().split(',').count() <= 32);
    }
    // Injecting what was extracted must not panic either.
    let mut out = HashMap::new();
    W3cTraceContextPropagator::new().inject_context(&cx, &mut out);

    let cx = W3cBaggagePropagator::new().extract_with_context(&cx, &headers);
    assert!(cx.baggage().len() <= MAX_BAGGAGE_ENTRIES);
    W3cBaggagePropagator::new().inject_context(&cx, &mut out);
    assert!(out.get("baggage").map_or(0, String::len) <= MAX_BAGGAGE_BYTES);
    let cx = JaegerPropagator::new().extract_with_context(&cx, &headers);
    JaegerPropagator::new().inject_context(&cx, &mut out);
});
