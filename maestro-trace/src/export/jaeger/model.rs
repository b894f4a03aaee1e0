//! OpenTelemetry spans and resources as Jaeger Thrift spans and processes.
//!
//! Follows the OpenTelemetry specification's "OpenTelemetry to Jaeger Transformation"
//! (`specification/trace/sdk_exporters/jaeger.md`, last published before its removal in
//! specification PR #3964) and the generic rules of `specification/common/mapping-to-non-otlp.md`.
//! Where the specification leaves a choice, the result matches what Jaeger itself shows for the
//! same span received over OTLP (tag names, array formatting, `w3c.tracestate`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::thrift::{Log, Process, Span, SpanRef, SpanRefType, Tag, TagValue};

/// The service name of a process whose resource has none (the SDK's own default).
const UNKNOWN_SERVICE: &str = crate::config::DEFAULT_SERVICE_NAME;
const SERVICE_NAME: &str = "service.name";

// Tag keys from the specification.
const SPAN_KIND: &str = "span.kind";
const STATUS_CODE: &str = "otel.status_code";
const STATUS_DESCRIPTION: &str = "otel.status_description";
const ERROR: &str = "error";
const SCOPE_NAME: &str = "otel.scope.name";
const SCOPE_VERSION: &str = "otel.scope.version";
const DROPPED_ATTRIBUTES: &str = "otel.dropped_attributes_count";
const DROPPED_EVENTS: &str = "otel.dropped_events_count";
const DROPPED_LINKS: &str = "otel.dropped_links_count";
/// Not in the specification (its TraceState row is "TBD"); the key Jaeger's own OTLP translation
/// uses, so the span looks the same whichever way it arrived.
const TRACE_STATE: &str = "w3c.tracestate";
/// The log field naming the event (OpenTracing's log-fields table).
const EVENT: &str = "event";

/// The Jaeger process of `resource`: `service.name` becomes the service name, every other
/// resource attribute a process tag.
pub(crate) fn process(resource: &Resource) -> Process<'_> {
    let mut service_name = None;
    let mut tags = Vec::with_capacity(resource.len());
    for (key, value) in resource.iter() {
        if key.as_str() == SERVICE_NAME {
            service_name = Some(match value {
                Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            });
        } else {
            tags.push(Tag::new(key.as_str(), tag_value(value)));
        }
    }
    Process {
        service_name: service_name.unwrap_or(Cow::Borrowed(UNKNOWN_SERVICE)),
        tags,
    }
}

/// The Jaeger span of `data`.
pub(crate) fn span(data: &SpanData) -> Span<'_> {
    let context = &data.span_context;
    let (trace_id_high, trace_id_low) = trace_id(context.trace_id());
    let has_parent = data.parent_span_id != SpanId::INVALID;

    // The parent's CHILD_OF reference first, then the links (specification: "Parent ID", "Links").
    let mut references = Vec::with_capacity(usize::from(has_parent) + data.links.len());
    if has_parent {
        references.push(SpanRef {
            ref_type: SpanRefType::ChildOf,
            trace_id_low,
            trace_id_high,
            span_id: span_id(data.parent_span_id),
        });
    }
    references.extend(data.links.iter().map(|link| reference(&link.span_context)));

    let start = micros_since_epoch(data.start_time);
    // Truncated like Jaeger's own OTLP translation, except that a span that did last gets at
    // least 1 µs: Jaeger flags an end equal to the start as a "negative duration".
    let duration = match data.end_time.duration_since(data.start_time) {
        Ok(d) if d.is_zero() => 0,
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX).max(1),
        Err(_) => 0,
    };

    Span {
        trace_id_low,
        trace_id_high,
        span_id: span_id(context.span_id()),
        parent_span_id: if has_parent {
            span_id(data.parent_span_id)
        } else {
            0
        },
        operation_name: &data.name,
        references,
        flags: i32::from(context.is_sampled()),
        start_time: start,
        duration,
        tags: span_tags(data),
        logs: data.events.iter().map(log).collect(),
    }
}

