//! Trace and span ids on the lines `tracing-subscriber`'s fmt layer writes.
//!
//! [`WithTraceIds`] wraps the fmt layer's own event format, whatever it was configured to be,
//! and adds the ids of the span a line is written in: ` trace_id=… span_id=…` at the end of a
//! text line (full or compact), `"trace_id":"…","span_id":"…"` as top-level keys of a
//! JSON line. The span is the innermost OpenTelemetry span current on the thread (a
//! maestro-trace span, or a `tracing` span bridged by [`layer()`](super::layer)), or the bridged
//! span an event names as its explicit `parent:`. A line outside any span carries no ids.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use opentelemetry::trace::{SpanContext, TraceContextExt as _};
use opentelemetry::Context;
use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Compact, Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use super::layer::nearest_bridged;

/// An event format that writes what `E` writes, plus the trace and span ids of the span the
/// event is in (see the [module docs](super#trace-ids-in-log-lines)).
///
/// Made by [`with_trace_ids`], for `fmt::Layer::map_event_format`, after every other setting
/// of the format:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(maestro_trace::tracing::layer())
///     .with(
///         tracing_subscriber::fmt::layer()
///             .json()
///             .with_target(false)
///             .map_event_format(maestro_trace::tracing::with_trace_ids),
///     );
/// # drop(subscriber);
/// ```
///
/// Colours follow the fmt layer's `with_ansi` setting.
#[derive(Clone, Debug)]
pub struct WithTraceIds<E> {
    plain: E,
    coloured: E,
}

/// Wraps an event format so its lines carry trace and span ids: the function to hand to
/// `tracing_subscriber::fmt::Layer::map_event_format` (see [`WithTraceIds`]).
pub fn with_trace_ids<E: LineShape>(format: E) -> WithTraceIds<E> {
    WithTraceIds {
        coloured: format.clone().ansi(true),
        plain: format.ansi(false),
    }
}

/// An event format whose lines [`WithTraceIds`] knows how to extend: the fmt layer's own
/// `Format` in each of its shapes (full, compact, JSON).
pub trait LineShape: Clone + sealed::Sealed {
    /// Whether each line is one JSON object.
    #[doc(hidden)]
    const JSON: bool;

    /// This format writing ANSI colours or not.
    #[doc(hidden)]
    fn ansi(self, ansi: bool) -> Self;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! line_shape {
    ($($shape:ty => $json:literal),*) => {$(
        impl<T: Clone> sealed::Sealed for Format<$shape, T> {}
        impl<T: Clone> LineShape for Format<$shape, T> {
            const JSON: bool = $json;
            fn ansi(self, ansi: bool) -> Self {
                self.with_ansi(ansi)
            }
        }
    )*};
}
line_shape!(Full => false, Compact => false, Json => true);

thread_local! {
    /// The line being formatted, reused from line to line.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<S, N, E> FormatEvent<S, N> for WithTraceIds<E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    E: FormatEvent<S, N> + LineShape,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let format = if writer.has_ansi_escapes() {
            &self.coloured
        } else {
            &self.plain
        };
        let Some(ids) = span_of(ctx, event) else {
            return format.format_event(ctx, writer, event);
        };
        let mut write = |line: &mut String| {
            line.clear();
            format.format_event(ctx, Writer::new(line), event)?;
            add_ids(line, &ids, E::JSON)?;
            writer.write_str(line)
        };
        // A line formatted while formatting a line (a `Debug` impl that logs) gets its own buffer.
        match LINE.try_with(|line| line.try_borrow_mut().ok().map(|mut line| write(&mut line))) {
            Ok(Some(result)) => result,
            _ => write(&mut String::new()),
        }
    }
}

/// The span context an event's line is written in, if it is in a valid one.
fn span_of<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> Option<SpanContext>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
{
    let span_context = match event.parent() {
        Some(parent) => nearest_bridged(ctx.span(parent)?)?
            .1
            .span()
            .span_context()
            .clone(),
        None if event.is_contextual() => {
            Context::map_current(|cx| cx.span().span_context().clone())
        }
        None => return None,
    };
    span_context.is_valid().then_some(span_context)
}

/// Adds the ids to a formatted `line` (ending in a newline): as JSON keys, or as text.
fn add_ids(line: &mut String, span: &SpanContext, json: bool) -> fmt::Result {
    let body = line.trim_end_matches(['\n', '\r']).len();
    let tail = line.split_off(body);
    if json {
        if line.pop() != Some('}') {
            // Not one JSON object after all: leave the line as it was written.
            line.push_str(&tail);
            return Ok(());
        }
        write!(
            line,
            r#","trace_id":"{}","span_id":"{}"}}"#,
            span.trace_id(),
            span.span_id()
        )?;
    } else {
        write!(
            line,
            " trace_id={} span_id={}",
            span.trace_id(),
            span.span_id()
        )?;
    }
    line.push_str(&tail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn span() -> SpanContext {
        SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
            SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    }

    #[test]
    fn text_lines_end_with_the_ids() {
        let mut line = String::from("INFO app: model loaded rows=3\n");
        add_ids(&mut line, &span(), false).ok();
        assert_eq!(
            line,
            "INFO app: model loaded rows=3 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7\n"
        );
    }

    #[test]
    fn json_lines_gain_two_keys() {
        let mut line = String::from("{\"level\":\"INFO\",\"fields\":{\"message\":\"ok\"}}\n");
        add_ids(&mut line, &span(), true).ok();
        assert_eq!(
            line,
            "{\"level\":\"INFO\",\"fields\":{\"message\":\"ok\"},\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"00f067aa0ba902b7\"}\n"
        );
    }
}
