//! An ML platform's model API, `maestro-ml-api`, traced with maestro-trace.
//!
//! ```text
//! cargo run --example ml_api -- --demo   # starts, sends its demo requests to itself, prints the trace trees
//! cargo run --example ml_api             # serves on 127.0.0.1:8000, exporting to Jaeger (OTLP, localhost:4317)
//! ```
//!
//! Endpoints: `GET /models`, `POST /models`, `GET /models/{id}` (404 through a recorded
//! error), `POST /training/jobs` (queued to the training worker, whose trace links back to the
//! request), `POST /models/{id}/deploy`, `POST /predictions` (every third
//! request fails with `Model version v2.0 not found in registry`), and
//! `GET /health` (excluded from tracing). The environment configures everything else
//! (`OTEL_TRACES_EXPORTER`, `JAEGER_AGENT_HOST`, `OTEL_SEMCONV_STABILITY_OPT_IN=http/dup`, ...);
//! `PORT` picks the port. On SIGTERM or Ctrl-C the service finishes its requests, flushes its
//! spans and writes the export counters to stderr, one line:
//! `maestro-ml-api: trace export: spans_queued=.. spans_exported=.. spans_dropped=.. ...`.
//!
//! Models and deployments live in an SQLite database in memory, or in PostgreSQL when
//! `DATABASE_URL=postgres://...` is set (`sqlite:...` names an SQLite file); model lookups are
//! cached in Redis when `REDIS_URL=redis://...` is set. Every statement and cache command is a
//! client span under the handler's spans. Each request writes one log line to stderr, and a
//! failed one logs its error; lines carry the request's `trace_id` and `span_id`, the trace id
//! the response returns in `x-trace-id`.
//!
//! A request's `x-tenant-id` header becomes the `tenant.id` baggage entry at the edge: it is on
//! every span of the request (the server span included), travels with queued training jobs to
//! the worker's spans, and goes on to any service the request calls.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpResponse, HttpServer};
use maestro_trace::otel::trace::SpanContext;
use maestro_trace::sqlx::TracedPool;
use maestro_trace::{
    baggage, event, record_errors, span, span_attrs, traced, Exporter, TraceFutureExt,
    TracingConfig, TracingMiddleware,
};
use redis::AsyncCommands as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

#[span_attrs(prefix = "model")]
#[derive(Clone, Debug, Deserialize, Serialize, sqlx::FromRow)]
struct Model {
    id: String,
    name: String,
    #[span_attr(rename = "type")]
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
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

/// The service's state: its database, the optional cache of model lookups, the queue to the
/// training worker, and the predictions counter behind the intermittent failure.
#[derive(Debug)]
struct Store {
    db: Database,
    cache: Option<Cache>,
    training: mpsc::Sender<QueuedJob>,
    predictions: AtomicU64,
}

/// The database the models and deployments are kept in, through a traced pool.
#[derive(Debug)]
enum Database {
    Sqlite(TracedPool<sqlx::Sqlite>),
    Postgres(TracedPool<sqlx::Postgres>),
}

/// Runs `$body` with `$pool` bound to the traced pool of whichever database is configured (the
/// statements are the same text for both: `$n` parameters, `ON CONFLICT` upserts).
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Database::Sqlite($pool) => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

const CREATE_MODELS: &str = "CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY, \
     name TEXT NOT NULL, type TEXT NOT NULL, version TEXT NOT NULL, framework TEXT NOT NULL)";
const CREATE_DEPLOYMENTS: &str = "CREATE TABLE IF NOT EXISTS deployments (name TEXT PRIMARY KEY, \
     model_id TEXT NOT NULL, replicas BIGINT NOT NULL, environment TEXT NOT NULL)";
const UPSERT_MODEL: &str = "INSERT INTO models (id, name, type, version, framework) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
     type = excluded.type, version = excluded.version, framework = excluded.framework";
const SELECT_MODELS: &str = "SELECT id, name, type, version, framework FROM models ORDER BY id";
const SELECT_MODEL: &str = "SELECT id, name, type, version, framework FROM models WHERE id = $1";
const UPSERT_DEPLOYMENT: &str = "INSERT INTO deployments (name, model_id, replicas, environment) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET model_id = excluded.model_id, \
     replicas = excluded.replicas, environment = excluded.environment";

impl Database {
    /// Connects to `DATABASE_URL` (PostgreSQL or an SQLite file), or to a fresh SQLite database
    /// in memory when it is unset, and creates the tables.
    async fn connect(url: Option<&str>) -> Result<Database, StartupError> {
        let db = match url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .connect(url)
                    .await
                    .map_err(StartupError::Database)?;
                Database::Postgres(maestro_trace::sqlx::instrument(pool))
            }
            Some(url) if url.starts_with("sqlite:") => Database::Sqlite(sqlite(url).await?),
            // Only the scheme is kept: the rest of a URL may hold a password.
            Some(url) => {
                let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
                return Err(StartupError::DatabaseScheme(scheme.to_owned()));
            }
            None => Database::Sqlite(sqlite("sqlite::memory:").await?),
        };
        // Created once at start, before any request: not part of any request's trace.
        on_pool!(&db, pool => {
            sqlx::query(CREATE_MODELS).execute(pool.inner()).await.map_err(StartupError::Database)?;
            sqlx::query(CREATE_DEPLOYMENTS).execute(pool.inner()).await.map_err(StartupError::Database)?;
        });
        Ok(db)
    }

    async fn save_model(&self, model: &Model) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(UPSERT_MODEL)
            .bind(&model.id)
            .bind(&model.name)
            .bind(&model.kind)
            .bind(&model.version)
            .bind(&model.framework)
            .execute(pool)
            .await
            .map(drop))
    }

    async fn models(&self) -> Result<Vec<Model>, sqlx::Error> {
        on_pool!(self, pool => sqlx::query_as(SELECT_MODELS).fetch_all(pool).await)
    }

    async fn model(&self, id: &str) -> Result<Option<Model>, sqlx::Error> {
        on_pool!(self, pool => sqlx::query_as(SELECT_MODEL).bind(id).fetch_optional(pool).await)
    }

    async fn save_deployment(
        &self,
        name: &str,
        model_id: &str,
        config: &DeploymentConfig,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query(UPSERT_DEPLOYMENT)
            .bind(name)
            .bind(model_id)
            .bind(config.replicas)
            .bind(&config.environment)
            .execute(pool)
            .await
            .map(drop))
    }
}