fn span_tags(data: &SpanData) -> Vec<Tag<'_>> {
    let error = matches!(data.status, Status::Error { .. });
    let mut tags = Vec::with_capacity(data.attributes.len() + 8);

    let scope = &data.instrumentation_scope;
    if !scope.name().is_empty() {
        tags.push(string_tag(SCOPE_NAME, scope.name()));
    }
    if let Some(version) = scope.version().filter(|v| !v.is_empty()) {
        tags.push(string_tag(SCOPE_VERSION, version));
    }

    for KeyValue { key, value, .. } in &data.attributes {
        // An Error status's `error=true` overrides an attribute of that name (specification:
        // "Error flag").
        if error && key.as_str() == ERROR {
            continue;
        }
        tags.push(Tag::new(key.as_str(), tag_value(value)));
    }

    // Every kind, `internal` included, becomes a `span.kind` tag. The specification says
    // internal SHOULD NOT be tagged, but Jaeger shows `span.kind=internal` for spans it receives
    // over OTLP, and a span must look the same in Jaeger whichever transport carried it.
    let kind = match data.span_kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    };
    tags.push(string_tag(SPAN_KIND, kind));

    match &data.status {
        Status::Unset => {}
        Status::Ok => tags.push(string_tag(STATUS_CODE, "OK")),
        Status::Error { description } => {
            tags.push(string_tag(STATUS_CODE, "ERROR"));
            tags.push(Tag::new(ERROR, TagValue::Bool(true)));
            if !description.is_empty() {
                tags.push(string_tag(STATUS_DESCRIPTION, description));
            }
        }
    }

    push_count(&mut tags, DROPPED_ATTRIBUTES, data.dropped_attributes_count);
    push_count(&mut tags, DROPPED_EVENTS, data.events.dropped_count);
    push_count(&mut tags, DROPPED_LINKS, data.links.dropped_count);

    let trace_state = data.span_context.trace_state().header();
    if !trace_state.is_empty() {
        tags.push(Tag::new(TRACE_STATE, TagValue::String(trace_state.into())));
    }
    tags
}

/// An event as a log: the `event` field names it unless an attribute of that name takes
/// precedence (specification: "Events").
fn log(event: &opentelemetry::trace::Event) -> Log<'_> {
    let mut fields = Vec::with_capacity(event.attributes.len() + 2);
    if !event.attributes.iter().any(|kv| kv.key.as_str() == EVENT) {
        fields.push(string_tag(EVENT, &event.name));
    }
    fields.extend(
        event
            .attributes
            .iter()
            .map(|kv| Tag::new(kv.key.as_str(), tag_value(&kv.value))),
    );
    push_count(
        &mut fields,
        DROPPED_ATTRIBUTES,
        event.dropped_attributes_count,
    );
    Log {
        timestamp: micros_since_epoch(event.timestamp),
        fields,
    }
}

fn reference(linked: &SpanContext) -> SpanRef {
    let (trace_id_high, trace_id_low) = trace_id(linked.trace_id());
    SpanRef {
        ref_type: SpanRefType::FollowsFrom,
        trace_id_low,
        trace_id_high,
        span_id: span_id(linked.span_id()),
    }
}

/// The trace id's big-endian halves, each re-interpreted as a signed i64 (specification: "IDs").
fn trace_id(id: TraceId) -> (i64, i64) {
    let id = u128::from_be_bytes(id.to_bytes());
    ((id >> 64) as u64 as i64, id as u64 as i64)
}

fn span_id(id: SpanId) -> i64 {
    u64::from_be_bytes(id.to_bytes()) as i64
}

/// Microseconds since the Unix epoch, truncated (specification: "Unit of time").
fn micros_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn string_tag<'a>(key: &'static str, value: &'a str) -> Tag<'a> {
    Tag::new(key, TagValue::String(Cow::Borrowed(value)))
}

fn push_count(tags: &mut Vec<Tag<'_>>, key: &'static str, count: u32) {
    if count > 0 {
        tags.push(Tag::new(key, TagValue::Long(i64::from(count))));
    }
}

/// Primitive values keep their type; arrays become a JSON list in a string tag (specification:
/// "Attributes").
fn tag_value(value: &Value) -> TagValue<'_> {
    match value {
        Value::Bool(b) => TagValue::Bool(*b),
        Value::I64(i) => TagValue::Long(*i),
        Value::F64(f) => TagValue::Double(*f),
        Value::String(s) => TagValue::String(Cow::Borrowed(s.as_str())),
        Value::Array(array) => TagValue::String(Cow::Owned(json_array(array))),
        // `Value` is non-exhaustive: a future variant is shown the way the SDK prints it.
        other => TagValue::String(Cow::Owned(other.to_string())),
    }
}

