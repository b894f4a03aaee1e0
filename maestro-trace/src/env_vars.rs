//! The environment variables [`TracingConfig::from_env`](crate::TracingConfig::from_env) reads,
//! each a constant named after the variable itself.
//!
//! ```
//! use maestro_trace::{env_vars, TracingConfig};
//!
//! let config = TracingConfig::from_lookup(|name| {
//!     (name == env_vars::OTEL_SERVICE_NAME).then(|| "maestro-ml-api".to_owned())
//! });
//! assert_eq!(config.effective_service_name().as_deref(), Ok("maestro-ml-api"));
//! ```

/// Turns tracing on or off (`true`, `false`, `1`, `0`).
pub const TRACING_ENABLED: &str = "TRACING_ENABLED";
/// The standard OpenTelemetry off switch.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `service.name`.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Extra resource attributes, `key=value,key2=value2` (values percent-encoded).
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// Which exporter: `otlp`, `jaeger`, `console`, `none`.
pub const OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";
/// OTLP endpoint for every signal.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// OTLP endpoint for traces (wins over the generic one).
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// OTLP protocol for every signal: `grpc`, `http/protobuf`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// OTLP protocol for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// OTLP request headers, `key=value,...`.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// OTLP request headers for traces.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// OTLP request timeout in milliseconds.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// OTLP request timeout for traces in milliseconds.
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// The Jaeger agent's host.
pub const JAEGER_AGENT_HOST: &str = "JAEGER_AGENT_HOST";
/// The Jaeger agent's port (6831: Thrift compact over UDP; 14268: the collector's Thrift
/// over HTTP).
pub const JAEGER_AGENT_PORT: &str = "JAEGER_AGENT_PORT";
/// The standard name of the Jaeger agent host.
pub const OTEL_EXPORTER_JAEGER_AGENT_HOST: &str = "OTEL_EXPORTER_JAEGER_AGENT_HOST";
/// The standard name of the Jaeger agent port.
pub const OTEL_EXPORTER_JAEGER_AGENT_PORT: &str = "OTEL_EXPORTER_JAEGER_AGENT_PORT";
/// The Jaeger collector URL for Thrift over HTTP.
pub const OTEL_EXPORTER_JAEGER_ENDPOINT: &str = "OTEL_EXPORTER_JAEGER_ENDPOINT";
/// The sampler.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The sampler's argument (the ratio).
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// Batch delay in milliseconds.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Export timeout in milliseconds.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Queue size in spans.
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// Spans per export at most.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// Propagators, comma separated: `tracecontext`, `baggage`, `jaeger`, `none`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// Attributes per span at most.
pub const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
/// Events per span at most.
pub const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
/// Links per span at most.
pub const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
/// Attributes per event at most.
pub const OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT";
/// Attributes per link at most.
pub const OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT";
/// Longest attribute value, for spans.
pub const OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Longest attribute value, for every signal.
pub const OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: &str = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT";
/// Comma-separated baggage keys copied onto every span started in a context whose baggage
/// carries them (e.g. `tenant.id,user.tier`).
pub const OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES: &str = "OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES";

/// `http/dup` makes `TracingMiddleware` also emit the pre-stable HTTP attribute names; `http`
/// only the stable ones.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub const OTEL_SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// Comma-separated URLs `TracingMiddleware` does not trace (matched like `exclude_urls`).
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub const OTEL_RUST_ACTIX_EXCLUDED_URLS: &str = "OTEL_RUST_ACTIX_EXCLUDED_URLS";
/// Comma-separated request headers `TracingMiddleware` records as `http.request.header.<name>`.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub const OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST: &str =
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST";
/// Comma-separated response headers `TracingMiddleware` records as `http.response.header.<name>`.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub const OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE: &str =
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE";
/// Comma-separated extra headers whose captured values are never recorded.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub const OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS: &str =
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS";
/// Comma-separated extra query parameters `TracingMiddleware` redacts.
#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub const OTEL_RUST_ACTIX_REDACT_QUERY_PARAMS: &str = "OTEL_RUST_ACTIX_REDACT_QUERY_PARAMS";
