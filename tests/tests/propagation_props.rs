//! Property tests of context extraction from untrusted headers: whatever arrives, extraction
//! never panics, accepts exactly what the W3C grammar accepts, and round-trips what it accepts
//! (a `tracestate` is passed on exactly when the current key grammar allows it).

use std::collections::HashMap;

use maestro_trace::otel::propagation::TextMapPropagator;
use maestro_trace::otel::trace::TraceContextExt;
use maestro_trace::propagation::{JaegerPropagator, W3cTraceContextPropagator};
use proptest::prelude::*;

fn extract(headers: &[(&str, &str)]) -> maestro_trace::otel::trace::SpanContext {
    let map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let cx = W3cTraceContextPropagator::new().extract(&map);
    let span = cx.span();
    span.span_context().clone()
}

/// The W3C grammar for version 00, written independently of the implementation: 55 characters,
/// lowercase hex in four dash-separated fields of 2, 32, 16 and 2, ids not all zero.
fn w3c_valid_v00(value: &str) -> bool {
    let fields: Vec<&str> = value.split('-').collect();
    let hex = |s: &str, len: usize| {
        s.len() == len && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    };
    fields.len() == 4
        && fields[0] == "00"
        && hex(fields[1], 32)
        && hex(fields[2], 16)
        && hex(fields[3], 2)
        && fields[1].chars().any(|c| c != '0')
        && fields[2].chars().any(|c| c != '0')
}

/// What a service passes on for `tracestate` (with a valid `traceparent`): the header its
/// outgoing `tracestate` carries.
fn passed_on(tracestate: &str) -> String {
    let map = HashMap::from([
        (
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        ),
        ("tracestate".to_owned(), tracestate.to_owned()),
    ]);
    let propagator = W3cTraceContextPropagator::new();
    let cx = propagator.extract(&map);
    let mut out = HashMap::new();
    propagator.inject_context(&cx, &mut out);
    out.remove("tracestate").unwrap_or_default()
}

/// The current `tracestate` key grammar, written independently of the implementation:
/// `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`.
fn w3c_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-*/@".contains(c))
        && key.len() <= 256
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_traceparent_is_accepted_exactly_when_the_grammar_says_so(value in "\\PC{0,80}") {
        let context = extract(&[("traceparent", &value)]);
        if value.starts_with("00") {
            prop_assert_eq!(context.is_valid(), w3c_valid_v00(value.trim_matches([' ', '\t'])));
        } else {
            prop_assert!(!context.is_valid() || value.len() >= 55);
        }
    }

    #[test]
    fn near_miss_traceparents_never_produce_a_different_trace_id(
        value in "0[0-9a-fA-F+ ]-[0-9a-fA-F+-]{30,34}-[0-9a-fA-F+]{14,18}-[0-9a-fA-F]{1,3}"
    ) {
        let context = extract(&[("traceparent", &value)]);
        if context.is_valid() {
            // Whatever is accepted is exactly what the header says, never a reinterpretation.
            let fields: Vec<&str> = value.split('-').collect();
            prop_assert_eq!(context.trace_id().to_string(), fields[1]);
            prop_assert_eq!(context.span_id().to_string(), fields[2]);
        }
    }

    #[test]
    fn valid_traceparents_round_trip(
        trace in 1_u128..,
        span in 1_u64..,
        sampled in any::<bool>(),
    ) {
        let value = format!("00-{trace:032x}-{span:016x}-{:02x}", u8::from(sampled));
        let context = extract(&[("traceparent", &value)]);
        prop_assert!(context.is_valid() && context.is_remote());
        prop_assert_eq!(context.trace_id().to_string(), format!("{trace:032x}"));
        prop_assert_eq!(context.span_id().to_string(), format!("{span:016x}"));
        prop_assert_eq!(context.is_sampled(), sampled);
    }

    #[test]
    fn any_tracestate_keeps_the_trace_and_yields_only_valid_members(state in "\\PC{0,300}") {
        let context = extract(&[
            ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("tracestate", &state),
        ]);
        prop_assert!(context.is_valid(), "a bad tracestate never costs the traceparent");
        let header = context.trace_state().header();
        for member in header.split(',').filter(|m| !m.is_empty()) {
            let (key, value) = member.split_once('=').expect("key=value");
            prop_assert!(key.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()));
            prop_assert!(!value.is_empty() && !value.contains('='));
        }
        prop_assert!(header.split(',').filter(|m| !m.is_empty()).count() <= 32);
    }

    #[test]
    fn a_tracestate_is_passed_on_exactly_when_every_member_follows_the_grammar(
        members in proptest::collection::vec(("[a-z0-9@A-Z._*/-]{1,8}", "[a-z=]{0,3}"), 1..6),
    ) {
        let header: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let valid = members
            .iter()
            .all(|(k, v)| w3c_valid_key(k) && !v.is_empty() && !v.contains('='));
        let mut expected: Vec<String> = Vec::new();
        if valid {
            // A repeated key keeps its first member.
            for (key, value) in &members {
                if !expected.iter().any(|m| m.split_once('=').is_some_and(|(k, _)| k == key)) {
                    expected.push(format!("{key}={value}"));
                }
            }
        }
        prop_assert_eq!(passed_on(&header.join(",")), expected.join(","));
    }

    #[test]
    fn any_uber_trace_id_is_handled_without_panicking(value in "\\PC{0,120}") {
        let map = HashMap::from([("uber-trace-id".to_owned(), value)]);
        let cx = JaegerPropagator::new().extract(&map);
        let span = cx.span();
        let context = span.span_context();
        prop_assert!(!context.is_valid() || context.is_remote());
    }
}
