//! The layer that turns `tracing` spans into OpenTelemetry spans of the installed pipeline, and
//! `tracing` events into span events.
//!
//! A bridged span is started when its `tracing` span is created (so its id exists for children
//! and log lines from the start) and ended when the `tracing` span closes. Its OpenTelemetry
//! context lives in the span's extensions; while the `tracing` span is entered on a thread, that
//! context is the thread's current one, held by a guard on a per-thread stack keyed by span id,
//! so enters and exits that do not nest (interleaved tasks, explicit guards dropped out of order)
//! release exactly the context they attached.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _};
use opentelemetry::{Context, ContextGuard, KeyValue, Value};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::fields::{event_name, FieldVisitor, FieldsOf, SpanSteering};
use crate::finished::{self, Attribute};
use crate::pipeline;
use crate::recording::{self, Begin};

/// The `tracing-subscriber` layer that bridges `tracing` spans and events into the installed
/// maestro-trace pipeline. Made by [`layer()`](super::layer).
///
/// ```
/// use maestro_trace::otel::trace::Status;
/// use tracing_subscriber::layer::SubscriberExt as _;
///
/// let capture = maestro_trace::testing::capture();
/// let subscriber = tracing_subscriber::registry()
///     .with(maestro_trace::tracing::layer().with_error_events_as_status(true));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("load_model", model.id = "bert-base").in_scope(|| {
///         tracing::error!("weights missing");
///     });
/// });
/// assert_eq!(capture.span("load_model").status(), Status::error("weights missing"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BridgeLayer {
    error_events_as_status: bool,
}

impl BridgeLayer {
    /// Whether an `ERROR`-level event sets the status of the span it is in to Error, described
    /// by the event's message. Off by default: an error logged is not always an operation that
    /// failed.
    pub fn with_error_events_as_status(mut self, enabled: bool) -> Self {
        self.error_events_as_status = enabled;
        self
    }
}

/// What the bridge keeps in a bridged `tracing` span's extensions.
#[derive(Debug)]
pub(super) struct Bridged {
    /// The context holding the span (a span of its own, or, when not sampled, its span context).
    pub(super) cx: Context,
}

thread_local! {
    /// The contexts attached by bridged spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
    /// Set while the bridge calls into the SDK, so a `tracing` event emitted from inside it (an
    /// exporter's diagnostics) is not bridged onto the span being worked on.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` unless the bridge is already running on this thread.
fn outside_bridge(f: impl FnOnce()) {
    if INSIDE.with(|inside| inside.replace(true)) {
        return;
    }
    f();
    INSIDE.with(|inside| inside.set(false));
}

/// What `test` says of the bridged spans entered on this thread, innermost last (`false` while
/// the thread's list is torn down or borrowed).
fn entered(test: impl FnOnce(&[(Id, ContextGuard)]) -> bool) -> bool {
    ENTERED
        .try_with(|entered| entered.try_borrow().is_ok_and(|e| test(&e)))
        .unwrap_or(false)
}

/// Whether span `id` is entered on this thread (its context is, or encloses, the current one).
fn is_entered(id: &Id) -> bool {
    entered(|e| e.iter().any(|(i, _)| i == id))
}

/// Whether span `id` is the bridged span entered last on this thread.
fn is_innermost_entered(id: &Id) -> bool {
    entered(|e| e.last().is_some_and(|(last, _)| last == id))
}

/// The context of the nearest span from `span` up (itself first) that the bridge started,
/// with that span's id. Spans this layer's filter drops are skipped by the registry's walk.
pub(super) fn nearest_bridged<'a, S>(span: SpanRef<'a, S>) -> Option<(Id, Context)>
where
    S: for<'l> LookupSpan<'l>,
{
    span.scope().find_map(|span| {
        let extensions = span.extensions();
        let bridged = extensions.get::<Bridged>()?;
        Some((span.id(), bridged.cx.clone()))
    })
}

