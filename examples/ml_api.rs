//! The guide's service, `maestro-ml-api`, traced with maestro-trace.
//!
//! ```text
//! cargo run --example ml_api -- --demo   # starts, sends the guide's requests to itself, prints the trace trees
//! cargo run --example ml_api             # serves on 127.0.0.1:8000, exporting to Jaeger (OTLP, localhost:4317)
//! ```
//!
//! Endpoints: `GET /models`, `POST /models`, `GET /models/{id}` (404 through a recorded
//! error), `POST /training/jobs`, `POST /models/{id}/deploy`, `POST /predictions` (every third
//! request fails with the guide's `Model version v2.0 not found in registry`), and
//! `GET /health` (excluded from tracing). The environment configures everything else
//! (`OTEL_TRACES_EXPORTER`, `JAEGER_AGENT_HOST`, `OTEL_SEMCONV_STABILITY_OPT_IN=http/dup`, ...);
//! `PORT` picks the port. On SIGTERM or Ctrl-C the service finishes its requests, flushes its
//! spans and writes the export counters to stderr, one line:
//! `maestro-ml-api: trace export: spans_queued=.. spans_exported=.. spans_dropped=.. ...`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use maestro_trace::{
    event, record_errors, span, span_attrs, traced, Exporter, TraceFutureExt, TracingConfig,
    TracingMiddleware,
};
use serde::{Deserialize, Serialize};

#[span_attrs(prefix = "model")]
#[derive(Clone, Debug, Deserialize, Serialize)]
struct Model {
    id: String,
    name: String,
    #[span_attr(rename = "type")]
    #[serde(rename = "type")]
    kind: String,
    version: String,
    framework: String,
}

#[span_attrs(prefix = "training")]
#[derive(Debug, Deserialize)]
struct TrainingJob {
    model_id: String,
    epochs: i64,
    batch_size: i64,
    learning_rate: f64,
}

#[span_attrs(prefix = "deployment")]
#[derive(Debug, Deserialize)]
struct DeploymentConfig {
    replicas: i64,
    #[span_attr(rename = "environment.name")]
    environment: String,
    gpu: bool,
}

#[derive(Debug, Deserialize)]
struct PredictionRequest {
    model_id: String,
    features: Vec<f64>,
}

/// The in-memory "database" and the predictions counter behind the intermittent failure.
#[derive(Debug, Default)]
struct Store {
    models: Mutex<BTreeMap<String, Model>>,
    predictions: AtomicU64,
}

#[derive(Debug)]
enum ApiError {
    ModelNotFound(String),
    InvalidModel(String),
    RegistryMiss(String),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::ModelNotFound(id) => write!(f, "model {id} not found"),
            ApiError::InvalidModel(why) => write!(f, "invalid model: {why}"),
            ApiError::RegistryMiss(version) => {
                write!(f, "Model version {version} not found in registry")
            }
        }
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidModel(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RegistryMiss(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

// ---- GET /models ---------------------------------------------------------------------------

#[traced("query_models", attrs(db.collection.name = "models"))]
fn query_models(store: &Store) -> Vec<Model> {
    store
        .models
        .lock()
        .map(|models| models.values().cloned().collect())
        .unwrap_or_default()
}

async fn list_models(store: web::Data<Store>) -> HttpResponse {
    HttpResponse::Ok().json(query_models(&store))
}

// ---- POST /models ----------------------------------------------------------------------------

fn validate(model: &Model) -> Result<(), ApiError> {
    if model.id.is_empty() || model.version.is_empty() {
        return Err(ApiError::InvalidModel("id and version are required".into()));
    }
    Ok(())
}

async fn save(store: &Store, model: Model) {
    tokio::time::sleep(Duration::from_millis(5)).await; // a database round trip
    if let Ok(mut models) = store.models.lock() {
        models.insert(model.id.clone(), model);
    }
}

async fn create_model(
    store: web::Data<Store>,
    model: web::Json<Model>,
) -> Result<HttpResponse, ApiError> {
    let model = model.into_inner();
    maestro_trace::record(&model);
    span!("validate_model", model_type = model.kind.as_str()).in_scope(|| validate(&model))?;
    save(&store, model.clone())
        .in_span(span!("save_to_database", table = "models"))
        .await;
    Ok(HttpResponse::Created().json(model))
}

// ---- GET /models/{id} ----------------------------------------------------------------------

#[traced("find_model", attrs(model.id = id))]
#[record_errors]
fn find_model(store: &Store, id: &str) -> Result<Model, ApiError> {
    let models = store
        .models
        .lock()
        .map_err(|_| ApiError::ModelNotFound(id.to_owned()))?;
    models
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::ModelNotFound(id.to_owned()))
}

async fn get_model(
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(find_model(&store, &id)?))
}