fn json_array(array: &Array) -> String {
    let mut out = String::from("[");
    let mut sep = "";
    match array {
        Array::Bool(values) => values.iter().for_each(|v| {
            let _ = write!(out, "{sep}{v}");
            sep = ",";
        }),
        Array::I64(values) => values.iter().for_each(|v| {
            let _ = write!(out, "{sep}{v}");
            sep = ",";
        }),
        Array::F64(values) => values.iter().for_each(|v| {
            out.push_str(sep);
            json_number(&mut out, *v);
            sep = ",";
        }),
        Array::String(values) => values.iter().for_each(|v: &StringValue| {
            out.push_str(sep);
            json_string(&mut out, v.as_str());
            sep = ",";
        }),
        other => {
            out.push_str(sep);
            json_string(&mut out, &other.to_string());
        }
    }
    out.push(']');
    out
}

/// A finite double as JSON writes it (`2` for 2.0, like Jaeger's own OTLP translation); JSON has
/// no NaN or infinities, so those become strings.
fn json_number(out: &mut String, value: f64) {
    if value.is_finite() {
        let _ = write!(out, "{value}");
    } else {
        json_string(out, &value.to_string());
    }
}

fn json_string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::span as to_span;
    use super::*;

    const TRACE: [u8; 16] = [0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x10, 0, 0, 0, 0, 0, 0, 0x02];

    fn context(span: u64, sampled: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes(TRACE),
            SpanId::from(span),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            false,
            TraceState::default(),
        )
    }

    pub(in crate::export::jaeger) fn span_data() -> SpanData {
        let start = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        SpanData {
            span_context: context(0xab, true),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "train_model_job".into(),
            start_time: start,
            end_time: start + Duration::from_nanos(2_500_999),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("maestro-trace")
                .with_version("0.1.0")
                .build(),
        }
    }

    fn tag<'a>(tags: &'a [Tag<'a>], key: &str) -> Option<&'a TagValue<'a>> {
        let mut found = tags.iter().filter(|t| t.key == key);
        let first = found.next().map(|t| &t.value);
        assert!(found.next().is_none(), "tag {key} appears more than once");
        first
    }

    fn string(value: &str) -> TagValue<'_> {
        TagValue::String(value.into())
    }

    #[test]
    fn ids_are_big_endian_halves_reinterpreted_as_signed() {
        let data = span_data();
        let span = to_span(&data);
        // The specification's example: 0xFF00000000000000 is -72057594037927936.
        assert_eq!(span.trace_id_high, -72057594037927936 + 1);
        assert_eq!(span.trace_id_low, 0x1000_0000_0000_0002);
        assert_eq!(span.span_id, 0xab);
        assert_eq!(span_id(SpanId::from(u64::MAX)), -1);
    }

    #[test]
    fn times_are_truncated_to_microseconds() {
        let data = span_data();
        let span = to_span(&data);
        assert_eq!(span.start_time, 1_700_000_000_123_456);
        // 2 500 999 ns is 2 500 µs (the duration is truncated on its own, not end - start).
        assert_eq!(span.duration, 2_500);
        assert_eq!(span.flags, 1);
        assert_eq!(span.operation_name, "train_model_job");
    }

    #[test]
    fn a_span_shorter_than_a_microsecond_lasts_one() {
        let mut data = span_data();
        data.end_time = data.start_time + Duration::from_nanos(300);
        assert_eq!(to_span(&data).duration, 1);
        data.end_time = data.start_time;
        assert_eq!(to_span(&data).duration, 0);
    }

    #[test]
    fn a_span_ending_before_it_starts_has_zero_duration() {
        let mut data = span_data();
        data.end_time = data.start_time - Duration::from_secs(1);
        assert_eq!(to_span(&data).duration, 0);
    }

    #[test]
    fn unsampled_spans_have_no_flags() {
        let mut data = span_data();
        data.span_context = context(0xab, false);
        assert_eq!(to_span(&data).flags, 0);
    }

    #[test]
    fn a_root_span_has_no_parent_and_no_references() {
        let data = span_data();
        let span = to_span(&data);
        assert_eq!(span.parent_span_id, 0);
        assert!(span.references.is_empty());
    }

    #[test]
    fn the_parent_is_a_child_of_reference_before_the_links() {
        let mut data = span_data();
        data.parent_span_id = SpanId::from(0x77);
        let other_trace = SpanContext::new(
            TraceId::from(0x0000_0000_0000_0003_0000_0000_0000_0004_u128),
            SpanId::from(0x99),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        data.links.links = vec![Link::new(other_trace, vec![KeyValue::new("l", 1)], 0)];
        let span = to_span(&data);
        assert_eq!(span.parent_span_id, 0x77);
        assert_eq!(
            span.references,
            [
                SpanRef {
                    ref_type: SpanRefType::ChildOf,
                    trace_id_low: span.trace_id_low,
                    trace_id_high: span.trace_id_high,
                    span_id: 0x77,
                },
                SpanRef {
                    ref_type: SpanRefType::FollowsFrom,
                    trace_id_low: 4,
                    trace_id_high: 3,
                    span_id: 0x99,
                },
            ]
        );
    }

    #[test]
    fn every_kind_becomes_a_span_kind_tag() {
        for (kind, expected) in [
            (SpanKind::Client, "client"),
            (SpanKind::Server, "server"),
            (SpanKind::Producer, "producer"),
            (SpanKind::Consumer, "consumer"),
            (SpanKind::Internal, "internal"),
        ] {
            let mut data = span_data();
            data.span_kind = kind;
            let span = to_span(&data);
            assert_eq!(tag(&span.tags, SPAN_KIND), Some(&string(expected)));
        }
    }

    #[test]
    fn the_scope_becomes_otel_scope_tags() {
        let data = span_data();
        let span = to_span(&data);
        assert_eq!(tag(&span.tags, SCOPE_NAME), Some(&string("maestro-trace")));
        assert_eq!(tag(&span.tags, SCOPE_VERSION), Some(&string("0.1.0")));

        let mut data = span_data();
        data.instrumentation_scope = InstrumentationScope::builder("").build();
        let tags = to_span(&data).tags;
        assert_eq!(tag(&tags, SCOPE_NAME), None);
        assert_eq!(tag(&tags, SCOPE_VERSION), None);
    }

    #[test]
    fn status_becomes_otel_status_tags_and_error_sets_the_error_flag() {
        let data = span_data();
        assert_eq!(tag(&to_span(&data).tags, STATUS_CODE), None);

        let mut data = span_data();
        data.status = Status::Ok;
        let ok = to_span(&data);
        assert_eq!(tag(&ok.tags, STATUS_CODE), Some(&string("OK")));
        assert_eq!(tag(&ok.tags, ERROR), None);

        let mut data = span_data();
        data.attributes = vec![KeyValue::new("error", "user value")];
        data.status = Status::error("disk full");
        let failed = to_span(&data);
        assert_eq!(tag(&failed.tags, STATUS_CODE), Some(&string("ERROR")));
        assert_eq!(tag(&failed.tags, ERROR), Some(&TagValue::Bool(true)));
        assert_eq!(
            tag(&failed.tags, STATUS_DESCRIPTION),
            Some(&string("disk full"))
        );

        let mut data = span_data();
        data.status = Status::error("");
        assert_eq!(tag(&to_span(&data).tags, STATUS_DESCRIPTION), None);
    }

    #[test]
    fn attributes_keep_their_type_and_arrays_become_json() {
        let mut data = span_data();
        data.attributes = vec![
            KeyValue::new("model.id", "bert"),
            KeyValue::new("training.epochs", 3_i64),
            KeyValue::new("accuracy", 0.93),
            KeyValue::new("gpu", true),
            KeyValue::new("ints", Value::Array(vec![1_i64, -2].into())),
            KeyValue::new("floats", Value::Array(vec![2.0, 0.5, f64::NAN].into())),
            KeyValue::new("bools", Value::Array(vec![true, false].into())),
            KeyValue::new(
                "strings",
                Value::Array(
                    vec![
                        StringValue::from("a\"b"),
                        StringValue::from("c\\d\n"),
                        StringValue::from("\u{1}"),
                    ]
                    .into(),
                ),
            ),
            KeyValue::new("empty", Value::Array(Vec::<i64>::new().into())),
        ];
        let span = to_span(&data);
        assert_eq!(tag(&span.tags, "model.id"), Some(&string("bert")));
        assert_eq!(tag(&span.tags, "training.epochs"), Some(&TagValue::Long(3)));
        assert_eq!(tag(&span.tags, "accuracy"), Some(&TagValue::Double(0.93)));
        assert_eq!(tag(&span.tags, "gpu"), Some(&TagValue::Bool(true)));
        assert_eq!(tag(&span.tags, "ints"), Some(&string("[1,-2]")));
        assert_eq!(tag(&span.tags, "floats"), Some(&string("[2,0.5,\"NaN\"]")));
        assert_eq!(tag(&span.tags, "bools"), Some(&string("[true,false]")));
        assert_eq!(
            tag(&span.tags, "strings"),
            Some(&string(r#"["a\"b","c\\d\n","\u0001"]"#))
        );
        assert_eq!(tag(&span.tags, "empty"), Some(&string("[]")));
    }

    #[test]
    fn events_become_logs_named_by_the_event_field() {
        let mut data = span_data();
        let at = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_200_000_999);
        data.events.events = vec![
            Event::new(
                "job_queued",
                at,
                vec![KeyValue::new("queue", "training"), KeyValue::new("n", 7)],
                2,
            ),
            Event::new("ignored", at, vec![KeyValue::new("event", "explicit")], 0),
        ];
        let span = to_span(&data);
        assert_eq!(
            span.logs,
            [
                Log {
                    timestamp: 1_700_000_000_200_000,
                    fields: vec![
                        Tag::new("event", string("job_queued")),
                        Tag::new("queue", string("training")),
                        Tag::new("n", TagValue::Long(7)),
                        Tag::new(DROPPED_ATTRIBUTES, TagValue::Long(2)),
                    ],
                },
                Log {
                    timestamp: 1_700_000_000_200_000,
                    fields: vec![Tag::new("event", string("explicit"))],
                },
            ]
        );
    }

    #[test]
    fn dropped_counts_are_tags_only_when_non_zero() {
        let data = span_data();
        let span_without = to_span(&data);
        assert_eq!(tag(&span_without.tags, DROPPED_ATTRIBUTES), None);

        let mut data = span_data();
        data.dropped_attributes_count = 4;
        data.events.dropped_count = 5;
        data.links.dropped_count = 6;
        let span = to_span(&data);
        assert_eq!(
            tag(&span.tags, DROPPED_ATTRIBUTES),
            Some(&TagValue::Long(4))
        );
        assert_eq!(tag(&span.tags, DROPPED_EVENTS), Some(&TagValue::Long(5)));
        assert_eq!(tag(&span.tags, DROPPED_LINKS), Some(&TagValue::Long(6)));
    }

    #[test]
    fn trace_state_is_kept_as_a_tag() {
        let mut data = span_data();
        data.span_context = SpanContext::new(
            TraceId::from_bytes(TRACE),
            SpanId::from(1),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("vendor", "x")]).expect("valid trace state"),
        );
        assert_eq!(
            tag(&to_span(&data).tags, TRACE_STATE),
            Some(&string("vendor=x"))
        );
    }

    #[test]
    fn the_resource_becomes_the_process() {
        let resource = Resource::builder_empty()
            .with_service_name("maestro-ml-api")
            .with_attributes([
                KeyValue::new("deployment.environment", "staging"),
                KeyValue::new("host.cpus", 4),
            ])
            .build();
        let process = process(&resource);
        assert_eq!(process.service_name, "maestro-ml-api");
        assert_eq!(process.tags.len(), 2);
        assert_eq!(
            tag(&process.tags, "deployment.environment"),
            Some(&string("staging"))
        );
        assert_eq!(tag(&process.tags, "host.cpus"), Some(&TagValue::Long(4)));
        assert_eq!(tag(&process.tags, SERVICE_NAME), None);
    }

    #[test]
    fn a_resource_without_service_name_gets_the_default() {
        let resource = Resource::builder_empty().build();
        let process = process(&resource);
        assert_eq!(process.service_name, "unknown_service");
        assert!(process.tags.is_empty());
    }
}