/// The parent context of a span or event whose `tracing` parent is `parent` (nearest kept
/// ancestor) and that `contextual`ly follows the current span or names `parent` explicitly.
fn parent_context<S>(parent: Option<SpanRef<'_, S>>, contextual: bool) -> Context
where
    S: for<'l> LookupSpan<'l>,
{
    // The common case of nested spans, without reading the parent's extensions: the parent is
    // the bridged span entered last on this thread, so the current context is its own or one
    // nested inside it.
    if contextual
        && parent
            .as_ref()
            .is_some_and(|p| is_innermost_entered(&p.id()))
    {
        return Context::current();
    }
    match parent.and_then(nearest_bridged) {
        // Entered here: whatever is current (a `#[traced]` span inside it, or itself) is nearer.
        Some((id, _)) if contextual && is_entered(&id) => Context::current(),
        Some((_, cx)) => cx,
        None => Context::current(),
    }
}

impl<S> tracing_subscriber::Layer<S> for BridgeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !pipeline::enabled() {
            return;
        }
        let Some(active) = pipeline::active() else {
            return;
        };
        let Some(this) = ctx.span(id) else {
            return;
        };
        let parent = if attrs.is_root() {
            Context::new()
        } else {
            parent_context(this.parent(), attrs.is_contextual())
        };
        let sampled_for_sure = {
            let parent_span = parent.span();
            let parent_context = Some(parent_span.span_context()).filter(|sc| sc.is_valid());
            if active.hints.drops_child_of(parent_context) {
                // The sampler would drop it: record nothing, so that children and log lines
                // see through it to the unsampled parent, and nothing is allocated.
                return;
            }
            active.hints.samples(parent_context)
        };
        let metadata = attrs.metadata();
        let mut attributes = finished::buffer(metadata.fields().len());
        let mut steering = SpanSteering::default();
        attrs.record(&mut FieldVisitor {
            attributes: &mut attributes,
            of: FieldsOf::Span(&mut steering),
        });
        let name = match steering.name.take() {
            Some(name) => Cow::Owned(name),
            None => Cow::Borrowed(metadata.name()),
        };
        let begin = Begin::new(name, steering.kind.take().unwrap_or(SpanKind::Internal));
        // Sampled for sure: the sampler is not asked (nor are its attributes made for it).
        let decided = sampled_for_sure.then(|| recording::sampled_for_sure(&parent));
        let mut span = active.sink.build(begin, attributes, &parent, decided);
        if let Some(status) = steering.status() {
            span.recording(|span| span.set_status(status));
        }
        let cx = span.into_context(&parent);
        this.extensions_mut().insert(Bridged { cx });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let extensions = span.extensions();
        let Some(bridged) = extensions.get::<Bridged>() else {
            return;
        };
        let otel = bridged.cx.span();
        if !otel.is_recording() {
            return;
        }
        let mut attributes = Vec::new();
        let mut steering = SpanSteering::default();
        values.record(&mut FieldVisitor {
            attributes: &mut attributes,
            of: FieldsOf::Span(&mut steering),
        });
        outside_bridge(|| {
            if let Some(name) = steering.name.take() {
                otel.update_name(name);
            }
            if let Some(status) = steering.status() {
                otel.set_status(status);
            }
            otel.set_attributes(finished::key_values(attributes));
        });
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: LayerContext<'_, S>) {
        let (Some(span), Some(follows)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let Some((_, follows)) = nearest_bridged(follows) else {
            return;
        };
        let extensions = span.extensions();
        if let Some(bridged) = extensions.get::<Bridged>() {
            let follows = follows.span().span_context().clone();
            outside_bridge(|| bridged.cx.span().add_link(follows, Vec::new()));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if !pipeline::enabled() {
            return;
        }
        let cx = match event.parent() {
            Some(parent) => parent_context(ctx.span(parent), false),
            None if event.is_contextual() => Context::current(),
            None => return,
        };
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let level = metadata.level();
        let mut attributes = Vec::with_capacity(2 + event.metadata().fields().len());
        attributes.push(Attribute::from(KeyValue::new("level", level.as_str())));
        attributes.push(Attribute::from(KeyValue::new(
            "target",
            match &normalized {
                // A `log` record's target borrows from the record: copy it.
                Some(normalized) => Value::from(normalized.target().to_owned()),
                None => Value::from(event.metadata().target()),
            },
        )));
        let mut message = None;
        event.record(&mut FieldVisitor {
            attributes: &mut attributes,
            of: FieldsOf::Event(&mut message),
        });
        let error = (self.error_events_as_status && *level == Level::ERROR)
            .then(|| message.clone().unwrap_or_default());
        outside_bridge(|| {
            span.add_event_with_timestamp(
                event_name(message, event.metadata().name()),
                crate::clock::now(),
                finished::key_values(attributes),
            );
            if let Some(description) = error {
                span.set_status(Status::error(description));
            }
        });
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if !pipeline::enabled() {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let cx = match span.extensions().get::<Bridged>() {
            Some(bridged) => bridged.cx.clone(),
            None => return,
        };
        let guard = cx.attach();
        // `try_with`: a span entered while the thread's locals are torn down just stays out.
        let _ = ENTERED.try_with(|entered| {
            if let Ok(mut entered) = entered.try_borrow_mut() {
                entered.push((id.clone(), guard));
            }
        });
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let guard = ENTERED
            .try_with(|entered| {
                let mut entered = entered.try_borrow_mut().ok()?;
                let position = entered.iter().rposition(|(i, _)| i == id)?;
                Some(entered.remove(position))
            })
            .ok()
            .flatten();
        // Dropped outside the borrow: restoring the previous context may end a span, whose
        // export may emit `tracing` events that come back here.
        drop(guard);
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let bridged = span.extensions_mut().remove::<Bridged>();
        if let Some(bridged) = bridged {
            outside_bridge(|| crate::span::end(&bridged.cx));
        }
    }
}