// ---- POST /training/jobs -------------------------------------------------------------------

#[traced("submit_training_job", kind = producer, attrs(job))]
async fn submit_training_job(job: &TrainingJob) -> String {
    let job_id = format!("job-{}-{}", job.model_id, job.epochs);
    event!("job_queued", queue = "training", job.id = job_id.as_str());
    tokio::time::sleep(Duration::from_millis(10)).await;
    event!("job_started", worker = "gpu-node-1");
    job_id
}

async fn create_training_job(job: web::Json<TrainingJob>) -> HttpResponse {
    let job_id = submit_training_job(&job).await;
    HttpResponse::Accepted().json(serde_json::json!({ "job_id": job_id, "status": "started" }))
}

// ---- POST /models/{id}/deploy --------------------------------------------------------------

#[traced("validate_deployment_config", attrs(config))]
#[record_errors]
fn validate_deployment_config(config: &DeploymentConfig) -> Result<(), ApiError> {
    if config.replicas < 1 {
        return Err(ApiError::InvalidModel("replicas must be at least 1".into()));
    }
    Ok(())
}

#[traced("fetch_model_from_registry", kind = client, attrs(model.id = id))]
async fn fetch_model_from_registry(id: &str) -> Vec<u8> {
    // The slow step of the guide's deployment: downloading the weights.
    tokio::time::sleep(Duration::from_millis(120)).await;
    event!("model_downloaded", bytes = 438_000_000_i64);
    id.as_bytes().to_vec()
}

#[traced("create_k8s_deployment", attrs(k8s.deployment.replicas = replicas))]
async fn create_k8s_deployment(id: &str, replicas: i64) -> String {
    tokio::time::sleep(Duration::from_millis(30)).await;
    format!("{id}-deployment")
}

#[traced("update_database", attrs(table = "deployments"))]
async fn update_database(deployment: &str) {
    let _ = deployment;
    tokio::time::sleep(Duration::from_millis(5)).await;
}

async fn deploy_model(
    store: web::Data<Store>,
    id: web::Path<String>,
    config: web::Json<DeploymentConfig>,
) -> Result<HttpResponse, ApiError> {
    let model = find_model(&store, &id)?;
    validate_deployment_config(&config)?;
    let weights = fetch_model_from_registry(&model.id).await;
    let deployment = create_k8s_deployment(&model.id, config.replicas).await;
    update_database(&deployment).await;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "deployment": deployment,
        "weights_bytes": weights.len(),
    })))
}

// ---- POST /predictions ---------------------------------------------------------------------

#[traced("resolve_model_version", attrs(model.id = model_id))]
#[record_errors]
fn resolve_model_version(store: &Store, model_id: &str) -> Result<&'static str, ApiError> {
    // Every third prediction hits the guide's registry miss.
    if store.predictions.fetch_add(1, Ordering::Relaxed) % 3 == 2 {
        return Err(ApiError::RegistryMiss("v2.0".into()));
    }
    Ok("v1.3")
}

#[traced("run_inference", attrs(features = features.len()))]
async fn run_inference(features: &[f64]) -> f64 {
    tokio::time::sleep(Duration::from_millis(3)).await;
    features.iter().sum::<f64>() / features.len().max(1) as f64
}

async fn predict(
    store: web::Data<Store>,
    request: web::Json<PredictionRequest>,
) -> Result<HttpResponse, ApiError> {
    let version = resolve_model_version(&store, &request.model_id)?;
    let score = run_inference(&request.features).await;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "version": version, "score": score })))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/health", web::get().to(health))
        .route("/models", web::get().to(list_models))
        .route("/models", web::post().to(create_model))
        .route("/models/{id}", web::get().to(get_model))
        .route("/models/{id}/deploy", web::post().to(deploy_model))
        .route("/training/jobs", web::post().to(create_training_job))
        .route("/predictions", web::post().to(predict));
}

