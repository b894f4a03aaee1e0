//! `TracingConfig`: what [`init`](crate::init) builds the pipeline from, in code or from the
//! environment.
//!
//! # Precedence
//!
//! [`TracingConfig::from_env`] reads the environment into a config; builder calls made after it
//! override what it read (code wins, as in the OpenTelemetry SDKs); what neither sets takes the
//! defaults below. `TracingConfig::default()` ignores the environment entirely.
//! [`TracingConfig::default_exporter`] is the one setting that yields to the environment: it
//! applies only when neither code nor `OTEL_TRACES_EXPORTER` / `JAEGER_AGENT_HOST` chose an
//! exporter, so an example can print to the console yet still be pointed at Jaeger.
//!
//! The environment variables, their accepted values and defaults are listed on
//! [`TracingConfig::from_env`].

use std::fmt;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SpanExporter;

use crate::batch::{BatchProcessor, BatchSettings};
use crate::error::InitError;
use crate::pipeline::SamplerHints;

/// The service name used when none is configured (OpenTelemetry's own default).
pub const DEFAULT_SERVICE_NAME: &str = "unknown_service";
/// How long dropping the guard may spend flushing pending spans.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// The Jaeger agent's port for Thrift compact over UDP.
pub const JAEGER_AGENT_PORT: u16 = 6831;
/// Jaeger's collector port for Thrift binary over HTTP (`/api/traces`).
pub const JAEGER_COLLECTOR_PORT: u16 = 14268;
/// Jaeger's OTLP gRPC port.
pub const OTLP_GRPC_PORT: u16 = 4317;
/// Jaeger's OTLP HTTP port.
pub const OTLP_HTTP_PORT: u16 = 4318;

/// How the tracing pipeline is built: identity, exporter, sampling, batching, limits,
/// propagation.
///
/// ```
/// use std::time::Duration;
/// use maestro_trace::{Exporter, Propagator, TracingConfig};
///
/// let config = TracingConfig::from_env()
///     .service_name("maestro-ml-api")
///     .service_version("1.4.0")
///     .resource_attribute("deployment.environment", "staging")
///     .exporter(Exporter::otlp_grpc("http://127.0.0.1:4317"))
///     .sample_ratio(0.1)
///     .batch_delay(Duration::from_secs(5))
///     .propagators([Propagator::TraceContext, Propagator::Baggage, Propagator::Jaeger]);
/// # drop(config);
/// ```
pub struct TracingConfig {
    pub(crate) enabled: Option<bool>,
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    /// From `OTEL_RESOURCE_ATTRIBUTES`; code attributes with the same key win.
    pub(crate) env_resource: Vec<KeyValue>,
    pub(crate) resource: Vec<KeyValue>,
    pub(crate) exporter: Option<ExporterChoice>,
    pub(crate) default_exporter: Option<Exporter>,
    pub(crate) sampler: Option<Sampling>,
    pub(crate) batch: BatchSettings,
    pub(crate) limits: SpanLimits,
    pub(crate) propagators: Option<Vec<Propagator>>,
    /// Baggage keys copied onto every span started where the baggage carries them.
    pub(crate) baggage_span_attributes: Vec<String>,
    pub(crate) shutdown_timeout: Duration,
    /// Problems found while reading the environment (and the setting each is in), reported by
    /// `init` and by the `effective_*` accessors.
    pub(crate) env_errors: Vec<(Setting, InitError)>,
}

