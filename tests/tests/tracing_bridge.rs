//! `tracing` spans and events through `maestro_trace::tracing::layer()` on a real registry: they
//! land in the same traces as `#[traced]` spans, nested both ways, with typed attributes.

use std::sync::Once;
use std::time::Duration;

use actix_web::{test as actix_test, web, App, HttpResponse};
use maestro_trace::otel::trace::{SpanKind, Status, TraceContextExt as _, Tracer as _};
use maestro_trace::{span, testing, traced, TraceFutureExt as _, TracingMiddleware};
use tracing::Instrument as _;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

/// A registry with the bridge, made the default for the calling thread until the guard drops.
fn bridge() -> tracing::subscriber::DefaultGuard {
    tracing::subscriber::set_default(
        tracing_subscriber::registry().with(maestro_trace::tracing::layer()),
    )
}

#[traced("score_request")]
fn score(rows: &[f64]) -> f64 {
    normalise(rows)
}

#[tracing::instrument(fields(rows = rows.len(), weight = 0.5, strict = true, model = "resnet"))]
fn normalise(rows: &[f64]) -> f64 {
    tracing::info!(shard = 3_i64, "rows normalised");
    clip(rows)
}

#[traced("clip_outliers")]
fn clip(rows: &[f64]) -> f64 {
    rows.iter().sum()
}

#[test]
fn tracing_spans_nest_under_traced_spans_and_traced_spans_under_them() {
    let capture = testing::capture();
    let _subscriber = bridge();
    assert_eq!(score(&[0.5, 0.25]), 0.75);

    let outer = capture.span("score_request");
    let middle = capture.span("normalise");
    let inner = capture.span("clip_outliers");
    assert!(middle.is_child_of(&outer), "{}", capture.tree());
    assert!(inner.is_child_of(&middle), "{}", capture.tree());
    assert_eq!(middle.kind(), SpanKind::Internal);
    // Typed values, not strings.
    assert_eq!(middle.attr_i64("rows"), Some(2));
    assert_eq!(middle.attr_f64("weight"), Some(0.5));
    assert_eq!(middle.attr_bool("strict"), Some(true));
    assert_eq!(middle.attr_str("model").as_deref(), Some("resnet"));
    let event = middle.event("rows normalised");
    assert_eq!(event.attr_str("level").as_deref(), Some("INFO"));
    assert_eq!(event.attr_str("target").as_deref(), Some("tracing_bridge"));
    assert_eq!(
        event.attr("shard"),
        Some(maestro_trace::otel::Value::I64(3))
    );
}

#[test]
fn field_values_keep_maestro_trace_attribute_rules() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let weights = vec![1, 2];
    tracing::info_span!(
        "convert_fields",
        small = 7_u64,
        huge = u64::MAX,
        negative = -4_i64,
        wide = 170_141_183_460_469_231_731_687_303_715_884_105_727_i128,
        debugged = ?weights,
        displayed = %"pytorch",
        error = &std::io::Error::other("disk full") as &(dyn std::error::Error + 'static),
        later = tracing::field::Empty,
    )
    .in_scope(|| {
        tracing::Span::current().record("later", 12.5);
    });

    let span = capture.span("convert_fields");
    assert_eq!(span.attr_i64("small"), Some(7));
    // maestro-trace's rule for a `u64` beyond `i64`: saturated, still an integer.
    assert_eq!(span.attr_i64("huge"), Some(i64::MAX));
    assert_eq!(span.attr_i64("negative"), Some(-4));
    assert_eq!(span.attr_str("wide"), Some(i128::MAX.to_string()));
    assert_eq!(span.attr_str("debugged").as_deref(), Some("[1, 2]"));
    assert_eq!(span.attr_str("displayed").as_deref(), Some("pytorch"));
    assert_eq!(span.attr_str("error").as_deref(), Some("disk full"));
    assert_eq!(span.attr_f64("later"), Some(12.5));
}

#[test]
fn otel_fields_steer_name_kind_and_status_and_are_not_attributes() {
    let capture = testing::capture();
    let _subscriber = bridge();
    tracing::info_span!(
        "query",
        otel.name = "SELECT models",
        otel.kind = "client",
        otel.status_code = "ERROR",
        otel.status_description = "statement timeout",
        db.system.name = "postgresql",
    )
    .in_scope(|| {});
    let renamed = tracing::info_span!(
        "handle",
        otel.name = tracing::field::Empty,
        otel.status_code = tracing::field::Empty
    );
    renamed.record("otel.name", "GET /models/{id}");
    renamed.record("otel.status_code", "ok");
    drop(renamed);

    let query = capture.span("SELECT models");
    assert_eq!(query.kind(), SpanKind::Client);
    assert_eq!(query.status(), Status::error("statement timeout"));
    assert_eq!(
        query.attr_str("db.system.name").as_deref(),
        Some("postgresql")
    );
    assert!(
        query
            .attributes()
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("otel.")),
        "{:?}",
        query.attributes()
    );
    assert_eq!(capture.span("GET /models/{id}").status(), Status::Ok);
}

