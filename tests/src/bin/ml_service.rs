//! A Rust service for the cross-service test: `maestro-ml-api`'s deploy route calls the model
//! registry (`REGISTRY_URL`) through a traced reqwest request, and `/predictions` is called by the
//! Python registry. Tracing is configured from the environment (OTLP to the test's Jaeger); `PORT`
//! picks the port, `GET /health` (untraced) says it is up.

use actix_web::{web, App, HttpResponse, HttpServer};
use maestro_trace::client::TracedRequest;
use maestro_trace::{traced, TracingConfig, TracingMiddleware};

#[traced("fetch_model_from_registry", attrs(model.id = id))]
async fn fetch_model_from_registry(registry: &str, id: &str) -> Result<u16, reqwest::Error> {
    let response = reqwest::Client::new()
        .get(format!("{registry}/registry/models/{id}"))
        .send_traced()
        .await?;
    Ok(response.status().as_u16())
}

async fn deploy(registry: web::Data<String>, id: web::Path<String>) -> HttpResponse {
    match fetch_model_from_registry(&registry, &id).await {
        Ok(status) => HttpResponse::Ok().json(serde_json::json!({ "registry_status": status })),
        Err(error) => HttpResponse::BadGateway().body(error.to_string()),
    }
}

#[traced("run_inference")]
async fn run_inference() -> f64 {
    0.87
}

async fn predict() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "score": run_inference().await }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let tracing = maestro_trace::init(TracingConfig::from_env()).map_err(std::io::Error::other)?;
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| std::io::Error::other("PORT must be set"))?;
    let registry = web::Data::new(std::env::var("REGISTRY_URL").unwrap_or_default());
    HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .wrap(TracingMiddleware::default().exclude_urls(["health"]))
            .route("/health", web::get().to(HttpResponse::Ok))
            .route("/models/{id}/deploy", web::post().to(deploy))
            .route("/predictions", web::post().to(predict))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await?;
    tracing.shutdown().map_err(std::io::Error::other)
}