/// Where finished spans go.
///
/// ```
/// use maestro_trace::{Exporter, TracingConfig};
///
/// // Jaeger's OTLP receiver, over gRPC (port 4317) or HTTP (port 4318).
/// let grpc = Exporter::otlp_grpc("http://jaeger:4317");
/// assert_eq!(grpc.name(), "OTLP gRPC");
/// // A Jaeger agent, or Jaeger's Thrift-over-HTTP collector endpoint.
/// let agent = Exporter::JaegerAgent { host: "jaeger-agent".into(), port: 6831 };
/// let collector = Exporter::JaegerCollector { endpoint: "http://jaeger:14268/api/traces".into() };
/// assert_eq!(collector.name(), "Jaeger collector (HTTP)");
///
/// let config = TracingConfig::default().exporter(agent.clone());
/// assert_eq!(config.effective_exporter(), Ok(Some(agent)));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Exporter {
    /// OTLP, Jaeger's native ingestion protocol since v1.35.
    Otlp(OtlpSettings),
    /// Jaeger's legacy agent protocol: Thrift compact over UDP (port 6831), what
    /// deployments setting `JAEGER_AGENT_HOST` / `JAEGER_AGENT_PORT` send to.
    JaegerAgent {
        /// Host name or IP address.
        host: String,
        /// UDP port.
        port: u16,
    },
    /// Jaeger's collector endpoint for Thrift binary over HTTP, e.g.
    /// `http://jaeger:14268/api/traces`.
    JaegerCollector {
        /// The full URL.
        endpoint: String,
    },
    /// Each finished trace printed as a tree on standard output.
    Console,
    /// Nothing exported; spans are still created, so context still propagates.
    None,
}

impl Exporter {
    /// OTLP over gRPC to `endpoint` (Jaeger: `http://host:4317`).
    pub fn otlp_grpc(endpoint: impl Into<String>) -> Self {
        Exporter::Otlp(OtlpSettings {
            protocol: OtlpProtocol::Grpc,
            endpoint: Some(endpoint.into()),
            ..OtlpSettings::default()
        })
    }

    /// OTLP over HTTP/protobuf to `endpoint` (Jaeger: `http://host:4318`; `/v1/traces` is
    /// appended unless the URL already has a path).
    pub fn otlp_http(endpoint: impl Into<String>) -> Self {
        Exporter::Otlp(OtlpSettings {
            protocol: OtlpProtocol::HttpProtobuf,
            endpoint: Some(endpoint.into()),
            ..OtlpSettings::default()
        })
    }

    /// The exporter's name in messages and diagnostics.
    pub fn name(&self) -> &'static str {
        match self {
            Exporter::Otlp(otlp) => match otlp.protocol {
                OtlpProtocol::Grpc => "OTLP gRPC",
                OtlpProtocol::HttpProtobuf => "OTLP HTTP",
            },
            Exporter::JaegerAgent { .. } => "Jaeger agent (UDP)",
            Exporter::JaegerCollector { .. } => "Jaeger collector (HTTP)",
            Exporter::Console => "console",
            Exporter::None => "none",
        }
    }
}

/// OTLP exporter settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpSettings {
    /// gRPC or HTTP/protobuf.
    pub protocol: OtlpProtocol,
    /// The endpoint URL; `None` means the protocol's default on localhost.
    pub endpoint: Option<String>,
    /// Extra request headers (authentication for a hosted backend, tenancy).
    pub headers: Vec<(String, String)>,
    /// How long one export request may take.
    pub timeout: Duration,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        OtlpSettings {
            protocol: OtlpProtocol::Grpc,
            endpoint: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// gRPC (Jaeger port 4317).
    Grpc,
    /// HTTP with protobuf bodies (Jaeger port 4318).
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The endpoint used when none is configured.
    pub fn default_endpoint(self) -> String {
        match self {
            OtlpProtocol::Grpc => format!("http://localhost:{OTLP_GRPC_PORT}"),
            OtlpProtocol::HttpProtobuf => format!("http://localhost:{OTLP_HTTP_PORT}"),
        }
    }
}

/// Starts the batch processor for a user's exporter with the configured batch settings.
pub(crate) type BatchCustomExporter =
    Box<dyn FnOnce(BatchSettings) -> std::io::Result<BatchProcessor> + Send>;

/// The exporter chosen in code or by the environment.
pub(crate) enum ExporterChoice {
    Builtin(Exporter),
    /// A user-supplied exporter, installed behind the batch processor.
    Custom(BatchCustomExporter),
}