/// An SQLite pool of one connection that is never closed: an in-memory database lives as long
/// as its connection, and every request then sees the same one.
async fn sqlite(url: &str) -> Result<TracedPool<sqlx::Sqlite>, StartupError> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect(url)
        .await
        .map_err(StartupError::Database)?;
    Ok(maestro_trace::sqlx::instrument(pool))
}

/// The Redis cache of model lookups (`model:{id}` keys holding the model's JSON for a minute).
#[derive(Debug)]
struct Cache {
    conn: maestro_trace::redis::TracedConnection<redis::aio::MultiplexedConnection>,
}

/// How long a cached model lookup is kept, in seconds.
const CACHE_TTL_SECS: u64 = 60;

impl Cache {
    async fn connect(url: &str) -> Result<Cache, StartupError> {
        let client = redis::Client::open(url).map_err(StartupError::Redis)?;
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(StartupError::Redis)?;
        Ok(Cache {
            conn: maestro_trace::redis::instrument(conn, client.get_connection_info()),
        })
    }

    fn key(id: &str) -> String {
        format!("model:{id}")
    }

    /// The cached model, if any. A cache that fails is logged and treated as a miss.
    async fn get(&self, id: &str) -> Option<Model> {
        let mut conn = self.conn.clone();
        match conn.get::<_, Option<String>>(Cache::key(id)).await {
            Ok(json) => json.and_then(|json| match serde_json::from_str(&json) {
                Ok(model) => Some(model),
                Err(error) => {
                    tracing::error!(model.id = id, %error, "cached model is not valid JSON");
                    None
                }
            }),
            Err(error) => {
                tracing::error!(model.id = id, %error, "model cache read failed");
                None
            }
        }
    }

    async fn put(&self, model: &Model) {
        let json = match serde_json::to_string(model) {
            Ok(json) => json,
            Err(error) => {
                tracing::error!(model.id = model.id, %error, "model not cached");
                return;
            }
        };
        let mut conn = self.conn.clone();
        let stored: redis::RedisResult<()> = conn
            .set_ex(Cache::key(&model.id), json, CACHE_TTL_SECS)
            .await;
        if let Err(error) = stored {
            tracing::error!(model.id = model.id, %error, "model cache write failed");
        }
    }

    async fn forget(&self, id: &str) {
        let mut conn = self.conn.clone();
        let removed: redis::RedisResult<()> = conn.del(Cache::key(id)).await;
        if let Err(error) = removed {
            tracing::error!(model.id = id, %error, "stale cached model not removed");
        }
    }
}

