//! The ML API example (`examples/ml_api.rs`) as its own process on a throwaway PostgreSQL and
//! Redis, exporting over OTLP to a real Jaeger: the traces of `GET /models/{id}` read back from
//! Jaeger hold the server span, `find_model` under it, and under that the cache and database
//! client spans with their attributes: a miss (`GET`, `SELECT models`, `SETEX`) on the first
//! lookup, a hit (`GET` alone) on the second. The request's log line carries its trace id.

use maestro_trace_tests::jaeger::{self, tag_i64, tag_str, Jaeger};
use maestro_trace_tests::ml_api::{send, MlApi};
use maestro_trace_tests::postgres::Postgres;
use maestro_trace_tests::redis::Redis;
use serde_json::Value;

/// The service name the ML API sets in code.
const SERVICE: &str = "maestro-ml-api";

/// The span named `name` of `trace`, checked to be a child of `parent`.
fn child_named(trace: &Value, name: &str, parent: &Value) -> Value {
    let span = jaeger::span_named(trace, name);
    assert_eq!(
        jaeger::parent_of(&span).as_deref(),
        parent["spanID"].as_str(),
        "`{name}` is not a child of `{}`",
        parent["operationName"]
    );
    span
}

fn names(trace: &Value) -> Vec<String> {
    let mut names: Vec<String> = jaeger::spans_of(trace)
        .iter()
        .filter_map(|s| s["operationName"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn model_lookups_show_the_cache_and_database_spans_of_postgres_and_redis_in_jaeger() {
    let jaeger = Jaeger::start();
    let postgres = Postgres::start();
    let redis = Redis::start();
    let api = MlApi::start(&[
        ("DATABASE_URL", postgres.url()),
        ("REDIS_URL", redis.url(0)),
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_grpc.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]);
    let client = reqwest::blocking::Client::new();
    let model = serde_json::json!({
        "id": "bert-base", "name": "sentiment-bert", "type": "classification",
        "version": "v1.3", "framework": "pytorch"
    });
    let (status, saved) = send(
        client
            .post(api.url("/models"))
            .header("content-type", "application/json")
            .body(model.to_string()),
    );
    assert_eq!(status, 201, "POST /models; log:\n{}", api.log());
    let (status, miss) = send(client.get(api.url("/models/bert-base")));
    assert_eq!(status, 200, "first GET; log:\n{}", api.log());
    let (status, hit) = send(client.get(api.url("/models/bert-base")));
    assert_eq!(status, 200, "second GET; log:\n{}", api.log());

    // POST: server, validate_model, save_to_database, INSERT models, acquire_connection, DEL;
    // the miss: server, find_model, GET, SELECT models, acquire_connection, SETEX; the hit:
    // server, find_model, GET.
    jaeger.wait_for_spans(SERVICE, 6 + 6 + 3);
    let trace = |id: &str| {
        jaeger
            .trace(id)
            .unwrap_or_else(|| panic!("trace {id:?} not in Jaeger"))
    };

    let saved = trace(&saved);
    let save = jaeger::span_named(&saved, "save_to_database");
    let insert = child_named(&saved, "INSERT models", &save);
    assert_eq!(
        tag_str(&insert, "db.system.name").as_deref(),
        Some("postgresql")
    );
    let forget = child_named(&saved, "DEL", &save);
    assert_eq!(tag_str(&forget, "db.query.text").as_deref(), Some("DEL ?"));

    let miss_trace = trace(&miss);
    let server = jaeger::span_named(&miss_trace, "GET /models/{id}");
    assert_eq!(jaeger::parent_of(&server), None);
    assert_eq!(tag_str(&server, "span.kind").as_deref(), Some("server"));
    let find = child_named(&miss_trace, "find_model", &server);
    assert_eq!(tag_str(&find, "model.id").as_deref(), Some("bert-base"));

    let lookup = child_named(&miss_trace, "GET", &find);
    let select = child_named(&miss_trace, "SELECT models", &find);
    let store = child_named(&miss_trace, "SETEX", &find);
    let start = |span: &Value| span["startTime"].as_i64().unwrap_or_default();
    assert!(
        start(&lookup) <= start(&select) && start(&select) <= start(&store),
        "the miss reads the cache, then the database, then fills the cache"
    );
    for span in [&lookup, &select, &store] {
        assert_eq!(tag_str(span, "span.kind").as_deref(), Some("client"));
        assert_eq!(
            tag_str(span, "server.address").as_deref(),
            Some("127.0.0.1")
        );
    }

    assert_eq!(
        tag_str(&select, "db.system.name").as_deref(),
        Some("postgresql")
    );
    assert_eq!(
        tag_str(&select, "db.namespace").as_deref(),
        Some("postgres")
    );
    assert_eq!(
        tag_str(&select, "db.operation.name").as_deref(),
        Some("SELECT")
    );
    assert_eq!(
        tag_str(&select, "db.collection.name").as_deref(),
        Some("models")
    );
    assert_eq!(
        tag_str(&select, "db.query.text").as_deref(),
        Some("SELECT id, name, type, version, framework FROM models WHERE id = $1")
    );
    assert_eq!(tag_i64(&select, "db.response.returned_rows"), Some(1));
    assert_eq!(
        tag_i64(&select, "server.port"),
        Some(i64::from(postgres.port))
    );

    assert_eq!(tag_str(&lookup, "db.system.name").as_deref(), Some("redis"));
    assert_eq!(tag_str(&lookup, "db.namespace").as_deref(), Some("0"));
    assert_eq!(
        tag_str(&lookup, "db.operation.name").as_deref(),
        Some("GET")
    );
    assert_eq!(tag_str(&lookup, "db.query.text").as_deref(), Some("GET ?"));
    assert_eq!(tag_i64(&lookup, "server.port"), Some(i64::from(redis.port)));
    assert_eq!(
        tag_str(&store, "db.query.text").as_deref(),
        Some("SETEX ? ? ?")
    );

    let hit_trace = trace(&hit);
    assert_eq!(names(&hit_trace), ["GET", "GET /models/{id}", "find_model"]);
    let server = jaeger::span_named(&hit_trace, "GET /models/{id}");
    let find = child_named(&hit_trace, "find_model", &server);
    child_named(&hit_trace, "GET", &find);

    // The response's x-trace-id leads to the request's log line, written in its server span.
    let log = api.log();
    for trace_id in [&miss, &hit] {
        assert!(
            log.lines().any(|line| line.contains("request served")
                && line.contains("path=/models/bert-base")
                && line.contains(&format!("trace_id={trace_id} span_id="))),
            "no log line of trace {trace_id}:\n{log}"
        );
    }
}
