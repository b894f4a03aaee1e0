//! Procedural-macro-first distributed tracing for Rust services, built on OpenTelemetry.
//!
//! Decorate functions with [`#[traced]`](traced), turn domain structs into attribute groups with
//! [`#[span_attrs]`](span_attrs), record returned errors with
//! [`#[record_errors]`](record_errors), and open ad-hoc spans and events with [`span!`] and
//! [`event!`]. Names and attribute keys are checked at compile time.
//!
//! ```
//! use maestro_trace::{event, record_errors, span, span_attrs, traced, TracingConfig};
//!
//! #[span_attrs(prefix = "model")]
//! struct ModelAttrs {
//!     id: String,
//!     #[span_attr(rename = "type")]
//!     kind: &'static str,
//!     version: Option<String>,
//! }
//!
//! #[traced("train_model_job", attrs(model, training.epochs = epochs))]
//! #[record_errors]
//! fn train(model: &ModelAttrs, epochs: i64) -> Result<f64, String> {
//!     let rows = span!("load_training_dataset", dataset.rows = 10_000).in_scope(|| 10_000);
//!     event!("dataset_loaded", rows = rows);
//!     if epochs == 0 {
//!         return Err("no epochs to run".into());
//!     }
//!     Ok(0.93)
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let _tracing = maestro_trace::init(TracingConfig::default().service_name("trainer").no_exporter())?;
//! let model = ModelAttrs { id: "bert-base".into(), kind: "pytorch", version: None };
//! assert_eq!(train(&model, 3), Ok(0.93));
//! # Ok(()) }
//! ```
//!
//! The raw [`otel`] API stays usable beside the macros and nests correctly: there is one
//! OpenTelemetry context, shared by both.
//!
//! [`baggage`] reads and sets W3C baggage entries of the current context, and
//! [`TracingConfig::baggage_span_attributes`] copies chosen keys onto every span.
//!
//! # Cargo features
//!
//! - `actix` (default): `TracingMiddleware` for actix-web 4.
//! - `awc`, `reqwest`: `send_traced()` client spans for those HTTP clients (`client` module).
//! - `testing`: the `testing` module, an in-memory pipeline and assertions on captured spans
//!   that run in parallel; enable it in `[dev-dependencies]`.
//! - `tracing`: the `tracing` module: `tracing::layer()` brings the spans and events of `tracing`
//!   libraries into the same traces, and `tracing::fmt_layer()` puts trace and span ids on log
//!   lines.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;
mod attributes;
pub mod baggage;
mod batch;
#[cfg(any(feature = "awc", feature = "reqwest"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "awc", feature = "reqwest"))))]
pub mod client;
mod clock;
mod config;
mod diagnostics;
mod env;
pub mod env_vars;
mod error;
pub mod export;
mod finished;
#[cfg(any(feature = "actix", feature = "awc", feature = "reqwest"))]
mod http;
mod init;
#[cfg(any(feature = "sqlx", feature = "redis"))]
mod integrations;
mod pipeline;
mod processor;
pub mod propagation;
mod provider;
mod recording;
mod runtime;
mod sampling;
mod span;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod thread;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod tracing;
mod tree;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub use actix::{HttpSemconv, TracingMiddleware};
pub use attributes::{
    attributes_of, ArrayElement, AttributeValue, RecordArg, Recorder, SpanAttributes,
};
pub use batch::BatchSettings;
pub use config::{
    Exporter, JaegerRemoteSampling, OtlpProtocol, OtlpSettings, Propagator, Sampling, SpanLimits,
    TracingConfig, DEFAULT_JAEGER_SAMPLING_ENDPOINT, DEFAULT_SERVICE_NAME,
    DEFAULT_SHUTDOWN_TIMEOUT, JAEGER_AGENT_PORT, JAEGER_COLLECTOR_PORT, OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
};
pub use diagnostics::{diagnostics, Diagnostics};
pub use error::{InitError, ShutdownError};
pub use init::{init, TracingGuard};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use integrations::redis;
#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub use integrations::sqlx;
pub use span::{
    current_span_context, record, record_error, spawn, InSpan, IntoLink, IntoParent, Span,
    TraceFutureExt, CANCELLED_EVENT, EXCEPTION_EVENT, PANIC_TYPE,
};

pub use maestro_trace_macros::{event, record_errors, span, span_attrs, traced};

/// The `opentelemetry` API crate, at the version maestro-trace is built on.
pub use opentelemetry as otel;
/// The `opentelemetry_sdk` crate, at the version maestro-trace is built on.
pub use opentelemetry_sdk as sdk;

/// The traits a traced program needs in scope: `use maestro_trace::prelude::*;`.
pub mod prelude {
    #[cfg(any(feature = "awc", feature = "reqwest"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "awc", feature = "reqwest"))))]
    pub use crate::client::TracedRequest;
    pub use crate::span::TraceFutureExt;
    pub use crate::{event, record_errors, span, span_attrs, traced};
}