fn middleware() -> std::io::Result<TracingMiddleware> {
    let middleware = TracingMiddleware::from_env().map_err(std::io::Error::other)?;
    Ok(middleware
        .exclude_urls(maestro_trace::actix::PROBE_URLS)
        .capture_request_headers(["x-tenant-id"])
        .trace_id_response_header("x-trace-id")
        .request_hook(|request, span| {
            if let Some(tenant) = request
                .headers()
                .get("x-tenant-id")
                .and_then(|v| v.to_str().ok())
            {
                span.set_attribute("tenant.id", tenant);
            }
        }))
}

/// The guide's requests, in order: `(method, path, JSON body)`.
fn demo_requests() -> Vec<(&'static str, &'static str, Option<serde_json::Value>)> {
    let model = serde_json::json!({
        "id": "bert-base", "name": "sentiment-bert", "type": "classification",
        "version": "v1.3", "framework": "pytorch"
    });
    let features = serde_json::json!({ "model_id": "bert-base", "features": [0.2, 0.4, 0.9] });
    vec![
        ("GET", "/health", None),
        ("POST", "/models", Some(model)),
        ("GET", "/models", None),
        ("GET", "/models/bert-base", None),
        ("GET", "/models/gpt-unknown", None),
        (
            "POST",
            "/training/jobs",
            Some(serde_json::json!({
                "model_id": "bert-base", "epochs": 3, "batch_size": 32, "learning_rate": 0.001
            })),
        ),
        (
            "POST",
            "/models/bert-base/deploy",
            Some(serde_json::json!({ "replicas": 2, "environment": "staging", "gpu": true })),
        ),
        ("POST", "/predictions", Some(features.clone())),
        ("POST", "/predictions", Some(features.clone())),
        ("POST", "/predictions", Some(features)),
    ]
}

async fn run_demo(store: web::Data<Store>) -> std::io::Result<()> {
    let middleware = middleware()?;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(store.clone())
            .wrap(middleware.clone())
            .configure(routes)
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let address = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("the server bound no address"))?;
    let server = server.run();
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);

    let client = awc::Client::default();
    for (method, path, body) in demo_requests() {
        let url = format!("http://{address}{path}");
        let request = match method {
            "POST" => client.post(url),
            _ => client.get(url),
        }
        .insert_header(("x-tenant-id", "tenant-123"));
        let response = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        match response {
            Ok(mut response) => {
                let _ = response.body().await;
                let trace = response
                    .headers()
                    .get("x-trace-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_owned();
                println!(
                    "{method} {path} -> {} (trace {trace})",
                    response.status().as_u16()
                );
            }
            Err(error) => println!("{method} {path} -> failed: {error}"),
        }
        // Let the console exporter print this request's tree before the next line.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.stop(true).await;
    let _ = running.await;
    Ok(())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let demo = std::env::args().any(|arg| arg == "--demo");
    let config = TracingConfig::from_env()
        .service_name("maestro-ml-api")
        .service_version("1.4.0")
        .resource_attribute("deployment.environment", "development");
    // The demo prints to the console unless the environment points elsewhere (e.g.
    // OTEL_TRACES_EXPORTER=otlp); the service exports to Jaeger over OTLP by default.
    let config = if demo {
        config.default_exporter(Exporter::Console)
    } else {
        config
    };
    let tracing = maestro_trace::init(config).map_err(std::io::Error::other)?;
    let store = web::Data::new(Store::default());

    if demo {
        run_demo(store).await?;
        return tracing.shutdown().map_err(std::io::Error::other);
    }
    let middleware = middleware()?;
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(8000);
    println!("maestro-ml-api on http://127.0.0.1:{port}");
    HttpServer::new(move || {
        App::new()
            .app_data(store.clone())
            .wrap(middleware.clone())
            .configure(routes)
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    // Stopped (SIGTERM, SIGINT): flush, then log what happened to the spans, so a Jaeger
    // outage shows in the service's own log as counted drops.
    let shutdown = tracing.shutdown();
    eprintln!(
        "maestro-ml-api: trace export: {}",
        maestro_trace::diagnostics()
    );
    shutdown.map_err(std::io::Error::other)
}