#[test]
fn events_land_on_the_innermost_span_bridged_or_not() {
    let capture = testing::capture();
    let _subscriber = bridge();
    span!("predict_batch").in_scope(|| {
        tracing::warn!(rows = 2_u64, "batch is small");
        tracing::info_span!("tokenize").in_scope(|| tracing::debug!(tokens = 12_i64));
    });
    // Outside any span: nowhere to go, nothing recorded, no panic.
    tracing::info!("idle");

    let predict = capture.span("predict_batch");
    let small = predict.event("batch is small");
    assert_eq!(small.attr_str("level").as_deref(), Some("WARN"));
    assert_eq!(small.attr("rows"), Some(maestro_trace::otel::Value::I64(2)));
    let tokenize = capture.span("tokenize");
    assert!(tokenize.is_child_of(&predict));
    let events = tokenize.events();
    assert_eq!(events.len(), 1);
    // No message: the event's `tracing` name, which says where it was emitted.
    assert!(
        events[0]
            .name()
            .starts_with("event tests/tests/tracing_bridge.rs:"),
        "{}",
        events[0].name()
    );
    assert_eq!(events[0].attr_str("level").as_deref(), Some("DEBUG"));
    assert_eq!(capture.spans().len(), 2);
}

#[test]
fn error_events_set_error_status_only_when_asked() {
    let capture = testing::capture();
    {
        let _subscriber = bridge();
        tracing::info_span!("load_weights").in_scope(|| tracing::error!("weights missing"));
    }
    {
        let layer = maestro_trace::tracing::layer().with_error_events_as_status(true);
        let _subscriber =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        tracing::info_span!("load_tokenizer").in_scope(|| tracing::error!("vocabulary missing"));
    }
    let weights = capture.span("load_weights");
    assert_eq!(weights.status(), Status::Unset);
    assert_eq!(
        weights
            .event("weights missing")
            .attr_str("level")
            .as_deref(),
        Some("ERROR")
    );
    assert_eq!(
        capture.span("load_tokenizer").status(),
        Status::error("vocabulary missing")
    );
}

#[test]
fn a_span_ends_when_its_last_handle_is_dropped() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let span = tracing::info_span!("stream_predictions");
    let handle = span.clone();
    span.in_scope(|| {});
    drop(span);
    assert!(capture.spans_named("stream_predictions").is_empty());
    drop(handle);
    assert_eq!(capture.spans_named("stream_predictions").len(), 1);
}

#[test]
fn explicit_parents_and_roots_are_honoured() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let request = tracing::info_span!("handle_upload");
    // Created outside the parent's scope, inside an unrelated maestro-trace span.
    span!("housekeeping").in_scope(|| {
        tracing::info_span!(parent: &request, "store_upload").in_scope(|| {});
        tracing::info_span!(parent: None, "audit_upload").in_scope(|| {});
        tracing::info!(parent: &request, "upload received");
    });
    drop(request);

    let request = capture.span("handle_upload");
    assert!(capture.span("store_upload").is_child_of(&request));
    assert!(capture.span("audit_upload").is_root());
    assert_ne!(capture.span("audit_upload").trace_id(), request.trace_id());
    assert!(request.is_root());
    request.event("upload received");
}

#[test]
fn raw_opentelemetry_code_nests_under_a_bridged_span() {
    let capture = testing::capture();
    let _subscriber = bridge();
    tracing::info_span!("call_feature_store").in_scope(|| {
        let tracer = maestro_trace::otel::global::tracer("raw");
        tracer.in_span("grpc_get_features", |cx| {
            assert!(cx.span().span_context().is_valid())
        });
    });
    assert!(capture
        .span("grpc_get_features")
        .is_child_of(&capture.span("call_feature_store")));
}

#[test]
fn follows_from_becomes_a_link() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let producer = tracing::info_span!("enqueue_training_job");
    let consumer = tracing::info_span!(parent: None, "run_training_job");
    consumer.follows_from(&producer);
    drop(consumer);
    drop(producer);
    let consumer = capture.span("run_training_job");
    let links = &consumer.data().links;
    assert_eq!(links.len(), 1);
    assert_eq!(
        links[0].span_context.span_id(),
        capture.span("enqueue_training_job").span_id()
    );
}

#[traced("fetch_features")]
async fn fetch(request: u64) -> u64 {
    tokio::task::yield_now().await;
    lookup(request).await
}

