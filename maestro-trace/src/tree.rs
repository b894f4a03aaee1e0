//! Finished spans drawn as indented trace trees: what the console exporter prints and what
//! `testing::Capture::tree` returns.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

/// What a rendered tree shows besides names and structure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TreeStyle {
    /// Print each span's duration (off for deterministic test output).
    pub(crate) durations: bool,
    /// Print the trace id above each tree.
    pub(crate) trace_ids: bool,
}

/// Renders `spans` as one tree per trace (in order of first start), children by start time.
pub(crate) fn render(spans: &[SpanData], style: TreeStyle) -> String {
    let mut traces: Vec<TraceId> = Vec::new();
    let mut by_trace: HashMap<TraceId, Vec<&SpanData>> = HashMap::new();
    let mut ordered: Vec<&SpanData> = spans.iter().collect();
    ordered.sort_by_key(|s| s.start_time);
    for span in ordered {
        let trace = span.span_context.trace_id();
        by_trace
            .entry(trace)
            .or_insert_with(|| {
                traces.push(trace);
                Vec::new()
            })
            .push(span);
    }

    let mut out = String::new();
    for trace in traces {
        let members = &by_trace[&trace];
        if style.trace_ids {
            let _ = writeln!(out, "trace {trace}");
        }
        let present: HashMap<SpanId, ()> = members
            .iter()
            .map(|s| (s.span_context.span_id(), ()))
            .collect();
        let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
        let mut roots = Vec::new();
        for span in members {
            if present.contains_key(&span.parent_span_id) {
                children.entry(span.parent_span_id).or_default().push(span);
            } else {
                roots.push(*span);
            }
        }
        for root in roots {
            draw(&mut out, root, &children, "", None, style);
        }
    }
    out
}

/// Draws `span` and its subtree. `last` is `None` for a root, else whether it is the last child.
fn draw(
    out: &mut String,
    span: &SpanData,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    prefix: &str,
    last: Option<bool>,
    style: TreeStyle,
) {
    let (branch, child_prefix) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{prefix}└─ "), format!("{prefix}   ")),
        Some(false) => (format!("{prefix}├─ "), format!("{prefix}│  ")),
    };
    let _ = write!(out, "{branch}{}", span.name);
    if span.span_kind != SpanKind::Internal {
        let _ = write!(out, " [{}]", kind_name(&span.span_kind));
    }
    if style.durations {
        let elapsed = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default();
        let _ = write!(out, " ({})", human_duration(elapsed));
    }
    if let Status::Error { description } = &span.status {
        let _ = write!(out, " ✗ ERROR");
        if !description.is_empty() {
            let _ = write!(out, ": {description}");
        }
    }
    write_attributes(out, &span.attributes);
    out.push('\n');

    let kids = children.get(&span.span_context.span_id());
    let has_kids = kids.is_some_and(|k| !k.is_empty());
    // Links and events sit under their span; the rail continues only if children follow.
    let rail = if has_kids { "│" } else { " " };
    for link in span.links.iter() {
        let linked = &link.span_context;
        let _ = write!(
            out,
            "{child_prefix}{rail}  ↪ linked to trace {} span {}",
            linked.trace_id(),
            linked.span_id()
        );
        write_attributes(out, &link.attributes);
        out.push('\n');
    }
    for event in span.events.iter() {
        let _ = write!(out, "{child_prefix}{rail}  • {}", event.name);
        write_attributes(out, &event.attributes);
        out.push('\n');
    }
    if let Some(kids) = kids {
        for (i, child) in kids.iter().enumerate() {
            draw(
                out,
                child,
                children,
                &child_prefix,
                Some(i + 1 == kids.len()),
                style,
            );
        }
    }
}

fn write_attributes(out: &mut String, attributes: &[KeyValue]) {
    if attributes.is_empty() {
        return;
    }
    out.push_str(" {");
    for (i, kv) in attributes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{}=", kv.key);
        match &kv.value {
            Value::String(s) => {
                let _ = write!(out, "{:?}", s.as_str());
            }
            other => {
                let _ = write!(out, "{other}");
            }
        }
    }
    out.push('}');
}

pub(crate) fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Client => "client",
        SpanKind::Server => "server",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn human_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.1} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(human_duration(Duration::from_micros(250)), "250 µs");
        assert_eq!(human_duration(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(human_duration(Duration::from_millis(2_500)), "2.50 s");
    }
}
