//! `tracing` libraries and logs in the same trace (cargo feature `tracing`).
//!
//! # `tracing` spans and events as OpenTelemetry spans
//!
//! [`layer()`] is a `tracing-subscriber` layer for any registry. With it, a `tracing` span (a
//! library's, or a user's own `#[instrument]`) becomes a span of the installed maestro-trace
//! pipeline:
//!
//! - its parent is the bridged span of its `tracing` parent, or else the current
//!   OpenTelemetry context (so a `tracing` span opened inside a `#[traced]` function nests
//!   under it); an explicit `parent: None` starts a new trace;
//! - while it is entered (`in_scope`, `tracing::Instrument` across `.await`), its context is the
//!   current one, so `#[traced]`, `span!` and raw `opentelemetry` code inside nest under it;
//! - its fields become typed attributes by maestro-trace's attribute rules (integers and floats
//!   stay numbers, `%display` and `?debug` values become strings); `otel.name`, `otel.kind`,
//!   `otel.status_code` and `otel.status_description` steer it as tracing-opentelemetry does
//!   (`otel.kind` only at creation: a started span's kind is fixed; a description applies with
//!   the `otel.status_code = "error"` recorded beside it), other `otel.*` fields are reserved
//!   and not recorded;
//! - an event inside it (or inside a maestro-trace span) becomes a span event named by its
//!   message, with `level`, `target` and its fields; `log` records forwarded by tracing-log's
//!   `LogTracer` too, under the record's own target. [`BridgeLayer::with_error_events_as_status`]
//!   makes `ERROR` events set the span's status to Error;
//! - it ends when the `tracing` span closes (its last handle is dropped).
//!
//! Per-layer filters choose what is bridged: a span the filter drops is skipped, and its children
//! attach to the nearest ancestor that is kept, so the trace stays connected. With tracing
//! disabled (or no pipeline installed) the layer costs a branch per callback and allocates
//! nothing; a span under an unsampled parent is not bridged at all.
//!
//! ```
//! use maestro_trace::{testing, traced};
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::Layer as _;
//!
//! #[traced("train_model_job")]
//! fn train() {
//!     // A library's `tracing` span, nested under the `#[traced]` span.
//!     tracing::info_span!("load_training_dataset", dataset.rows = 10_000_u64)
//!         .in_scope(|| tracing::info!(shard = 3, "shard loaded"));
//! }
//!
//! let capture = testing::capture();
//! let subscriber = tracing_subscriber::registry().with(
//!     maestro_trace::tracing::layer()
//!         .with_filter(tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)),
//! );
//! tracing::subscriber::with_default(subscriber, train);
//!
//! let load = capture.span("load_training_dataset");
//! assert!(load.is_child_of(&capture.span("train_model_job")));
//! assert_eq!(load.attr_i64("dataset.rows"), Some(10_000));
//! assert_eq!(load.event("shard loaded").attr_str("level").as_deref(), Some("INFO"));
//! ```
//!
//! # Trace ids in log lines
//!
//! [`fmt_layer()`] and [`json_fmt_layer()`] are `tracing-subscriber`'s fmt layer (text and
//! JSON) whose lines written inside a span carry its `trace_id` (32 lowercase hex digits) and
//! `span_id` (16), as Jaeger shows them; lines outside any span carry none. A fmt layer
//! configured otherwise gets the same with `.map_event_format(maestro_trace::tracing::with_trace_ids)`
//! as its last setting (see [`WithTraceIds`]).
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(maestro_trace::tracing::layer())
//!     .with(maestro_trace::tracing::fmt_layer());
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!("outside any span: no ids on this line");
//! });
//! ```

mod fields;
mod layer;
mod log_ids;

pub use layer::BridgeLayer;
pub use log_ids::{with_trace_ids, LineShape, WithTraceIds};

use tracing_subscriber::fmt::format::{DefaultFields, Format, Json, JsonFields};

/// The layer that bridges `tracing` spans and events into the installed pipeline (see the
/// [module docs](self)).
pub fn layer() -> BridgeLayer {
    BridgeLayer::default()
}

/// `tracing-subscriber`'s text fmt layer, writing to stdout, with trace and span ids on each
/// line written inside a span.
pub fn fmt_layer<S>() -> tracing_subscriber::fmt::Layer<S, DefaultFields, WithTraceIds<Format>>
where
    S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer().map_event_format(with_trace_ids)
}

/// `tracing-subscriber`'s JSON fmt layer, writing to stdout, with `trace_id` and `span_id` keys on
/// each line written inside a span.
pub fn json_fmt_layer<S>(
) -> tracing_subscriber::fmt::Layer<S, JsonFields, WithTraceIds<Format<Json>>>
where
    S: tracing_core::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_subscriber::fmt::layer()
        .json()
        .map_event_format(with_trace_ids)
}
