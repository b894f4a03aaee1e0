//! Building the tracer provider a [`TracingConfig`] describes: resource, sampler, span limits,
//! and the exporter behind its processor.

use std::sync::Arc;

use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor, SpanProcessor};
use opentelemetry_sdk::Resource;

use crate::batch::{BatchProcessor, BatchSettings};
use crate::config::{Exporter, ExporterChoice, SpanLimits, TracingConfig, CUSTOM_EXPORTER_NAME};
use crate::error::InitError;
use crate::export::jaeger::{JaegerAgentExporter, JaegerCollectorExporter};
use crate::export::ConsoleExporter;
use crate::pipeline::Pipeline;
use crate::recording::{Delivery, Sink, SinkProcessor};
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
    let resource = resource(config);
    // Shared keys: copying one onto a span is a reference count, not a string copy.
    let baggage_keys: Vec<Key> = config
        .baggage_span_attributes
        .iter()
        .map(|key| Key::from(Arc::<str>::from(key.as_str())))
        .collect();
    let choice = match config.exporter.take() {
        Some(choice) => choice,
        None => ExporterChoice::Builtin(config.exporter_or_default().unwrap_or(Exporter::None)),
    };
    let batch = config.batch;
    let exporting = match choice {
        ExporterChoice::Custom(start) => Some(batched(start(batch), CUSTOM_EXPORTER_NAME)?),
        ExporterChoice::Builtin(exporter) => builtin(exporter, batch, io_runtime)?,
    };
    let delivery = match exporting {
        None => Delivery::to(Vec::new()),
        Some(exporting) => exporting.delivery(&limits, &resource),
    };
    let sink = Sink::new(
        Box::new(sampler.clone()),
        sdk_limits(&limits),
        baggage_keys.clone(),
        delivery,
        None,
    );
    let builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_sampler(sampler)
        .with_span_limits(sdk_limits(&limits));
    // For spans of the raw `opentelemetry` API (ours copy the baggage themselves); before the
    // exporting processor, so the attributes are on the span it receives.
    let builder = if baggage_keys.is_empty() {
        builder
    } else {
        builder.with_span_processor(crate::processor::BaggageSpanProcessor::new(baggage_keys))
    };
    let provider = builder
        .with_span_processor(SinkProcessor(Arc::clone(&sink)))
        .build();
    Ok(Pipeline::new(provider, sink, sampling.hints()))
}

/// The processor spans are exported through.
enum Exporting {
    /// Our batch processor (every exporter but the console).
    Batch(BatchProcessor),
    /// Another processor (the console's, which writes each span as it ends).
    Direct(Box<dyn SpanProcessor>),
}

impl Exporting {
    /// The processor behind value-length truncation when a limit is set, told the resource
    /// (the provider cannot reach it once it is shared), ready to share between the provider
    /// and the sink.
    fn delivery(self, limits: &SpanLimits, resource: &Resource) -> Delivery {
        let max_len = limits.max_attribute_value_length;
        match self {
            Exporting::Batch(mut batch) => {
                if let Some(max_len) = max_len {
                    batch.limit_value_length(max_len);
                }
                batch.set_resource(resource);
                Delivery::batched(Arc::new(batch))
            }
            Exporting::Direct(processor) => {
                let mut processor: Box<dyn SpanProcessor> = match max_len {
                    Some(max_len) => Box::new(crate::processor::TruncatingProcessor::new(
                        processor, max_len,
                    )),
                    None => processor,
                };
                processor.set_resource(resource);
                Delivery::to(vec![Arc::from(processor)])
            }
        }
    }
}

/// One of our exporters' processors: the console directly, every other one behind our batch
/// processor; `None` for no exporter.
fn builtin(
    exporter: Exporter,
    batch: BatchSettings,
    io_runtime: &mut IoRuntime,
) -> Result<Option<Exporting>, InitError> {
    let name = exporter.name();
    let failed = |reason: String| InitError::Exporter {
        exporter: name,
        reason,
    };
    let processor = match exporter {
        Exporter::None => return Ok(None),
        Exporter::Console => {
            return Ok(Some(Exporting::Direct(Box::new(SimpleSpanProcessor::new(
                ConsoleExporter::stdout(),
            )))));
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
    batched(processor, name).map(Some)
}

/// A started batch processor (the threads of `name`'s exporter), or why it could not start.
fn batched(
    processor: std::io::Result<BatchProcessor>,
    name: &'static str,
) -> Result<Exporting, InitError> {
    match processor {
        Ok(processor) => Ok(Exporting::Batch(processor)),
        Err(e) => Err(InitError::Exporter {
            exporter: name,
            reason: format!("could not start its export threads: {e}"),
        }),
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
