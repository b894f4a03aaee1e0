//! End to end: an actix-web service whose handler reads PostgreSQL and Redis, traced with
//! `init` into a real Jaeger, read back from Jaeger's query API: the server span, the handler's
//! span, and the database and cache client spans under it, with typed tags.

use actix_web::{test as actix_test, web, App, HttpResponse};
use maestro_trace::redis::TracedConnection;
use maestro_trace::sqlx::TracedPool;
use maestro_trace::{init, traced, Exporter, TracingConfig, TracingMiddleware};
use maestro_trace_tests::jaeger::{self, tag_i64, tag_str, Jaeger};
use maestro_trace_tests::postgres::Postgres;
use maestro_trace_tests::redis::Redis;
use redis::aio::MultiplexedConnection;
use redis::AsyncCommands as _;
use sqlx::Postgres as Pg;

struct Stores {
    db: TracedPool<Pg>,
    cache: TracedConnection<MultiplexedConnection>,
}

#[traced("find_model")]
async fn find_model(
    stores: &Stores,
    id: &str,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let mut cache = stores.cache.clone();
    let key = format!("model:{id}");
    if let Some(name) = cache.get::<_, Option<String>>(&key).await? {
        return Ok(Some(name));
    }
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM models WHERE id = $1")
        .bind(id)
        .fetch_optional(&stores.db)
        .await?;
    if let Some(name) = &name {
        let () = cache.set_ex(&key, name, 60).await?;
    }
    Ok(name)
}

async fn get_model(stores: web::Data<Stores>, id: web::Path<String>) -> HttpResponse {
    match find_model(&stores, &id).await {
        Ok(Some(name)) => HttpResponse::Ok().body(name),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

#[test]
fn a_request_shows_its_statements_and_cache_calls_in_jaeger() {
    let jaeger = Jaeger::start();
    let postgres = Postgres::start();
    let redis_server = Redis::start();
    let service = "databases-e2e";
    let guard = init(
        TracingConfig::default()
            .service_name(service)
            .exporter(Exporter::otlp_grpc(&jaeger.otlp_grpc)),
    )
    .expect("init");
    // `init` owns an I/O runtime of its own: the service runs on another, made here.
    actix_web::rt::System::new().block_on(serve_two_requests(&postgres, &redis_server));
    guard.shutdown().expect("flush to Jaeger");
    check_trace(&jaeger, service, &postgres, &redis_server);
}

/// Runs the service and asks it for the same model twice: a cache miss, then a hit.
async fn serve_two_requests(postgres: &Postgres, redis_server: &Redis) {
    let pool = sqlx::PgPool::connect(&postgres.url())
        .await
        .expect("PostgreSQL");
    sqlx::raw_sql("CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT); INSERT INTO models VALUES ('m-1', 'bert-base')")
        .execute(&pool)
        .await
        .expect("schema");
    let client = redis::Client::open(redis_server.url(0)).expect("redis URL");
    let cache = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let stores = web::Data::new(Stores {
        db: maestro_trace::sqlx::instrument(pool),
        cache: maestro_trace::redis::instrument(cache, client.get_connection_info()),
    });
    let app = actix_test::init_service(
        App::new()
            .wrap(TracingMiddleware::default())
            .app_data(stores)
            .route("/models/{id}", web::get().to(get_model)),
    )
    .await;
    for _ in 0..2 {
        let response = actix_test::call_service(
            &app,
            actix_test::TestRequest::get()
                .uri("/models/m-1")
                .to_request(),
        )
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(actix_test::read_body(response).await, "bert-base");
    }
}

fn check_trace(jaeger: &Jaeger, service: &str, postgres: &Postgres, redis_server: &Redis) {
    // Miss: server, find_model, GET, SELECT (and its acquire_connection), SETEX (6); hit: server,
    // find_model, GET (3).
    let traces = jaeger.wait_for_spans(service, 9);
    assert_eq!(traces.len(), 2, "two requests: {traces:#?}");
    let mut sizes: Vec<usize> = traces.iter().map(|t| jaeger::spans_of(t).len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [3, 6]);
    let miss = traces
        .iter()
        .find(|t| jaeger::spans_of(t).len() == 6)
        .expect("the cache miss");

    let server = jaeger::span_named(miss, "GET /models/{id}");
    let find = jaeger::span_named(miss, "find_model");
    assert_eq!(
        jaeger::parent_of(&find),
        server["spanID"].as_str().map(str::to_owned)
    );
    let select = jaeger::span_named(miss, "SELECT models");
    let lookup = jaeger::span_named(miss, "GET");
    let store = jaeger::span_named(miss, "SETEX");
    for span in [&select, &lookup, &store] {
        assert_eq!(
            jaeger::parent_of(span),
            find["spanID"].as_str().map(str::to_owned)
        );
        assert_eq!(tag_str(span, "span.kind").as_deref(), Some("client"));
        assert_eq!(
            tag_str(span, "server.address").as_deref(),
            Some("127.0.0.1")
        );
    }
    let acquire = jaeger::span_named(miss, "acquire_connection");
    assert_eq!(
        jaeger::parent_of(&acquire),
        select["spanID"].as_str().map(str::to_owned)
    );
    assert_eq!(
        tag_str(&select, "db.system.name").as_deref(),
        Some("postgresql")
    );
    assert_eq!(
        tag_str(&select, "db.query.text").as_deref(),
        Some("SELECT name FROM models WHERE id = $1")
    );
    assert_eq!(
        tag_i64(&select, "server.port"),
        Some(i64::from(postgres.port))
    );
    assert_eq!(tag_i64(&select, "db.response.returned_rows"), Some(1));
    assert_eq!(tag_str(&lookup, "db.system.name").as_deref(), Some("redis"));
    assert_eq!(tag_str(&lookup, "db.query.text").as_deref(), Some("GET ?"));
    assert_eq!(
        tag_str(&store, "db.query.text").as_deref(),
        Some("SETEX ? ? ?")
    );
    assert_eq!(
        tag_i64(&store, "server.port"),
        Some(i64::from(redis_server.port))
    );
}