/// Which spans are recorded and exported.
///
/// ```
/// use maestro_trace::{Sampling, TracingConfig};
///
/// // Keep 10% of new traces; follow the caller's decision for propagated ones.
/// let config = TracingConfig::default().sampler(Sampling::parent_based_ratio(0.1));
/// assert_eq!(
///     config.effective_sampling(),
///     Ok(Sampling::ParentBased(Box::new(Sampling::TraceIdRatio(0.1))))
/// );
///
/// // Strategies from Jaeger's sampling endpoint, per service and operation.
/// let remote = TracingConfig::default().sampler(Sampling::jaeger_remote("http://jaeger:5778/sampling"));
/// assert!(matches!(remote.effective_sampling(), Ok(Sampling::JaegerRemote(_))));
///
/// // A ratio outside 0.0..=1.0 is an error, not clamped.
/// assert!(TracingConfig::default().sample_ratio(1.5).effective_sampling().is_err());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Sampling {
    /// Every span.
    AlwaysOn,
    /// No span.
    AlwaysOff,
    /// A deterministic fraction of trace ids, in `0.0..=1.0`.
    TraceIdRatio(f64),
    /// Follow the parent's decision; use the inner sampler for roots.
    ParentBased(Box<Sampling>),
    /// Jaeger remote sampling: strategies polled from Jaeger's sampling endpoint, per service.
    JaegerRemote(JaegerRemoteSampling),
}

/// Where and how often Jaeger's sampling strategies are fetched.
#[derive(Clone, Debug, PartialEq)]
pub struct JaegerRemoteSampling {
    /// Jaeger's HTTP sampling endpoint, e.g. `http://jaeger:5778/sampling`.
    pub endpoint: String,
    /// How often the strategy is fetched again.
    pub poll_interval: Duration,
    /// The sampler used until the first strategy arrives (and while Jaeger is unreachable).
    pub initial: Box<Sampling>,
}

/// How a user's own exporter is named in errors and diagnostics.
pub(crate) const CUSTOM_EXPORTER_NAME: &str = "custom";

/// Jaeger's HTTP sampling endpoint on localhost.
pub const DEFAULT_JAEGER_SAMPLING_ENDPOINT: &str = "http://localhost:5778/sampling";

impl Sampling {
    /// Jaeger remote sampling from `endpoint`, polled every minute, sampling 0.1% of new
    /// traces until the first strategy arrives (the OpenTelemetry defaults).
    pub fn jaeger_remote(endpoint: impl Into<String>) -> Self {
        Sampling::JaegerRemote(JaegerRemoteSampling {
            endpoint: endpoint.into(),
            poll_interval: Duration::from_secs(60),
            initial: Box::new(Sampling::TraceIdRatio(0.001)),
        })
    }

    /// Keeps `ratio` of new traces and follows the caller's decision otherwise: the usual
    /// production choice.
    pub fn parent_based_ratio(ratio: f64) -> Self {
        Sampling::ParentBased(Box::new(Sampling::TraceIdRatio(ratio)))
    }

    /// What the span path may assume about this sampler's decisions without asking it.
    pub(crate) fn hints(&self) -> SamplerHints {
        match self {
            Sampling::AlwaysOn => SamplerHints::ALWAYS_ON,
            Sampling::AlwaysOff => SamplerHints::ALWAYS_OFF,
            // Built as the SDK's parent-based sampler with its defaults: sampled parents (local
            // or remote) are followed with always-on, unsampled ones with always-off.
            Sampling::ParentBased(root) => SamplerHints {
                drops_unsampled_children: true,
                samples_sampled_children: true,
                samples_roots: matches!(**root, Sampling::AlwaysOn),
                ignores_names: root.hints().ignores_names,
            },
            Sampling::TraceIdRatio(_) => SamplerHints {
                ignores_names: true,
                ..SamplerHints::default()
            },
            Sampling::JaegerRemote(_) => SamplerHints::default(),
        }
    }
}

/// Caps on what one span may carry, so a runaway loop cannot grow a span without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLimits {
    /// Attributes per span (more are dropped and counted).
    pub max_attributes_per_span: u32,
    /// Events per span.
    pub max_events_per_span: u32,
    /// Links per span.
    pub max_links_per_span: u32,
    /// Attributes per event.
    pub max_attributes_per_event: u32,
    /// Attributes per link.
    pub max_attributes_per_link: u32,
    /// String attribute values longer than this many bytes are truncated (at a character
    /// boundary); `None` keeps them whole.
    pub max_attribute_value_length: Option<usize>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 128,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: None,
        }
    }
}