#[tracing::instrument]
async fn lookup(request: u64) -> u64 {
    tokio::task::yield_now().await;
    async { request * 2 }.in_span(span!("read_cache")).await
}

async fn request(id: u64) -> u64 {
    async move {
        tokio::task::yield_now().await;
        let features = fetch(id).await;
        tracing::info!(features, "scored");
        features
    }
    .instrument(tracing::info_span!("handle_request", request.id = id))
    .await
}

#[test]
fn interleaved_requests_on_one_worker_stay_in_their_own_traces() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let results = runtime.block_on(async { tokio::join!(request(1), request(2), request(3)) });
    assert_eq!(results, (2, 4, 6));

    let requests = capture.spans_named("handle_request");
    assert_eq!(requests.len(), 3);
    for handle in &requests {
        assert!(handle.is_root(), "{}", capture.tree());
        let id = handle.attr_i64("request.id").expect("request.id");
        let trace: Vec<_> = capture
            .spans()
            .into_iter()
            .filter(|s| s.trace_id() == handle.trace_id())
            .collect();
        let find = |name: &str| {
            trace
                .iter()
                .find(|s| s.name() == name)
                .unwrap_or_else(|| panic!("no `{name}` in request {id}: {}", capture.tree()))
        };
        let fetch = find("fetch_features");
        let lookup = find("lookup");
        let read = find("read_cache");
        assert!(fetch.is_child_of(handle), "{}", capture.tree());
        assert!(lookup.is_child_of(fetch), "{}", capture.tree());
        assert!(read.is_child_of(lookup), "{}", capture.tree());
        assert_eq!(lookup.attr_i64("request"), Some(id));
        assert_eq!(trace.len(), 4, "{}", capture.tree());
        assert_eq!(
            handle.event("scored").attr("features"),
            Some(maestro_trace::otel::Value::I64(id * 2))
        );
    }
    // After the runtime is done nothing is left current on this thread.
    assert!(!maestro_trace::otel::Context::current()
        .span()
        .span_context()
        .is_valid());
}

#[test]
fn spans_across_threads_with_a_multi_thread_runtime() {
    use tracing::instrument::WithSubscriber as _;
    let capture = testing::capture();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::registry().with(maestro_trace::tracing::layer()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a multi-thread runtime");
    let results = runtime.block_on(async {
        // Each task runs with the test's subscriber (not a process-wide one) on whichever worker
        // polls it.
        let tasks: Vec<_> = (1..=4)
            .map(|id| tokio::spawn(request(id).with_subscriber(dispatch.clone())))
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.expect("request task"));
        }
        out
    });
    assert_eq!(results, [2, 4, 6, 8]);
    drop(runtime);
    let requests = capture.spans_named("handle_request");
    assert_eq!(requests.len(), 4, "{}", capture.tree());
    for handle in requests {
        assert!(handle.is_root());
        let fetch: Vec<_> = capture
            .spans_named("fetch_features")
            .into_iter()
            .filter(|s| s.is_child_of(&handle))
            .collect();
        assert_eq!(fetch.len(), 1, "{}", capture.tree());
    }
}

#[test]
fn a_filtered_out_target_keeps_the_trace_connected() {
    let capture = testing::capture();
    let layer = maestro_trace::tracing::layer().with_filter(
        Targets::new()
            .with_default(tracing::Level::TRACE)
            .with_target("h2", tracing::Level::WARN),
    );
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    tracing::info_span!("proxy_request").in_scope(|| {
        tracing::info_span!(target: "h2", "frame").in_scope(|| {
            tracing::info_span!("decode_payload").in_scope(|| {});
            span!("validate_payload").in_scope(|| {});
        });
    });
    let names = capture.names();
    assert!(!names.iter().any(|n| n == "frame"), "{names:?}");
    let proxy = capture.span("proxy_request");
    assert!(
        capture.span("decode_payload").is_child_of(&proxy),
        "{}",
        capture.tree()
    );
    assert!(
        capture.span("validate_payload").is_child_of(&proxy),
        "{}",
        capture.tree()
    );
}

#[test]
fn an_env_filter_on_the_layer_drops_a_library_and_keeps_the_rest() {
    let capture = testing::capture();
    let layer = maestro_trace::tracing::layer().with_filter(EnvFilter::new("debug,h2=off"));
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    tracing::info_span!("proxy_request").in_scope(|| {
        tracing::debug_span!(target: "h2", "frame").in_scope(|| {
            tracing::info!(target: "h2", "frame decoded");
            tracing::debug_span!("sqlx_query").in_scope(|| {});
        });
        tracing::trace_span!("too_verbose").in_scope(|| {});
    });
    let proxy = capture.span("proxy_request");
    assert!(
        capture.span("sqlx_query").is_child_of(&proxy),
        "{}",
        capture.tree()
    );
    assert_eq!(capture.names(), ["proxy_request", "sqlx_query"]);
    assert!(proxy.events().is_empty(), "h2's event is filtered too");
}