/// Why the service could not start.
#[derive(Debug)]
enum StartupError {
    DatabaseScheme(String),
    Database(sqlx::Error),
    Redis(redis::RedisError),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::DatabaseScheme(scheme) => write!(
                f,
                "DATABASE_URL: the scheme {scheme:?} is neither postgres:// nor sqlite:"
            ),
            StartupError::Database(error) => write!(
                f,
                "the database (DATABASE_URL, else SQLite in memory): {error}"
            ),
            StartupError::Redis(error) => write!(f, "Redis at REDIS_URL: {error}"),
        }
    }
}

impl std::error::Error for StartupError {}

#[derive(Debug)]
enum ApiError {
    ModelNotFound(String),
    InvalidModel(String),
    RegistryMiss(String),
    Database(sqlx::Error),
    TrainingStopped,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::ModelNotFound(id) => write!(f, "model {id} not found"),
            ApiError::InvalidModel(why) => write!(f, "invalid model: {why}"),
            ApiError::RegistryMiss(version) => {
                write!(f, "Model version {version} not found in registry")
            }
            ApiError::Database(error) => write!(f, "database: {error}"),
            ApiError::TrainingStopped => write!(f, "the training worker has stopped"),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        ApiError::Database(error)
    }
}

impl actix_web::ResponseError for ApiError {
    fn status_code(&self) -> actix_web::http::StatusCode {
        use actix_web::http::StatusCode;
        match self {
            ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::InvalidModel(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RegistryMiss(_) | ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::TrainingStopped => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

// ---- GET /models ---------------------------------------------------------------------------

#[traced("query_models")]
#[record_errors]
async fn query_models(store: &Store) -> Result<Vec<Model>, ApiError> {
    Ok(store.db.models().await?)
}

async fn list_models(store: web::Data<Store>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(query_models(&store).await?))
}

// ---- POST /models ----------------------------------------------------------------------------

fn validate(model: &Model) -> Result<(), ApiError> {
    if model.id.is_empty() || model.version.is_empty() {
        return Err(ApiError::InvalidModel("id and version are required".into()));
    }
    Ok(())
}

#[record_errors]
async fn save(store: &Store, model: &Model) -> Result<(), ApiError> {
    store.db.save_model(model).await?;
    if let Some(cache) = &store.cache {
        cache.forget(&model.id).await;
    }
    Ok(())
}

async fn create_model(
    store: web::Data<Store>,
    model: web::Json<Model>,
) -> Result<HttpResponse, ApiError> {
    let model = model.into_inner();
    maestro_trace::record(&model);
    span!("validate_model", model_type = model.kind.as_str()).in_scope(|| validate(&model))?;
    save(&store, &model)
        .in_span(span!("save_to_database", table = "models"))
        .await?;
    Ok(HttpResponse::Created().json(model))
}

// ---- GET /models/{id} ----------------------------------------------------------------------

#[traced("find_model", attrs(model.id = id))]
#[record_errors]
async fn find_model(store: &Store, id: &str) -> Result<Model, ApiError> {
    if let Some(cache) = &store.cache {
        if let Some(model) = cache.get(id).await {
            return Ok(model);
        }
    }
    let model = store
        .db
        .model(id)
        .await?
        .ok_or_else(|| ApiError::ModelNotFound(id.to_owned()))?;
    if let Some(cache) = &store.cache {
        cache.put(&model).await;
    }
    Ok(model)
}

async fn get_model(
    store: web::Data<Store>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(find_model(&store, &id).await?))
}

// ---- POST /training/jobs -------------------------------------------------------------------

/// A training job on its way from the API to the training worker, with what a message
/// broker's headers would carry across: the span context of the request's
/// `submit_training_job` span (the worker's span links to it) and the request's baggage.
#[derive(Debug)]
struct QueuedJob {
    id: String,
    job: TrainingJob,
    queued_by: Option<SpanContext>,
    baggage: Vec<(String, String)>,
}

/// Most jobs waiting for the worker; a request finding the queue full waits for room.
const TRAINING_QUEUE: usize = 16;

#[traced("submit_training_job", kind = producer, attrs(job))]
#[record_errors]
async fn submit_training_job(
    queue: &mpsc::Sender<QueuedJob>,
    job: TrainingJob,
) -> Result<String, ApiError> {
    let id = format!("job-{}-{}", job.model_id, job.epochs);
    let queued = QueuedJob {
        id: id.clone(),
        job,
        queued_by: maestro_trace::current_span_context(),
        baggage: baggage::entries(),
    };
    queue
        .send(queued)
        .await
        .map_err(|_| ApiError::TrainingStopped)?;
    event!("job_queued", queue = "training", job.id = id.as_str());
    Ok(id)
}

async fn create_training_job(
    store: web::Data<Store>,
    job: web::Json<TrainingJob>,
) -> Result<HttpResponse, ApiError> {
    let job_id = submit_training_job(&store.training, job.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "job_id": job_id, "status": "queued" })))
}