/// A context propagation format, for incoming and outgoing requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Jaeger's `uber-trace-id`.
    Jaeger,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            enabled: None,
            service_name: None,
            service_version: None,
            env_resource: Vec::new(),
            resource: Vec::new(),
            exporter: None,
            default_exporter: None,
            sampler: None,
            batch: BatchSettings::default(),
            limits: SpanLimits::default(),
            propagators: None,
            baggage_span_attributes: Vec::new(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            env_errors: Vec::new(),
        }
    }
}

impl fmt::Debug for TracingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exporter = match &self.exporter {
            None => "unset",
            Some(ExporterChoice::Builtin(exporter)) => exporter.name(),
            Some(ExporterChoice::Custom(_)) => "custom",
        };
        f.debug_struct("TracingConfig")
            .field("enabled", &self.enabled)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("env_resource", &self.env_resource)
            .field("resource", &self.resource)
            .field("exporter", &exporter)
            .field("default_exporter", &self.default_exporter)
            .field("sampler", &self.sampler)
            .field("batch", &self.batch)
            .field("limits", &self.limits)
            .field("propagators", &self.propagators)
            .field("baggage_span_attributes", &self.baggage_span_attributes)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("env_errors", &self.env_errors)
            .finish()
    }
}

impl TracingConfig {
    /// Turns tracing on or off. Off, every macro costs one branch and nothing is exported.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Sets `service.name`, the name Jaeger lists the service under.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Sets `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute describing where the service runs:
    /// `deployment.environment`, `service.namespace`, `cloud.provider`, `cloud.region`, ...
    /// (Jaeger shows them as process tags).
    pub fn resource_attribute(
        mut self,
        key: impl Into<opentelemetry::Key>,
        value: impl Into<opentelemetry::Value>,
    ) -> Self {
        self.resource.push(KeyValue::new(key, value));
        self
    }

