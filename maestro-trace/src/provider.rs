//! Building the tracer provider a [`TracingConfig`] describes: resource, sampler, span limits,
//! and the exporter behind its processor.

use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{
    SdkTracerProvider, SimpleSpanProcessor, SpanProcessor, TracerProviderBuilder,
};
use opentelemetry_sdk::Resource;

use crate::batch::{BatchProcessor, BatchSettings};
use crate::config::{Exporter, ExporterChoice, SpanLimits, TracingConfig, CUSTOM_EXPORTER_NAME};
use crate::error::InitError;
use crate::export::jaeger::{JaegerAgentExporter, JaegerCollectorExporter};
use crate::export::ConsoleExporter;
use crate::pipeline::Pipeline;
use crate::runtime::IoRuntime;

/// The pipeline for `config` (its exporter is taken out of it); `io_runtime` is started if the
/// exporter or the sampler needs it.
pub(crate) fn build(
    config: &mut TracingConfig,
    io_runtime: &mut IoRuntime,
) -> Result<Pipeline, InitError> {
    let limits = config.limits;
    let sampling = config.sampling_or_default();
    let sampler =
        crate::sampling::sampler(&sampling, &config.service_name_or_default(), io_runtime)?;
    let builder = SdkTracerProvider::builder()
        .with_resource(resource(config))
        .with_sampler(sampler)
        .with_span_limits(sdk_limits(&limits));
    // Before the exporting processor, so the attributes are on the span it receives.
    let builder = if config.baggage_span_attributes.is_empty() {
        builder
    } else {
        // Shared keys: copying one onto a span is a reference count, not a string copy.
        let keys = config
            .baggage_span_attributes
            .iter()
            .map(|key| opentelemetry::Key::from(std::sync::Arc::<str>::from(key.as_str())));
        builder.with_span_processor(crate::processor::BaggageSpanProcessor::new(keys.collect()))
    };
    let choice = match config.exporter.take() {
        Some(choice) => choice,
        None => ExporterChoice::Builtin(config.exporter_or_default().unwrap_or(Exporter::None)),
    };
    let batch = config.batch;
    let builder = match choice {
        ExporterChoice::Custom(start) => {
            with_batched(builder, start(batch), CUSTOM_EXPORTER_NAME, &limits)?
        }
        ExporterChoice::Builtin(exporter) => {
            with_builtin(builder, exporter, batch, &limits, io_runtime)?
        }
    };
    Ok(Pipeline::new(builder.build(), sampling.hints()))
}

/// Adds one of our exporters: the console directly, every other one behind our batch processor.
fn with_builtin(
    builder: TracerProviderBuilder,
    exporter: Exporter,
    batch: BatchSettings,
    limits: &SpanLimits,
    io_runtime: &mut IoRuntime,
) -> Result<TracerProviderBuilder, InitError> {
    let name = exporter.name();
    let failed = |reason: String| InitError::Exporter {
        exporter: name,
        reason,
    };
    let processor = match exporter {
        Exporter::None => return Ok(builder),
        Exporter::Console => {
            let console = SimpleSpanProcessor::new(ConsoleExporter::stdout());
            return Ok(with_processor(builder, console, limits));
        }
        Exporter::Otlp(otlp) => {
            let exporter = crate::export::otlp::build(&otlp, io_runtime)?;
            BatchProcessor::new(exporter, batch, name)
        }
        Exporter::JaegerAgent { host, port } => {
            let exporter = JaegerAgentExporter::new((host.as_str(), port))
                .map_err(|e| failed(e.to_string()))?;
            BatchProcessor::new(exporter, batch, name)
        }
        Exporter::JaegerCollector { endpoint } => {
            let exporter = JaegerCollectorExporter::new(&endpoint)
                .and_then(|e| e.with_timeout(batch.export_timeout))
                .map_err(|e| failed(e.to_string()))?;
            BatchProcessor::new(exporter, batch, name)
        }
    };
    with_batched(builder, processor, name, limits)
}

/// Adds a started batch processor (the threads of `name`'s exporter), or says why it could not
/// start.
fn with_batched(
    builder: TracerProviderBuilder,
    processor: std::io::Result<BatchProcessor>,
    name: &'static str,
    limits: &SpanLimits,
) -> Result<TracerProviderBuilder, InitError> {
    let processor = processor.map_err(|e| InitError::Exporter {
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
        Some(max_len) => builder.with_span_processor(crate::processor::TruncatingProcessor::new(
            processor, max_len,
        )),
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
        .with_service_name(config.service_name_or_default())
        .build()
}
