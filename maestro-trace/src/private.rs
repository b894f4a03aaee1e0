//! What macro expansions call. Not a public API: paths and signatures here change freely.
//!
//! Every generated path is absolute (`::maestro_trace::__private::...`) so nothing the user
//! imports or shadows can change what an expansion means.

use std::fmt::Display;
use std::future::Future;

pub use opentelemetry::trace::{Link, SpanKind};
pub use opentelemetry::{Array, Context, StringValue, Value};

pub use crate::attributes::{ArrayElement, AttributeValue, RecordArg, Recorder, SpanAttributes};
pub use crate::span::{InSpan, IntoLink, IntoParent, Span, SpanMeta, SpanScope};

/// Starts the span of a `#[traced]` function or a `span!`; `record` runs only if it is sampled.
#[inline(always)]
pub fn start(meta: &SpanMeta, record: impl FnOnce(&mut Recorder<'_>)) -> Span {
    Span::start(meta, record)
}

/// Starts the span of a `#[traced]` function or a `span!` with `parent = ..` or `links = ..`:
/// `parent` runs only while tracing is on, `links` and `record` only if the span is sampled.
#[inline(always)]
pub fn start_with(
    meta: &SpanMeta,
    parent: impl FnOnce() -> Option<Context>,
    links: impl FnOnce(&mut Vec<Link>),
    record: impl FnOnce(&mut Recorder<'_>),
) -> Span {
    Span::start_with(meta, parent, links, record)
}

/// The context of a `parent = ..` (the bound names the offending type in errors).
#[inline(always)]
pub fn parent<P: IntoParent>(parent: P) -> Option<Context> {
    Some(parent.into_parent())
}

/// Pushes the valid links of a `links = ..` (the bound names the offending item type).
#[inline]
pub fn links<I>(out: &mut Vec<Link>, links: I)
where
    I: IntoIterator,
    I::Item: IntoLink,
{
    out.extend(links.into_iter().filter_map(IntoLink::into_link));
}

/// `span`, unless it is the empty span of disabled tracing (then nothing is left to drop).
#[inline(always)]
pub fn started(span: Span) -> Option<Span> {
    span.started()
}

/// Runs `future` inside `span` (the async half of `#[traced]`).
#[inline(always)]
pub fn instrument<F: Future>(future: F, span: Span) -> InSpan<F> {
    InSpan::new(future, span)
}

/// `event!`: adds an event to the current span; `record` runs only if that span is sampled.
#[inline(always)]
pub fn event(name: &'static str, attrs: usize, record: impl FnOnce(&mut Recorder<'_>)) {
    if crate::pipeline::enabled() {
        crate::span::add_event(name, attrs, record);
    }
}

/// Records one `key = expr` attribute (the bound names the offending type in errors).
#[inline(always)]
pub fn attr<V: AttributeValue + ?Sized>(recorder: &mut Recorder<'_>, key: &'static str, value: &V) {
    recorder.attr(key, value);
}

/// Records a `key = "literal"` attribute without copying the string.
#[inline(always)]
pub fn attr_static(recorder: &mut Recorder<'_>, key: &'static str, value: &'static str) {
    recorder.attr_static(key, value);
}

/// A `#[span_attr(flatten)]` field as the group of attributes it records under its own keys.
/// The bound names the field's type when it is no group; the result type is the same either
/// way, so the code using it adds no error of its own.
#[inline(always)]
pub fn flatten<A: SpanAttributes>(group: &A) -> &dyn SpanAttributes {
    group
}

/// The value a `#[span_attrs]` enum records: its variant's name (or `rename`), generated.
pub trait VariantName {
    /// The `'static` value of this variant.
    fn variant_name(&self) -> &'static str;
}

/// The attribute value of a `#[span_attrs]` enum: a `'static` string, so never copied.
#[inline(always)]
pub fn variant_value<V: VariantName>(variant: &V) -> Option<Value> {
    Some(Value::from(variant.variant_name()))
}

/// A slice of `#[span_attrs]` enum values as a string array attribute.
pub fn variant_array<V: VariantName>(variants: &[V]) -> Array {
    Array::String(
        variants
            .iter()
            .map(|variant| StringValue::from(variant.variant_name()))
            .collect(),
    )
}

/// Records a bare `attrs(arg)` argument.
#[inline(always)]
pub fn arg<A: RecordArg + ?Sized>(recorder: &mut Recorder<'_>, name: &'static str, value: &A) {
    recorder.arg(name, value);
}

/// A return type that `#[record_errors]` can inspect for an error.
#[diagnostic::on_unimplemented(
    message = "`#[record_errors]` needs a function returning `Result<T, E>` with `E: Display`, but this one returns `{Self}`",
    label = "this return type cannot carry an error",
    note = "return a `Result` (aliases such as `std::io::Result` or `anyhow::Result` work too), or remove `#[record_errors]`"
)]
pub trait ErrorOutcome {
    /// Records the error, if any, on the current span.
    fn record_on_current_span(&self);
}

impl<T, E: Display> ErrorOutcome for Result<T, E> {
    fn record_on_current_span(&self) {
        if let Err(error) = self {
            crate::span::record_error(error);
        }
    }
}

/// `#[record_errors]`: records an `Err` on the current span.
#[inline(always)]
pub fn record_result<R: ErrorOutcome>(result: &R) {
    if crate::pipeline::enabled() {
        result.record_on_current_span();
    }
}

/// `#[record_errors]`'s view of a returned value, so that the recording can depend on what the
/// error type implements: `(&Outcome(&result)).record()` picks [`RecordChained`] when the error
/// is a `std::error::Error` (its message then carries its `source()` chain) and
/// [`RecordDisplayed`] otherwise (autoref specialization: the first applies without a borrow).
#[derive(Debug)]
pub struct Outcome<'a, R>(pub &'a R);

/// Records an `Err` whose type is a `std::error::Error`, with its sources.
pub trait RecordChained {
    /// Records the error, if any, on the current span.
    fn record(&self);
}

impl<T, E: std::error::Error> RecordChained for Outcome<'_, Result<T, E>> {
    #[inline(always)]
    fn record(&self) {
        if crate::pipeline::enabled() {
            if let Err(error) = self.0 {
                crate::span::record_error_chain(error);
            }
        }
    }
}

/// Records the error of any other [`ErrorOutcome`] by its `Display`; the bound sits on the
/// method so that a return type that cannot carry an error fails with `ErrorOutcome`'s message.
pub trait RecordDisplayed<R> {
    /// Records the error, if any, on the current span.
    fn record(&self)
    where
        R: ErrorOutcome;
}

impl<R> RecordDisplayed<R> for &Outcome<'_, R> {
    #[inline(always)]
    fn record(&self)
    where
        R: ErrorOutcome,
    {
        record_result(self.0);
    }
}

/// Makes `span` current until the returned guard drops (setup code of a future-returning fn).
#[inline(always)]
pub fn attach(span: &Span) -> Option<opentelemetry::ContextGuard> {
    span.context().map(|cx| cx.clone().attach())
}

/// Calls `f` once. Taking `impl FnOnce` fixes the closure's kind, which inference would otherwise
/// pick as `FnMut` for a body that returns a borrow of a `&mut` argument.
#[inline(always)]
pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
    f()
}
