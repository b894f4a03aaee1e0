//! `init`: builds the pipeline a `TracingConfig` describes and installs it process-wide; the
//! guard it returns flushes and shuts it down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{
    SdkTracerProvider, SimpleSpanProcessor, SpanExporter, SpanProcessor, TracerProviderBuilder,
};
use opentelemetry_sdk::Resource;

use crate::batch::BatchProcessor;
use crate::config::{BatchSettings, Exporter, ExporterChoice, SpanLimits, TracingConfig};
use crate::error::{InitError, ShutdownError};
use crate::export::ConsoleExporter;
use crate::pipeline::{self, Pipeline, SamplerHints};
use crate::processor::TruncatingProcessor;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Sets tracing up from `config` and returns the guard that keeps it running.
///
/// Every invalid value, from the environment or from code, is reported at once as an error;
/// nothing falls back silently. Dropping the guard flushes pending spans (bounded by the
/// shutdown timeout) and turns tracing off; call [`TracingGuard::shutdown`] to see errors.
/// `init` while an earlier guard is alive returns [`InitError::AlreadyInitialized`], and while a
/// test capture is alive [`InitError::CaptureAlive`].
///
/// ```
/// use maestro_trace::{init, traced, TracingConfig};
///
/// #[traced]
/// fn load_training_dataset() -> usize { 10_000 }
///
/// # fn main() -> Result<(), maestro_trace::InitError> {
/// let guard = init(TracingConfig::default().service_name("maestro-ml-api").no_exporter())?;
/// assert_eq!(load_training_dataset(), 10_000);
/// drop(guard);
/// # Ok(()) }
/// ```
pub fn init(mut config: TracingConfig) -> Result<TracingGuard, InitError> {
    let mut errors = std::mem::take(&mut config.env_errors);
    errors.extend(config.validate());
    if let Some(error) = InitError::from_all(errors) {
        return Err(error);
    }
    if INITIALIZED
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(InitError::AlreadyInitialized);
    }
    let mut guard = TracingGuard {
        provider: None,
        runtime: IoRuntime::default(),
        active: true,
        timeout: config.shutdown_timeout,
    };
    if pipeline::capturing() {
        return Err(InitError::CaptureAlive);
    }
    if config.enabled == Some(false) {
        pipeline::install(None);
        return Ok(guard);
    }

    // From here on the guard owns INITIALIZED: an error drops it, which releases it.
    let limits = config.limits;
    let sampling = config.effective_sampling();
    let hints = SamplerHints::of(&sampling);
    let sampler = crate::sampling::sampler(
        &sampling,
        &config.effective_service_name(),
        &mut guard.runtime,
    )?;
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource(&config))
        .with_sampler(sampler)
        .with_span_limits(sdk_limits(&limits));
    let choice = match config.exporter.take() {
        Some(choice) => choice,
        None => ExporterChoice::Builtin(config.effective_exporter().unwrap_or(Exporter::None)),
    };
    builder = match choice {
        ExporterChoice::Custom(install) => install(builder, &config.batch, &limits)?,
        ExporterChoice::Builtin(Exporter::Console) => with_processor(
            builder,
            SimpleSpanProcessor::new(ConsoleExporter::stdout()),
            &limits,
        ),
        ExporterChoice::Builtin(Exporter::None) => builder,
        ExporterChoice::Builtin(Exporter::Otlp(otlp)) => {
            let exporter = crate::export::otlp::build(&otlp, &mut guard.runtime)?;
            with_batch_exporter(builder, exporter, otlp_name(&otlp), &config.batch, &limits)?
        }
        ExporterChoice::Builtin(Exporter::JaegerAgent { host, port }) => {
            let name = "Jaeger agent (UDP)";
            let exporter = crate::export::jaeger::JaegerAgentExporter::new((host.as_str(), port))
                .map_err(|e| InitError::Exporter {
                exporter: name,
                reason: e.to_string(),
            })?;
            with_batch_exporter(builder, exporter, name, &config.batch, &limits)?
        }
        ExporterChoice::Builtin(Exporter::JaegerCollector { endpoint }) => {
            let name = "Jaeger collector (HTTP)";
            let exporter = crate::export::jaeger::JaegerCollectorExporter::new(&endpoint)
                .and_then(|e| e.with_timeout(config.batch.export_timeout))
                .map_err(|e| InitError::Exporter {
                    exporter: name,
                    reason: e.to_string(),
                })?;
            with_batch_exporter(builder, exporter, name, &config.batch, &limits)?
        }
    };
    let provider = builder.build();
    opentelemetry::global::set_text_map_propagator(crate::propagation::composite(
        &config.effective_propagators(),
    ));
    pipeline::install(Some(Pipeline::new(provider.clone(), hints)));
    guard.provider = Some(provider);
    Ok(guard)
}