#[test]
fn log_records_through_tracing_log_become_span_events() {
    static LOG_TRACER: Once = Once::new();
    LOG_TRACER.call_once(|| {
        tracing_log::LogTracer::init_with_filter(log::LevelFilter::Trace)
            .expect("the only logger of this test binary");
    });
    let capture = testing::capture();
    let _subscriber = bridge();
    tracing::info_span!("migrate_schema").in_scope(|| {
        log::info!(target: "refinery::migrate", "applying V{} {}", 3, "add_models");
        log::error!("migration failed");
    });
    let span = capture.span("migrate_schema");
    let applied = span.event("applying V3 add_models");
    assert_eq!(applied.attr_str("level").as_deref(), Some("INFO"));
    assert_eq!(
        applied.attr_str("target").as_deref(),
        Some("refinery::migrate")
    );
    assert_eq!(applied.attr_str("log.target"), None);
    let failed = span.event("migration failed");
    assert_eq!(failed.attr_str("level").as_deref(), Some("ERROR"));
    assert_eq!(failed.attr_str("target").as_deref(), Some("tracing_bridge"));
}

#[tracing::instrument(skip_all, fields(model.id = %id))]
async fn load_model(id: String) -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    tracing::info!("model loaded");
    cached(&id).await
}

#[traced("read_model_cache")]
async fn cached(id: &str) -> String {
    format!("model {id}")
}

async fn get_model(path: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(load_model(path.into_inner()).await)
}

#[actix_web::test]
async fn an_actix_handler_using_tracing_spans_is_nested_under_the_server_span() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let service = actix_test::init_service(
        App::new()
            .wrap(TracingMiddleware::default())
            .route("/models/{id}", web::get().to(get_model)),
    )
    .await;
    let request = actix_test::TestRequest::get()
        .uri("/models/bert-base")
        .to_request();
    let body = actix_test::call_and_read_body(&service, request).await;
    assert_eq!(body, "model bert-base");

    let server = capture.span("GET /models/{id}");
    let load = capture.span("load_model");
    assert!(load.is_child_of(&server), "{}", capture.tree());
    assert_eq!(load.attr_str("model.id").as_deref(), Some("bert-base"));
    load.event("model loaded");
    assert!(
        capture.span("read_model_cache").is_child_of(&load),
        "{}",
        capture.tree()
    );
}

#[test]
fn enter_guards_dropped_out_of_order_restore_the_right_context() {
    let capture = testing::capture();
    let _subscriber = bridge();
    let first = tracing::info_span!("read_request");
    let second = tracing::info_span!(parent: None, "write_response");
    let first_entered = first.enter();
    let second_entered = second.enter();
    drop(first_entered);
    // `write_response` is still entered: it stays the current context.
    span!("encode_body").in_scope(|| {});
    drop(second_entered);
    span!("after_both").in_scope(|| {});
    drop((first, second));

    assert!(capture
        .span("encode_body")
        .is_child_of(&capture.span("write_response")));
    assert!(capture.span("after_both").is_root(), "{}", capture.tree());
}

#[test]
fn under_an_unsampled_parent_nothing_is_bridged_and_the_trace_stays_unsampled() {
    use maestro_trace::sdk::trace::Sampler;
    let capture = testing::capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
    let _subscriber = bridge();
    let mut inner_trace = None;
    let outer = span!("health_probe");
    let outer_trace = outer.trace_id();
    outer.in_scope(|| {
        tracing::info_span!("check_database").in_scope(|| {
            let inner = span!("ping_database");
            inner_trace = inner.trace_id();
            assert!(!inner.is_recording());
            inner.in_scope(|| tracing::info!("pong"));
        });
    });
    let outer_trace = outer_trace.expect("an unsampled span still has a trace id");
    assert_eq!(
        inner_trace,
        Some(outer_trace),
        "the unsampled trace carries on through the tracing span"
    );
    // Spans that tests running meanwhile start on threads without a capture (a multi-thread
    // runtime's workers) reach every capture alive: none of this trace may be among them.
    assert!(
        capture.spans().iter().all(|s| s.trace_id() != outer_trace),
        "{:?}",
        capture.names()
    );
    for name in ["health_probe", "check_database", "ping_database"] {
        assert!(
            capture.spans_named(name).is_empty(),
            "{:?}",
            capture.names()
        );
    }
}
