//! The server `run.sh` loads: one actix-web worker on `127.0.0.1:<port>` serving
//! `GET /models/{model_id}`, bare or behind one tracing middleware.
//!
//! ```text
//! maestro-trace-http-bench <bare|maestro|otel-actix|tracing-actix> [port]
//! ```
//!
//! Every traced variant samples every request and exports through a real batch pipeline into
//! an exporter that discards (and counts) the spans; each middleware records its default
//! attributes, nothing more. On SIGINT / SIGTERM the server stops, the pipeline is flushed and
//! one line `spans exported: N` (plus what the first span carried) is printed, so `run.sh` can
//! check that every request was traced.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use actix_web::{web, App, HttpResponse, HttpServer};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde::Serialize;

const SERVICE_NAME: &str = "maestro-http-bench";
const DEFAULT_PORT: u16 = 18080;

/// Which middleware wraps the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Bare,
    Maestro,
    OtelActix,
    TracingActix,
}

impl Variant {
    const ALL: [(&'static str, Variant); 4] = [
        ("bare", Variant::Bare),
        ("maestro", Variant::Maestro),
        ("otel-actix", Variant::OtelActix),
        ("tracing-actix", Variant::TracingActix),
    ];

    fn parse(name: &str) -> Option<Variant> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// A span exporter that counts what it is given and throws it away.
#[derive(Clone, Default)]
struct Discard {
    exported: Arc<AtomicU64>,
    first: Arc<OnceLock<String>>,
}

impl fmt::Debug for Discard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Discard")
            .field("exported", &self.exported.load(Ordering::Relaxed))
            .finish()
    }
}

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if let Some(span) = batch.first() {
            self.first.get_or_init(|| {
                let keys: Vec<&str> = span.attributes.iter().map(|kv| kv.key.as_str()).collect();
                format!(
                    "{:?} with {} attributes: {}",
                    span.name,
                    keys.len(),
                    keys.join(" ")
                )
            });
        }
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

impl Discard {
    fn report(&self) {
        println!("spans exported: {}", self.exported.load(Ordering::Relaxed));
        if let Some(first) = self.first.get() {
            println!("first span: {first}");
        }
    }
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    id: &'a str,
    framework: &'static str,
    version: u32,
    status: &'static str,
}

async fn get_model(model_id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(ModelInfo {
        id: &model_id,
        framework: "pytorch",
        version: 3,
        status: "ready",
    })
}

fn routes(config: &mut web::ServiceConfig) {
    config.route("/models/{model_id}", web::get().to(get_model));
}

/// The SDK pipeline the peers export through: always-on sampling, the SDK's
/// `BatchSpanProcessor` (default settings), a discarding exporter; installed globally with the
/// W3C trace-context and baggage propagators (what maestro-trace installs by default).
fn sdk_provider(discard: &Discard) -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(SERVICE_NAME).build())
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        .with_batch_exporter(discard.clone())
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    opentelemetry::global::set_text_map_propagator(
        opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ]),
    );
    provider
}

fn usage() -> String {
    let names: Vec<&str> = Variant::ALL.iter().map(|(n, _)| *n).collect();
    format!(
        "usage: maestro-trace-http-bench <{}> [port]",
        names.join("|")
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let variant = args
        .next()
        .as_deref()
        .and_then(Variant::parse)
        .ok_or_else(usage)?;
    let port = match args.next() {
        Some(port) => port.parse::<u16>().map_err(|_| usage())?,
        None => DEFAULT_PORT,
    };
    let address = ("127.0.0.1", port);
    let discard = Discard::default();

    // Set up before the server; torn down (flushing the pipeline) after it stopped.
    let mut maestro_guard = None;
    let mut sdk = None;
    match variant {
        Variant::Bare => {}
        Variant::Maestro => {
            maestro_guard = Some(maestro_trace::init(
                maestro_trace::TracingConfig::default()
                    .service_name(SERVICE_NAME)
                    .span_exporter(discard.clone()),
            )?);
        }
        Variant::OtelActix => sdk = Some(sdk_provider(&discard)),
        Variant::TracingActix => {
            use tracing_subscriber::layer::SubscriberExt as _;
            let provider = sdk_provider(&discard);
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(SERVICE_NAME));
            tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
            sdk = Some(provider);
        }
    }

    actix_web::rt::System::new().block_on(async move {
        let server = match variant {
            Variant::Bare => HttpServer::new(|| App::new().configure(routes))
                .workers(1)
                .bind(address)?
                .run(),
            Variant::Maestro => HttpServer::new(|| {
                App::new()
                    .wrap(maestro_trace::TracingMiddleware::default())
                    .configure(routes)
            })
            .workers(1)
            .bind(address)?
            .run(),
            Variant::OtelActix => HttpServer::new(|| {
                App::new()
                    .wrap(opentelemetry_instrumentation_actix_web::RequestTracing::new())
                    .configure(routes)
            })
            .workers(1)
            .bind(address)?
            .run(),
            Variant::TracingActix => HttpServer::new(|| {
                App::new()
                    .wrap(tracing_actix_web::TracingLogger::default())
                    .configure(routes)
            })
            .workers(1)
            .bind(address)?
            .run(),
        };
        println!("serving {variant:?} on http://127.0.0.1:{port}/models/{{model_id}}");
        server.await
    })?;

    if let Some(guard) = maestro_guard {
        guard.shutdown()?;
        let diagnostics = maestro_trace::diagnostics();
        println!(
            "maestro-trace: {} queued, {} dropped",
            diagnostics.spans_queued, diagnostics.spans_dropped
        );
    }
    if let Some(provider) = sdk {
        provider.shutdown()?;
    }
    discard.report();
    Ok(())
}