/// Adds `exporter` behind our batch processor (and the value-length limit), as every exporter
/// but the console is installed; also used for a user's own exporter.
pub(crate) fn with_batch_exporter<E: SpanExporter + 'static>(
    builder: TracerProviderBuilder,
    exporter: E,
    name: &'static str,
    batch: &BatchSettings,
    limits: &SpanLimits,
) -> Result<TracerProviderBuilder, InitError> {
    let processor =
        BatchProcessor::new(exporter, *batch, name).map_err(|e| InitError::Exporter {
            exporter: name,
            reason: format!("could not start its export threads: {e}"),
        })?;
    Ok(with_processor(builder, processor, limits))
}

/// Adds `processor`, behind value-length truncation when a limit is set.
fn with_processor<P: SpanProcessor + 'static>(
    builder: TracerProviderBuilder,
    processor: P,
    limits: &SpanLimits,
) -> TracerProviderBuilder {
    match limits.max_attribute_value_length {
        Some(max_len) => builder.with_span_processor(TruncatingProcessor::new(processor, max_len)),
        None => builder.with_span_processor(processor),
    }
}

fn sdk_limits(limits: &SpanLimits) -> opentelemetry_sdk::trace::SpanLimits {
    opentelemetry_sdk::trace::SpanLimits {
        max_events_per_span: limits.max_events_per_span,
        max_attributes_per_span: limits.max_attributes_per_span,
        max_links_per_span: limits.max_links_per_span,
        max_attributes_per_event: limits.max_attributes_per_event,
        max_attributes_per_link: limits.max_attributes_per_link,
    }
}

fn otlp_name(otlp: &crate::config::OtlpSettings) -> &'static str {
    Exporter::Otlp(otlp.clone()).name()
}

/// A one-thread Tokio runtime of our own, created when something needs one: tonic's gRPC
/// connection and the remote sampler's polling. Using the application's runtime would tie
/// export to it (a current-thread runtime blocked in shutdown could never flush), and `init`
/// may be called outside any runtime.
#[derive(Debug, Default)]
pub(crate) struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    pub(crate) fn get(
        &mut self,
        user: &'static str,
    ) -> Result<&tokio::runtime::Runtime, InitError> {
        if self.0.is_none() {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("maestro-trace-io")
                .enable_all()
                .build()
                .map_err(|e| InitError::Exporter {
                    exporter: user,
                    reason: format!("no runtime thread for its connection: {e}"),
                })?;
            self.0 = Some(runtime);
        }
        self.0.as_ref().ok_or_else(|| InitError::Exporter {
            exporter: user,
            reason: "no runtime thread for its connection".to_owned(),
        })
    }

    fn shut_down(&mut self) {
        if let Some(runtime) = self.0.take() {
            // Never blocks, so dropping the guard inside an async context is fine.
            runtime.shutdown_background();
        }
    }
}

/// Environment attributes first, then code attributes (which win on the same key), then
/// `service.version` and `service.name`.
fn resource(config: &TracingConfig) -> Resource {
    let mut builder = Resource::builder_empty()
        .with_attributes(config.env_resource.iter().cloned())
        .with_attributes(config.resource.iter().cloned());
    if let Some(version) = &config.service_version {
        builder = builder.with_attribute(KeyValue::new("service.version", version.clone()));
    }
    builder
        .with_service_name(config.effective_service_name())
        .build()
}

/// Keeps tracing running; dropping it flushes pending spans and turns tracing off.
#[must_use = "dropping the guard shuts tracing down immediately"]
#[derive(Debug)]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
    /// The I/O runtime (gRPC connection, remote sampling): outlives the provider's final flush.
    runtime: IoRuntime,
    /// Whether this guard still owns the process-wide pipeline (false once shut down).
    active: bool,
    timeout: Duration,
}

impl TracingGuard {
    /// Whether spans are being created (false when the config disabled tracing).
    pub fn is_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes pending spans and shuts the pipeline down, reporting what went wrong.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_in_place()
    }

    fn shutdown_in_place(&mut self) -> Result<(), ShutdownError> {
        if !std::mem::take(&mut self.active) {
            return Ok(());
        }
        pipeline::install(None);
        let result = match self.provider.take() {
            Some(provider) => provider
                .shutdown_with_timeout(self.timeout)
                .map_err(ShutdownError),
            None => Ok(()),
        };
        self.runtime.shut_down();
        INITIALIZED.store(false, Ordering::Release);
        result
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown_in_place() {
            // The guard has no caller to return to; say it once rather than lose it silently.
            eprintln!("maestro-trace: {error}");
        }
    }
}
