//! Span processors of our own, wrapped around the SDK's.

use std::time::Duration;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::Span as _;
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Truncates string attribute values (span and event attributes, string arrays element by
/// element) to at most `max_len` bytes, at a character boundary, before the span moves on:
/// a value over the limit is shortened, never rejected. The SDK's `SpanLimits` has no value
/// length limit, so this wraps the exporting processor when one is configured.
#[derive(Debug)]
pub(crate) struct TruncatingProcessor {
    inner: Box<dyn SpanProcessor>,
    max_len: usize,
}

impl TruncatingProcessor {
    pub(crate) fn new(inner: Box<dyn SpanProcessor>, max_len: usize) -> Self {
        TruncatingProcessor { inner, max_len }
    }
}

impl SpanProcessor for TruncatingProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        truncate_span(&mut span, self.max_len);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Copies the named baggage entries of a span's parent context onto the span as attributes
/// when it starts (the "baggage span processor" of the other OpenTelemetry languages). Only
/// added to the pipeline when at least one key is configured.
#[derive(Debug)]
pub(crate) struct BaggageSpanProcessor {
    keys: Vec<Key>,
}

impl BaggageSpanProcessor {
    pub(crate) fn new(keys: Vec<Key>) -> Self {
        BaggageSpanProcessor { keys }
    }
}

impl SpanProcessor for BaggageSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        for attribute in baggage_attributes(&self.keys, cx) {
            span.set_attribute(attribute);
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The entries of `cx`'s baggage named by `keys`, as span attributes, in the order of `keys`:
/// what both our spans (`crate::recording`) and raw SDK spans (above) copy at their start.
pub(crate) fn baggage_attributes<'a>(
    keys: &'a [Key],
    cx: &'a Context,
) -> impl Iterator<Item = KeyValue> + 'a {
    let baggage = cx.baggage();
    let keys = if baggage.is_empty() { &[] } else { keys };
    keys.iter().filter_map(move |key| {
        baggage
            .get(key)
            .map(|value| KeyValue::new(key.clone(), value.clone()))
    })
}

/// Cuts the string values of `span`'s attributes and of its events' attributes to `max_len`
/// bytes (on a character boundary).
pub(crate) fn truncate_span(span: &mut SpanData, max_len: usize) {
    truncate_all(&mut span.attributes, max_len);
    for event in span.events.events.iter_mut() {
        truncate_all(&mut event.attributes, max_len);
    }
}

fn truncate_all(attributes: &mut [KeyValue], max_len: usize) {
    for kv in attributes {
        match &mut kv.value {
            Value::String(s) => {
                if let Some(short) = truncated(s.as_str(), max_len) {
                    *s = StringValue::from(short);
                }
            }
            Value::Array(Array::String(items)) => {
                for s in items.iter_mut() {
                    if let Some(short) = truncated(s.as_str(), max_len) {
                        *s = StringValue::from(short);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `s` cut to at most `max_len` bytes at a character boundary, or `None` if it already fits.
fn truncated(s: &str, max_len: usize) -> Option<String> {
    if s.len() <= max_len {
        return None;
    }
    let mut end = max_len;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(s[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncated("abcdef", 4).as_deref(), Some("abcd"));
        assert_eq!(truncated("abc", 4), None);
        // "é" is two bytes: cutting at 2 would split it.
        assert_eq!(truncated("aé", 2).as_deref(), Some("a"));
        assert_eq!(truncated("ab", 0).as_deref(), Some(""));
    }

    #[test]
    fn strings_and_string_arrays_are_truncated_other_values_kept() {
        let mut attributes = vec![
            KeyValue::new("prompt", "x".repeat(10)),
            KeyValue::new(
                "tags",
                Value::Array(Array::String(vec!["long-tag".into(), "ok".into()])),
            ),
            KeyValue::new("tokens", 12_345_i64),
        ];
        truncate_all(&mut attributes, 4);
        assert_eq!(attributes[0].value, Value::from("xxxx"));
        assert_eq!(
            attributes[1].value,
            Value::Array(Array::String(vec!["long".into(), "ok".into()]))
        );
        assert_eq!(attributes[2].value, Value::I64(12_345));
    }
}