/// The training worker: runs queued jobs one at a time until the queue closes (every sender
/// gone: the service has stopped), each in its own trace, in the baggage of the request that
/// queued it.
async fn training_worker(mut jobs: mpsc::Receiver<QueuedJob>) {
    while let Some(queued) = jobs.recv().await {
        let entries: Vec<(&str, &str)> = queued
            .baggage
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        match baggage::with_future(&entries, run_training_job(&queued)) {
            Ok(run) => run.await,
            // Entries that were valid baggage in the request always are; should that ever
            // change, the job still runs, and the log says what was left behind.
            Err(error) => {
                tracing::error!(job.id = queued.id, %error, "job baggage refused, running without it");
                run_training_job(&queued).await;
            }
        }
    }
}

/// A consumer span in a trace of its own (a job outlives the request that queued it), linked
/// to the `submit_training_job` span of that request.
#[traced(
    "run_training_job",
    kind = consumer,
    root,
    links = queued.queued_by.clone(),
    attrs(job.id = queued.id.as_str())
)]
async fn run_training_job(queued: &QueuedJob) {
    maestro_trace::record(&queued.job);
    event!("job_started", worker = "gpu-node-1");
    span!("load_training_data", dataset = "models-training")
        .in_scope(|| event!("dataset_loaded", rows = 50_000_i64));
    // A short demo run: at most three epochs, whatever was asked.
    for epoch in 1..=queued.job.epochs.clamp(1, 3) {
        tokio::time::sleep(Duration::from_millis(5))
            .in_span(span!("train_epoch", training.epoch = epoch))
            .await;
    }
    event!(
        "model_checkpoint_saved",
        model.id = queued.job.model_id.as_str()
    );
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
    // The slow step of a deployment: downloading the weights.
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
#[record_errors]
async fn update_database(
    store: &Store,
    deployment: &str,
    model_id: &str,
    config: &DeploymentConfig,
) -> Result<(), ApiError> {
    Ok(store
        .db
        .save_deployment(deployment, model_id, config)
        .await?)
}

async fn deploy_model(
    store: web::Data<Store>,
    id: web::Path<String>,
    config: web::Json<DeploymentConfig>,
) -> Result<HttpResponse, ApiError> {
    let model = find_model(&store, &id).await?;
    validate_deployment_config(&config)?;
    let weights = fetch_model_from_registry(&model.id).await;
    let deployment = create_k8s_deployment(&model.id, config.replicas).await;
    update_database(&store, &deployment, &model.id, &config).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "deployment": deployment,
        "weights_bytes": weights.len(),
    })))
}

// ---- POST /predictions ---------------------------------------------------------------------

#[traced("resolve_model_version", attrs(model.id = model_id))]
#[record_errors]
fn resolve_model_version(store: &Store, model_id: &str) -> Result<&'static str, ApiError> {
    // Every third prediction misses in the registry.
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
        .trace_id_response_header("x-trace-id"))
}

/// Serves a request in the baggage entry `tenant.id` taken from its `x-tenant-id` header.
/// Registered after [`TracingMiddleware`], it runs before it, so the server span starts in that
/// baggage too. A header that is not valid baggage is served without it, and logged.
fn tenant_baggage<S, B>(request: ServiceRequest, service: &S) -> S::Future
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let tenant = request
        .headers()
        .get("x-tenant-id")
        .and_then(|value| value.to_str().ok())
        .map(|tenant| baggage::context_with(&[("tenant.id", tenant)]));
    match tenant {
        Some(Ok(cx)) => {
            let _current = cx.attach();
            service.call(request)
        }
        Some(Err(error)) => {
            tracing::warn!(%error, "x-tenant-id is not valid baggage; served without a tenant");
            service.call(request)
        }
        None => service.call(request),
    }
}