    /// Sends spans to `exporter`, overriding the environment.
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.exporter = Some(ExporterChoice::Builtin(exporter));
        self
    }

    /// The exporter used when neither code nor the environment chose one (otherwise OTLP gRPC
    /// to `localhost:4317`, the OpenTelemetry default).
    pub fn default_exporter(mut self, exporter: Exporter) -> Self {
        self.default_exporter = Some(exporter);
        self
    }

    /// Prints finished traces as trees on standard output.
    pub fn console(self) -> Self {
        self.exporter(Exporter::Console)
    }

    /// Exports nothing (spans are still created, so context still propagates).
    pub fn no_exporter(self) -> Self {
        self.exporter(Exporter::None)
    }

    /// Sends spans to `exporter`, batched like the built-in exporters: a vendor's exporter, a
    /// test double, or one that discards for benchmarks.
    pub fn span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.exporter = Some(ExporterChoice::Custom(Box::new(move |settings| {
            BatchProcessor::new(exporter, settings, CUSTOM_EXPORTER_NAME)
        })));
        self
    }

    /// Chooses which spans are sampled.
    pub fn sampler(mut self, sampling: Sampling) -> Self {
        self.sampler = Some(sampling);
        self
    }

    /// Keeps `ratio` (`0.0..=1.0`) of new traces and follows the caller's decision for
    /// propagated ones: the SDK's `ParentBased(TraceIdRatioBased(ratio))`.
    pub fn sample_ratio(self, ratio: f64) -> Self {
        self.sampler(Sampling::parent_based_ratio(ratio))
    }

    /// All batch settings at once.
    pub fn batch(mut self, batch: BatchSettings) -> Self {
        self.batch = batch;
        self
    }

    /// Spans held at most while waiting for export (default 2048).
    pub fn batch_queue_size(mut self, spans: usize) -> Self {
        self.batch.max_queue_size = spans;
        self
    }

    /// How long spans wait before a batch is sent (default 5 s; zero is an error of `init`, as
    /// `OTEL_BSP_SCHEDULE_DELAY=0` is; `Duration::MAX` means only full batches, flushes and the
    /// shutdown send them).
    pub fn batch_delay(mut self, delay: Duration) -> Self {
        self.batch.scheduled_delay = delay;
        self
    }

    /// Spans per export request at most (default 512).
    pub fn batch_size(mut self, spans: usize) -> Self {
        self.batch.max_export_batch_size = spans;
        self
    }

    /// How long one export may take (default 30 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.batch.export_timeout = timeout;
        self
    }

    /// Caps on attributes, events, links and attribute value length.
    pub fn span_limits(mut self, limits: SpanLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The propagation formats for incoming and outgoing context, installed as the global
    /// propagator by `init` (default: W3C trace context and baggage).
    pub fn propagators(mut self, propagators: impl IntoIterator<Item = Propagator>) -> Self {
        self.propagators = Some(propagators.into_iter().collect());
        self
    }

    /// Baggage keys copied onto every span started in a context whose baggage carries them, as
    /// string attributes of the same name added when the span starts (also
    /// `OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES`). With no keys (the default) nothing is added to the
    /// span path; unsampled spans are never touched. A key that is not a W3C baggage key is an
    /// error from `init`.
    ///
    /// ```
    /// use maestro_trace::TracingConfig;
    ///
    /// let config = TracingConfig::default().baggage_span_attributes(["tenant.id"]);
    /// assert_eq!(config.effective_baggage_span_attributes(), Ok(vec!["tenant.id".to_owned()]));
    ///
    /// let bad = TracingConfig::default().baggage_span_attributes(["tenant id"]);
    /// assert!(bad.effective_baggage_span_attributes().is_err());
    /// ```
    pub fn baggage_span_attributes(
        mut self,
        keys: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.baggage_span_attributes = keys.into_iter().map(Into::into).collect();
        self
    }

    /// How long dropping the guard may take to flush pending spans (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The exporter `init` will use (code, then environment, then
    /// [`default_exporter`](Self::default_exporter), then OTLP gRPC to localhost); `Ok(None)`
    /// for a user's own exporter. An invalid value of an exporter variable, or an invalid
    /// exporter set in code, is the error `init` would return, not a default.
    ///
    /// ```
    /// use maestro_trace::{Exporter, InitError, TracingConfig};
    ///
    /// let config = TracingConfig::from_lookup(|name| {
    ///     (name == "JAEGER_AGENT_HOST").then(|| "jaeger-agent".to_string())
    /// })
    /// .default_exporter(Exporter::Console);
    /// assert_eq!(
    ///     config.effective_exporter(),
    ///     Ok(Some(Exporter::JaegerAgent { host: "jaeger-agent".into(), port: 6831 }))
    /// );
    ///
    /// let typo = TracingConfig::from_lookup(|name| {
    ///     (name == "OTEL_TRACES_EXPORTER").then(|| "jaegr".to_string())
    /// });
    /// let Err(InitError::InvalidEnv { var, value, .. }) = typo.effective_exporter() else {
    ///     panic!("an invalid exporter name is an error");
    /// };
    /// assert_eq!((var, value.as_str()), ("OTEL_TRACES_EXPORTER", "jaegr"));
    /// ```
    pub fn effective_exporter(&self) -> Result<Option<Exporter>, InitError> {
        self.check(&[Setting::Exporter])?;
        Ok(self.exporter_or_default())
    }

    /// The `service.name` `init` will use: code or `OTEL_SERVICE_NAME`, then `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`, then `unknown_service`; an error if either variable is invalid.
    pub fn effective_service_name(&self) -> Result<String, InitError> {
        self.check(&[Setting::ServiceName, Setting::Resource])?;
        Ok(self.service_name_or_default())
    }

    /// The sampling `init` will use (unset: `ParentBased(AlwaysOn)`, the OpenTelemetry default);
    /// an error if `OTEL_TRACES_SAMPLER(_ARG)` or the sampler set in code is invalid.
    pub fn effective_sampling(&self) -> Result<Sampling, InitError> {
        self.check(&[Setting::Sampling])?;
        Ok(self.sampling_or_default())
    }

    /// The propagators `init` will install (unset: W3C trace context and baggage); an error if
    /// `OTEL_PROPAGATORS` is invalid.
    pub fn effective_propagators(&self) -> Result<Vec<Propagator>, InitError> {
        self.check(&[Setting::Propagators])?;
        Ok(self.propagators_or_default())
    }

    /// The baggage keys `init` will copy onto spans; an error if
    /// `OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES` or a key set in code is invalid.
    pub fn effective_baggage_span_attributes(&self) -> Result<Vec<String>, InitError> {
        self.check(&[Setting::BaggageSpanAttributes])?;
        Ok(self.baggage_span_attributes.clone())
    }

    /// The batch settings `init` will use; an error if an `OTEL_BSP_*` variable or a batch
    /// setting in code is invalid.
    pub fn effective_batch(&self) -> Result<BatchSettings, InitError> {
        self.check(&[Setting::Batch])?;
        Ok(self.batch)
    }

    /// The span limits `init` will use; an error if a limit variable is invalid.
    pub fn effective_span_limits(&self) -> Result<SpanLimits, InitError> {
        self.check(&[Setting::Limits])?;
        Ok(self.limits)
    }

    pub(crate) fn exporter_or_default(&self) -> Option<Exporter> {
        match &self.exporter {
            Some(ExporterChoice::Builtin(exporter)) => Some(exporter.clone()),
            Some(ExporterChoice::Custom(_)) => None,
            None => Some(
                self.default_exporter
                    .clone()
                    .unwrap_or_else(|| Exporter::Otlp(OtlpSettings::default())),
            ),
        }
    }

    pub(crate) fn service_name_or_default(&self) -> String {
        let from_env_resource = self
            .env_resource
            .iter()
            .find(|kv| kv.key.as_str() == "service.name")
            .map(|kv| kv.value.to_string());
        self.service_name
            .clone()
            .or(from_env_resource)
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned())
    }

    pub(crate) fn sampling_or_default(&self) -> Sampling {
        self.sampler
            .clone()
            .unwrap_or_else(|| Sampling::ParentBased(Box::new(Sampling::AlwaysOn)))
    }

    pub(crate) fn propagators_or_default(&self) -> Vec<Propagator> {
        self.propagators
            .clone()
            .unwrap_or_else(|| vec![Propagator::TraceContext, Propagator::Baggage])
    }

    /// The problems with `settings`, from the environment and from code, as one error.
    fn check(&self, settings: &[Setting]) -> Result<(), InitError> {
        let errors = self
            .env_errors
            .iter()
            .cloned()
            .chain(self.validate())
            .filter(|(setting, _)| settings.contains(setting))
            .map(|(_, error)| error)
            .collect();
        InitError::from_all(errors).map_or(Ok(()), Err)
    }

    /// Every problem, from the environment first, then from code: what `init` reports.
    pub(crate) fn problems(&self) -> Option<InitError> {
        let errors = self
            .env_errors
            .iter()
            .cloned()
            .chain(self.validate())
            .map(|(_, error)| error)
            .collect();
        InitError::from_all(errors)
    }

    /// Checks the values set in code; environment values were checked when read.
    fn validate(&self) -> Vec<(Setting, InitError)> {
        let mut sampling = Vec::new();
        if let Some(sampler) = &self.sampler {
            validate_sampling(sampler, &mut sampling);
        }
        let mut batch_errors = Vec::new();
        let batch = &self.batch;
        if batch.max_queue_size == 0 {
            batch_errors.push(InitError::invalid_config(
                "batch_queue_size",
                0,
                "at least 1 span",
            ));
        }
        // (A zero queue has its own error above; comparing against it would only repeat it.)
        else if batch.max_export_batch_size == 0
            || batch.max_export_batch_size > batch.max_queue_size
        {
            batch_errors.push(InitError::invalid_config(
                "batch_size",
                batch.max_export_batch_size,
                format!("between 1 and the queue size ({})", batch.max_queue_size),
            ));
        }
        for (setting, duration) in [
            ("batch_delay", batch.scheduled_delay),
            ("export_timeout", batch.export_timeout),
        ] {
            if duration.is_zero() {
                batch_errors.push(InitError::invalid_config(
                    setting,
                    "0s",
                    "a positive duration",
                ));
            }
        }
        let mut exporter = Vec::new();
        if let Some(ExporterChoice::Builtin(chosen)) = &self.exporter {
            validate_exporter(chosen, &mut exporter);
        }
        if let Some(fallback) = &self.default_exporter {
            validate_exporter(fallback, &mut exporter);
        }
        let baggage_keys = self
            .baggage_span_attributes
            .iter()
            .filter(|key| !crate::baggage::is_valid_key(key))
            .map(|key| {
                InitError::invalid_config(
                    "baggage_span_attributes",
                    key,
                    "W3C baggage keys (non-empty tokens of visible ASCII without separators)",
                )
            })
            .collect();
        let tag = |setting: Setting, errors: Vec<InitError>| {
            errors.into_iter().map(move |error| (setting, error))
        };
        tag(Setting::Sampling, sampling)
            .chain(tag(Setting::Batch, batch_errors))
            .chain(tag(Setting::Exporter, exporter))
            .chain(tag(Setting::BaggageSpanAttributes, baggage_keys))
            .collect()
    }
}

