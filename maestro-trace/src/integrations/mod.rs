//! Client spans for the databases and caches a service talks to: every statement run through an
//! instrumented [`sqlx`](crate::sqlx) pool or transaction, every command sent over an
//! instrumented [`redis`](crate::redis) connection.
//!
//! Both follow the stable database semantic conventions and share what is here: when a span is
//! started at all (never with tracing off, never under a parent the sampler drops: then the
//! statement or command is not even looked at), the future that keeps the span current while
//! the client works and ends it with the outcome, and how a failure is recorded.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::{SpanKind, TraceContextExt as _};
use opentelemetry::{Context, KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::ERROR_TYPE;
use pin_project_lite::pin_project;

use crate::pipeline::{self, Active};
use crate::recording::Begin;
use crate::span::{self, error_chain, record_exception};

#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlx")]
pub mod sqlx;

/// The context a client span would start under, once it is known that it will be recorded.
///
/// Getting one costs an atomic load and a thread-local read and allocates nothing; only then
/// does an integration look at the statement or command to build the span's name and attributes.
pub(crate) struct Parent {
    active: Rc<Active>,
    cx: Context,
}

impl Parent {
    /// The current context, unless tracing is off, no pipeline is installed, or the current span
    /// is unsampled and the sampler drops the children of unsampled spans.
    #[inline]
    pub(crate) fn current() -> Option<Parent> {
        if !pipeline::enabled() {
            return None;
        }
        Parent::current_enabled()
    }

    fn current_enabled() -> Option<Parent> {
        let active = pipeline::active()?;
        let cx = Context::current();
        let dropped = {
            let span = cx.span();
            let parent = Some(span.span_context()).filter(|sc| sc.is_valid());
            active.hints.drops_child_of(parent)
        };
        (!dropped).then_some(Parent { active, cx })
    }

    /// Starts a span named `name` with `attributes` (given at start, so a sampler sees them) and
    /// returns the context holding it.
    pub(crate) fn start(
        self,
        name: Cow<'static, str>,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> Context {
        self.active
            .sink
            .build(
                Begin {
                    attributes,
                    ..Begin::new(name, kind)
                },
                Vec::new(),
                &self.cx,
                None,
            )
            .into_context(&self.cx)
    }
}

/// A string attribute value read once (a server's address, a database's name) whose clones,
/// one per span, share one allocation.
pub(crate) fn shared(s: &str) -> StringValue {
    StringValue::from(std::sync::Arc::<str>::from(s))
}

/// Records a failed call on the span in `cx`: `error.type`, and the exception as every span of
/// the crate records one (an `exception` event with the error's type and its message with its
/// sources, status Error with that message).
pub(crate) fn record_failure<E: std::error::Error>(
    cx: &Context,
    error_type: impl Into<StringValue>,
    error: &E,
) {
    let span = cx.span();
    if !span.is_recording() {
        return;
    }
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type.into()));
    record_exception(&span, std::any::type_name::<E>(), error_chain(error));
}

/// Ends the span in `cx` with a `cancelled` event: the call was dropped before it completed.
fn end_cancelled(cx: &Context) {
    span::cancel(cx);
}

pin_project! {
    /// A client's future run inside its client span: the span is current during every poll (so
    /// anything traced inside nests under it), `record` writes the outcome onto it when the
    /// future completes, and then it ends. Dropped unfinished, the span ends with a `cancelled`
    /// event. The output is the client's own, unchanged.
    pub(crate) struct InClientSpan<F: Future> {
        #[pin]
        inner: F,
        cx: Option<Context>,
        record: fn(&F::Output, &Context),
    }

    impl<F: Future> PinnedDrop for InClientSpan<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(cx) = this.project().cx.take() {
                end_cancelled(&cx);
            }
        }
    }
}

impl<F: Future> InClientSpan<F> {
    /// Runs `inner` in the span held by `cx`; `record` sees the output before the span ends.
    pub(crate) fn new(inner: F, cx: Context, record: fn(&F::Output, &Context)) -> Self {
        InClientSpan {
            inner,
            cx: Some(cx),
            record,
        }
    }
}

impl<F: Future> Future for InClientSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Some(cx) = this.cx.as_ref() else {
            return this.inner.poll(task);
        };
        let output = {
            let _current = cx.clone().attach();
            match this.inner.poll(task) {
                Poll::Ready(output) => output,
                Poll::Pending => return Poll::Pending,
            }
        };
        if let Some(cx) = this.cx.take() {
            (this.record)(&output, &cx);
            span::end(&cx);
        }
        Poll::Ready(output)
    }
}