/// Writes one log line per request from inside its server span, so that the line carries the
/// request's trace and span ids: its status, and the error of a request that failed.
fn log_request<S, B>(
    request: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<B>, actix_web::Error>> + 'static
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
{
    let method = request.method().clone();
    let path = request.path().to_owned();
    let response = service.call(request);
    async move {
        let response = response.await;
        match &response {
            Ok(served) => {
                let status = served.status().as_u16();
                match served.response().error() {
                    Some(error) => {
                        tracing::error!(%method, %path, status, %error, "request failed")
                    }
                    None => tracing::info!(%method, %path, status, "request served"),
                }
            }
            Err(error) => tracing::error!(%method, %path, %error, "request failed"),
        }
        response
    }
}

/// Log lines (to stderr, so the demo's trace trees on stdout stay apart) carrying the trace and
/// span ids of the span they are written in, and `tracing` spans of the libraries bridged into
/// the same traces; `INFO` and above.
fn init_logging() {
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(maestro_trace::tracing::layer())
        .with(maestro_trace::tracing::fmt_layer().with_writer(std::io::stderr))
        .init();
}

/// The service: its routes in the tenant's baggage (outermost), traced, each request logged
/// from inside its server span.
fn app(
    store: web::Data<Store>,
    middleware: TracingMiddleware,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(store)
        .wrap_fn(log_request)
        .wrap(middleware)
        .wrap_fn(tenant_baggage)
        .configure(routes)
}

/// The demo's requests, in order: `(method, path, JSON body)`.
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
    let server = HttpServer::new(move || app(store.clone(), middleware.clone()))
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

/// Waits for the training worker to run the jobs still queued (the server has stopped, so
/// no more come), for at most ten seconds.
async fn finish_training(worker: actix_web::rt::task::JoinHandle<()>) {
    match tokio::time::timeout(Duration::from_secs(10), worker).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the training worker failed"),
        Err(_) => tracing::error!("queued training jobs left unfinished after 10 s"),
    }
}

/// The store the environment names: `DATABASE_URL` (else SQLite in memory) and, when
/// `REDIS_URL` is set, the cache of model lookups; training jobs go to `training`.
async fn connect_store(training: mpsc::Sender<QueuedJob>) -> Result<Store, StartupError> {
    let db = Database::connect(std::env::var("DATABASE_URL").ok().as_deref()).await?;
    let cache = match std::env::var("REDIS_URL") {
        Ok(url) => Some(Cache::connect(&url).await?),
        Err(_) => None,
    };
    Ok(Store {
        db,
        cache,
        training,
        predictions: AtomicU64::new(0),
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let demo = std::env::args().any(|arg| arg == "--demo");
    let config = TracingConfig::from_env()
        .service_name("maestro-ml-api")
        .service_version("1.4.0")
        .resource_attribute("deployment.environment", "development")
        .baggage_span_attributes(["tenant.id"]);
    // The demo prints to the console unless the environment points elsewhere (e.g.
    // OTEL_TRACES_EXPORTER=otlp); the service exports to Jaeger over OTLP by default.
    let config = if demo {
        config.default_exporter(Exporter::Console)
    } else {
        config
    };
    let tracing = maestro_trace::init(config).map_err(std::io::Error::other)?;
    init_logging();
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>().map_err(|error| {
            std::io::Error::other(format!("PORT={port:?} is not a port number: {error}"))
        })?,
        Err(_) => 8000,
    };
    let (training, jobs) = mpsc::channel(TRAINING_QUEUE);
    let worker = actix_web::rt::spawn(training_worker(jobs));
    let store = web::Data::new(
        connect_store(training)
            .await
            .map_err(|error| std::io::Error::other(error.to_string()))?,
    );

    if demo {
        run_demo(store).await?;
        finish_training(worker).await;
        return tracing.shutdown().map_err(std::io::Error::other);
    }
    let middleware = middleware()?;
    println!("maestro-ml-api on http://127.0.0.1:{port}");
    HttpServer::new(move || app(store.clone(), middleware.clone()))
        .bind(("127.0.0.1", port))?
        .run()
        .await?;
    finish_training(worker).await;
    // Stopped (SIGTERM, SIGINT): flush, then log what happened to the spans, so a Jaeger
    // outage shows in the service's own log as counted drops.
    let shutdown = tracing.shutdown();
    eprintln!(
        "maestro-ml-api: trace export: {}",
        maestro_trace::diagnostics()
    );
    shutdown.map_err(std::io::Error::other)
}