/// Which part of the configuration a problem is in: what an `effective_*` accessor checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setting {
    Enabled,
    ServiceName,
    Resource,
    Exporter,
    Sampling,
    Batch,
    Limits,
    Propagators,
    BaggageSpanAttributes,
}

fn validate_sampling(sampling: &Sampling, errors: &mut Vec<InitError>) {
    match sampling {
        Sampling::TraceIdRatio(ratio) if !(0.0..=1.0).contains(ratio) => errors.push(
            InitError::invalid_config("sample ratio", ratio, "a number from 0.0 to 1.0"),
        ),
        Sampling::ParentBased(root) => validate_sampling(root, errors),
        Sampling::JaegerRemote(remote) => {
            if let Err(expected) = check_endpoint(&remote.endpoint, &["http"]) {
                errors.push(InitError::invalid_config(
                    "Jaeger remote sampling endpoint",
                    &remote.endpoint,
                    expected,
                ));
            }
            if remote.poll_interval.is_zero() {
                errors.push(InitError::invalid_config(
                    "Jaeger remote sampling poll interval",
                    "0s",
                    "a positive duration",
                ));
            }
            validate_sampling(&remote.initial, errors);
        }
        _ => {}
    }
}

fn validate_exporter(exporter: &Exporter, errors: &mut Vec<InitError>) {
    match exporter {
        Exporter::Otlp(otlp) => {
            if let Some(endpoint) = &otlp.endpoint {
                if let Err(expected) = check_endpoint(endpoint, &["http"]) {
                    errors.push(InitError::invalid_config(
                        "OTLP endpoint",
                        endpoint,
                        expected,
                    ));
                }
            }
            if otlp.timeout.is_zero() {
                errors.push(InitError::invalid_config(
                    "OTLP timeout",
                    "0s",
                    "a positive duration",
                ));
            }
        }
        Exporter::JaegerAgent { host, port } => {
            if host.trim().is_empty() {
                errors.push(InitError::invalid_config(
                    "Jaeger agent host",
                    "\"\"",
                    "a host name or IP address",
                ));
            }
            if *port == 0 {
                errors.push(InitError::invalid_config(
                    "Jaeger agent port",
                    port,
                    "a port from 1 to 65535",
                ));
            }
        }
        Exporter::JaegerCollector { endpoint } => {
            if let Err(expected) = crate::export::jaeger::check_collector_url(endpoint) {
                errors.push(InitError::invalid_config(
                    "Jaeger collector endpoint",
                    endpoint,
                    expected,
                ));
            }
        }
        Exporter::Console | Exporter::None => {}
    }
}

/// Checks that `endpoint` is an absolute URL with one of `schemes` and a host.
pub(crate) fn check_endpoint(endpoint: &str, schemes: &[&str]) -> Result<(), String> {
    let expected = || {
        format!(
            "an absolute {} URL with a host, e.g. `http://jaeger:4317`",
            schemes
                .iter()
                .map(|s| format!("`{s}://`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    };
    let url = reqwest::Url::parse(endpoint).map_err(|_| expected())?;
    if url.scheme() == "https" && !schemes.contains(&"https") {
        return Err(
            "an `http://` URL: this build has no TLS, so `https://` cannot be sent to; use `http://` to an in-cluster Jaeger or a local collector".to_owned(),
        );
    }
    if !schemes.contains(&url.scheme()) || url.host_str().is_none_or(str::is_empty) {
        return Err(expected());
    }
    Ok(())
}
