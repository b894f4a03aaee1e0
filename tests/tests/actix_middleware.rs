//! `TracingMiddleware` on an in-process actix-web app: span names, every attribute in both
//! semantic-convention modes, status rules, exclusions, the request hook, header capture and
//! redaction, the trace id header, the span's end after the body, and nesting under load.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpRequest, HttpResponse};
use maestro_trace::otel::trace::{SpanKind, Status};
use maestro_trace::otel::{Array, Value};
use maestro_trace::{testing, traced, HttpSemconv, TracingMiddleware};

#[traced("load_model_record", attrs(model.id = id))]
async fn load_model(id: &str) -> Option<String> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    (id != "missing").then(|| format!("model-{id}"))
}

async fn get_model(path: web::Path<String>) -> HttpResponse {
    match load_model(&path).await {
        Some(model) => HttpResponse::Ok().body(model),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn predict() -> Result<HttpResponse, actix_web::Error> {
    Err(actix_web::error::ErrorInternalServerError(
        "Model version v2.0 not found in registry",
    ))
}

async fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable().finish()
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn tenant_echo(req: HttpRequest) -> HttpResponse {
    let _ = req;
    HttpResponse::Ok()
        .insert_header(("x-model-version", "v1.3"))
        .insert_header(("set-cookie", "session=secret"))
        .finish()
}

fn app(
    middleware: TracingMiddleware,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .wrap(middleware)
        .route("/models/{id}", web::get().to(get_model))
        .route("/predictions", web::post().to(predict))
        .route("/unavailable", web::get().to(unavailable))
        .route("/health", web::get().to(health))
        .route("/tenant", web::get().to(tenant_echo))
}

#[actix_web::test]
async fn server_span_name_kind_and_stable_attributes() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    let req = test::TestRequest::get()
        .uri("/models/bert?version=2")
        .insert_header(("user-agent", "maestro-client/1.0"))
        .peer_addr("10.1.2.3:5555".parse().expect("addr"))
        .to_request();
    let res = test::call_service(&service, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await, "model-bert");

    let span = capture.span("GET /models/{id}");
    assert_eq!(span.kind(), SpanKind::Server);
    assert_eq!(span.status(), Status::Unset);
    assert_eq!(span.attr_str("http.request.method").as_deref(), Some("GET"));
    assert_eq!(span.attr_str("http.route").as_deref(), Some("/models/{id}"));
    assert_eq!(span.attr_str("url.path").as_deref(), Some("/models/bert"));
    assert_eq!(span.attr_str("url.query").as_deref(), Some("version=2"));
    assert_eq!(span.attr_str("url.scheme").as_deref(), Some("http"));
    assert_eq!(
        span.attr_str("server.address").as_deref(),
        Some("localhost")
    );
    assert_eq!(span.attr_i64("server.port"), Some(8080));
    assert_eq!(span.attr_str("client.address").as_deref(), Some("10.1.2.3"));
    assert_eq!(
        span.attr_str("user_agent.original").as_deref(),
        Some("maestro-client/1.0")
    );
    assert_eq!(
        span.attr_str("network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(span.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(span.attr("http.method"), None, "no legacy names by default");
    // The handler's #[traced] work, across an await, is a child of the server span.
    assert!(capture.span("load_model_record").is_child_of(&span));
}

#[actix_web::test]
async fn legacy_mode_also_emits_the_pre_stable_attribute_names() {
    let capture = testing::capture();
    let service = test::init_service(app(
        TracingMiddleware::default().semconv(HttpSemconv::StableAndLegacy)
    ))
    .await;
    let req = test::TestRequest::get()
        .uri("/models/bert?version=2")
        .insert_header(("user-agent", "maestro-client/1.0"))
        .peer_addr("10.1.2.3:5555".parse().expect("addr"))
        .to_request();
    let _ = test::read_body(test::call_service(&service, req).await).await;

    let span = capture.span("GET /models/{id}");
    assert_eq!(span.attr_str("http.method").as_deref(), Some("GET"));
    assert_eq!(
        span.attr_str("http.url").as_deref(),
        Some("http://localhost:8080/models/bert?version=2")
    );
    assert_eq!(span.attr_i64("http.status_code"), Some(200));
    assert_eq!(span.attr_str("http.client_ip").as_deref(), Some("10.1.2.3"));
    assert_eq!(
        span.attr_str("http.user_agent").as_deref(),
        Some("maestro-client/1.0")
    );
    assert!(span
        .attr_f64("http.response_time_ms")
        .is_some_and(|ms| ms >= 0.0));
    // The stable names are still there.
    assert_eq!(span.attr_i64("http.response.status_code"), Some(200));
}

#[actix_web::test]
async fn status_rules_5xx_errors_4xx_unset() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    for (method, uri, expected) in [
        (actix_web::http::Method::POST, "/predictions", 500),
        (actix_web::http::Method::GET, "/unavailable", 503),
        (actix_web::http::Method::GET, "/models/missing", 404),
    ] {
        let req = test::TestRequest::default()
            .method(method)
            .uri(uri)
            .to_request();
        let res = test::call_service(&service, req).await;
        assert_eq!(res.status().as_u16(), expected);
        let _ = test::read_body(res).await;
    }

    let predict = capture.span("POST /predictions");
    assert_eq!(
        predict.status(),
        Status::error("Model version v2.0 not found in registry")
    );
    assert_eq!(predict.attr_str("error.type").as_deref(), Some("500"));
    assert_eq!(
        predict
            .event("exception")
            .attr_str("exception.message")
            .as_deref(),
        Some("Model version v2.0 not found in registry")
    );
    let unavailable = capture.span("GET /unavailable");
    assert!(
        unavailable.is_error(),
        "a 5xx response without an error object is an error too"
    );
    assert_eq!(unavailable.attr_str("error.type").as_deref(), Some("503"));
    assert_eq!(
        unavailable.status(),
        Status::error("HTTP 503 Service Unavailable"),
        "described as client spans describe a failed response"
    );
    let missing = capture.span("GET /models/{id}");
    assert_eq!(
        missing.status(),
        Status::Unset,
        "4xx is the client's problem"
    );
    assert_eq!(missing.attr_i64("http.response.status_code"), Some(404));
    assert_eq!(missing.attr("error.type"), None);
}

#[actix_web::test]
async fn unknown_method_is_other_and_the_span_named_http() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    let method = actix_web::http::Method::from_bytes(b"PROPFIND").expect("a valid method token");
    let req = test::TestRequest::default()
        .method(method)
        .uri("/nowhere")
        .to_request();
    let _ = test::read_body(test::call_service(&service, req).await).await;

    let span = capture.span("HTTP");
    assert_eq!(
        span.attr_str("http.request.method").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        span.attr_str("http.request.method_original").as_deref(),
        Some("PROPFIND")
    );
}

#[actix_web::test]
async fn sensitive_query_parameters_never_reach_the_span() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default()
        .semconv(HttpSemconv::StableAndLegacy)
        .redact_query_params(["session_id"])))
    .await;
    let req = test::TestRequest::get()
        .uri("/models/bert?version=2&token=sk-live-123&session_id=abc&API_KEY=k1")
        .to_request();
    let _ = test::read_body(test::call_service(&service, req).await).await;
    let span = capture.span("GET /models/{id}");
    assert_eq!(
        span.attr_str("url.query").as_deref(),
        Some("version=2&token=REDACTED&session_id=REDACTED&API_KEY=REDACTED")
    );
    assert_eq!(
        span.attr_str("http.url").as_deref(),
        Some("http://localhost:8080/models/bert?version=2&token=REDACTED&session_id=REDACTED&API_KEY=REDACTED")
    );
    let everything = format!("{:?}", span.attributes());
    for secret in ["sk-live-123", "abc", "k1"] {
        assert!(
            !everything.contains(&format!("={secret}")),
            "{secret} leaked: {everything}"
        );
    }
}

#[traced("score_before_crash")]
async fn score_before_crash() {
    tokio::task::yield_now().await;
}

async fn crashing_handler() -> HttpResponse {
    score_before_crash().await;
    panic!("tensor shape mismatch in handler");
}

#[actix_web::test]
async fn a_panicking_handler_ends_its_span_with_error_and_later_requests_are_clean() {
    use futures_util::FutureExt as _;

    let capture = testing::capture();
    let service = test::init_service(
        App::new()
            .wrap(TracingMiddleware::default())
            .route("/crash", web::get().to(crashing_handler))
            .route("/models/{id}", web::get().to(get_model)),
    )
    .await;
    let outcome = std::panic::AssertUnwindSafe(test::call_service(
        &service,
        test::TestRequest::get().uri("/crash").to_request(),
    ))
    .catch_unwind()
    .await;
    assert!(
        outcome.is_err(),
        "the panic propagates (the server, not the tracer, handles it)"
    );

    let crashed = capture.span("GET /crash");
    assert_eq!(crashed.attr_str("http.route").as_deref(), Some("/crash"));
    assert!(crashed.is_error());
    assert_eq!(crashed.attr_str("error.type").as_deref(), Some("panic"));
    assert_eq!(
        crashed
            .event("exception")
            .attr_str("exception.message")
            .as_deref(),
        Some("tensor shape mismatch in handler")
    );
    assert!(capture.span("score_before_crash").is_child_of(&crashed));
    assert!(
        crashed
            .events()
            .iter()
            .all(|e| e.name() != maestro_trace::CANCELLED_EVENT),
        "a panic is not a cancellation"
    );

    // The same thread serves interleaved requests afterwards with a clean context.
    let requests = (0..10).map(|i| {
        let req = test::TestRequest::get()
            .uri(&format!("/models/after{i}"))
            .to_request();
        let service = &service;
        async move { test::read_body(test::call_service(service, req).await).await }
    });
    futures_util::future::join_all(requests).await;
    let servers = capture.spans_named("GET /models/{id}");
    assert_eq!(servers.len(), 10);
    assert!(
        servers.iter().all(|s| s.is_root()),
        "nothing inherited the crashed request's span"
    );
    for child in capture.spans_named("load_model_record") {
        let id = child.attr_str("model.id").expect("model.id");
        let parent = servers
            .iter()
            .find(|s| child.is_child_of(s))
            .expect("a server parent");
        assert_eq!(parent.attr_str("url.path"), Some(format!("/models/{id}")));
    }
}

#[actix_web::test]
async fn a_request_dropped_before_its_handler_finished_ends_its_span_marked_cancelled() {
    use futures_util::FutureExt as _;

    let capture = testing::capture();
    let service = test::init_service(App::new().wrap(TracingMiddleware::default()).route(
        "/slow",
        web::get().to(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().finish()
        }),
    ))
    .await;
    // The client disconnects: the server drops the request's future mid-handler.
    let call = test::call_service(&service, test::TestRequest::get().uri("/slow").to_request());
    assert!(
        call.now_or_never().is_none(),
        "still waiting on the handler"
    );
    let span = capture.span("GET /slow");
    assert_eq!(span.attr_str("http.route").as_deref(), Some("/slow"));
    span.event(maestro_trace::CANCELLED_EVENT);
    assert!(!span.is_error(), "a disconnect is not a server error");
}

#[actix_web::test]
async fn unmatched_routes_are_named_by_method_only() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    let req = test::TestRequest::get().uri("/no/such/route").to_request();
    assert_eq!(
        test::call_service(&service, req).await.status(),
        StatusCode::NOT_FOUND
    );
    let span = capture.span("GET");
    assert_eq!(span.attr("http.route"), None);
    assert_eq!(span.attr_str("url.path").as_deref(), Some("/no/such/route"));
}

#[actix_web::test]
async fn excluded_urls_create_no_span() {
    let capture = testing::capture();
    let service = test::init_service(app(
        TracingMiddleware::default().exclude_urls(maestro_trace::actix::PROBE_URLS)
    ))
    .await;
    let res = test::call_service(
        &service,
        test::TestRequest::get().uri("/health").to_request(),
    )
    .await;
    assert_eq!(test::read_body(res).await, "ok");
    let res = test::call_service(
        &service,
        test::TestRequest::get().uri("/models/a").to_request(),
    )
    .await;
    let _ = test::read_body(res).await;
    assert_eq!(capture.names(), ["GET /models/{id}", "load_model_record"]);
}

#[actix_web::test]
async fn excluded_urls_come_from_the_environment_too() {
    let capture = testing::capture();
    let middleware = TracingMiddleware::from_lookup(|name| {
        (name == "OTEL_RUST_ACTIX_EXCLUDED_URLS").then(|| "health, metrics".to_owned())
    })
    .expect("valid");
    let service = test::init_service(app(middleware)).await;
    let _ = test::call_service(
        &service,
        test::TestRequest::get().uri("/health").to_request(),
    )
    .await;
    assert!(capture.spans().is_empty());
}

#[actix_web::test]
async fn request_hook_header_capture_redaction_and_trace_id_header() {
    let capture = testing::capture();
    let middleware = TracingMiddleware::default()
        .request_hook(|request, span| {
            if let Some(tenant) = request
                .headers()
                .get("x-tenant-id")
                .and_then(|v| v.to_str().ok())
            {
                span.set_attribute("tenant.id", tenant);
            }
        })
        .capture_request_headers([
            "x-tenant-id",
            "authorization",
            "x-api-key",
            "x-internal-token",
        ])
        .capture_response_headers(["x-model-version", "set-cookie"])
        .redact_headers(["x-internal-token"])
        .trace_id_response_header("x-trace-id");
    let service = test::init_service(app(middleware)).await;
    let req = test::TestRequest::get()
        .uri("/tenant")
        .insert_header(("x-tenant-id", "tenant-123"))
        .insert_header(("authorization", "Bearer sk-live-secret"))
        .insert_header(("x-api-key", "key-123"))
        .insert_header(("x-internal-token", "internal"))
        .to_request();
    let res = test::call_service(&service, req).await;
    let returned = res
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = test::read_body(res).await;

    let span = capture.span("GET /tenant");
    assert_eq!(span.attr_str("tenant.id").as_deref(), Some("tenant-123"));
    // Captured headers are string arrays (a header may repeat), per the semantic conventions.
    let header = |key: &str| match span.attr(key) {
        Some(Value::Array(Array::String(values))) => values
            .iter()
            .map(|v| v.as_str().to_owned())
            .collect::<Vec<_>>(),
        other => panic!("{key}: {other:?}"),
    };
    assert_eq!(header("http.request.header.x-tenant-id"), ["tenant-123"]);
    for secret in ["authorization", "x-api-key", "x-internal-token"] {
        assert_eq!(
            header(&format!("http.request.header.{secret}")),
            ["REDACTED"],
            "{secret}"
        );
    }
    assert_eq!(header("http.response.header.x-model-version"), ["v1.3"]);
    assert_eq!(header("http.response.header.set-cookie"), ["REDACTED"]);
    assert!(
        !format!("{:?}", span.attributes()).contains("sk-live-secret"),
        "no secret anywhere on the span"
    );
    assert_eq!(
        returned,
        Some(span.trace_id().to_string()),
        "the trace id is returned"
    );
}

#[actix_web::test]
async fn incoming_traceparent_becomes_the_parent() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    let req = test::TestRequest::get()
        .uri("/models/bert")
        .insert_header((
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .to_request();
    let _ = test::read_body(test::call_service(&service, req).await).await;
    let span = capture.span("GET /models/{id}");
    assert_eq!(
        span.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.parent_span_id().to_string(), "00f067aa0ba902b7");
    assert!(span.data().parent_span_is_remote);
}

#[actix_web::test]
async fn the_span_ends_after_the_body_has_been_streamed() {
    let capture = testing::capture();
    let service = test::init_service(App::new().wrap(TracingMiddleware::default()).route(
        "/training/logs",
        web::get().to(|| async {
            let chunks = ["epoch 1\n", "epoch 2\n"]
                .map(|chunk| Ok::<_, actix_web::Error>(web::Bytes::from_static(chunk.as_bytes())));
            HttpResponse::Ok().streaming(futures_util::stream::iter(chunks))
        }),
    ))
    .await;
    let res = test::call_service(
        &service,
        test::TestRequest::get().uri("/training/logs").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        capture.spans_named("GET /training/logs").is_empty(),
        "the handler returned, but the body has not been sent yet"
    );
    let body = test::read_body(res).await;
    assert_eq!(body, "epoch 1\nepoch 2\n");
    capture.span("GET /training/logs");
}

#[actix_web::test]
async fn concurrent_requests_keep_their_children_under_their_own_server_span() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    let requests = (0..50).map(|i| {
        let req = test::TestRequest::get()
            .uri(&format!("/models/m{i}"))
            .to_request();
        let service = &service;
        async move {
            let res = test::call_service(service, req).await;
            test::read_body(res).await
        }
    });
    let bodies = futures_util::future::join_all(requests).await;
    assert_eq!(bodies.len(), 50);

    let servers = capture.spans_named("GET /models/{id}");
    let children = capture.spans_named("load_model_record");
    assert_eq!((servers.len(), children.len()), (50, 50));
    for child in &children {
        let id = child.attr_str("model.id").expect("model.id");
        let parent = servers
            .iter()
            .find(|s| child.is_child_of(s))
            .unwrap_or_else(|| panic!("{id} has no server parent"));
        assert_eq!(
            parent.attr_str("url.path"),
            Some(format!("/models/{id}")),
            "each handler's child sits under its own request's span"
        );
    }
}

/// Untrusted propagation headers: each request must still succeed, and a malformed context
/// must start a new trace (W3C rules) instead of joining an attacker-chosen one.
#[actix_web::test]
async fn hostile_propagation_headers_never_fail_a_request_and_start_new_traces() {
    let capture = testing::capture();
    let service = test::init_service(app(TracingMiddleware::default())).await;
    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let huge = "a".repeat(16 * 1024);
    let too_many_members: String = (0..33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let hostile: Vec<(&str, Vec<(&str, actix_web::http::header::HeaderValue)>)> = vec![
        (
            "oversized traceparent",
            vec![("traceparent", hv(&format!("00-{huge}")))],
        ),
        (
            "uppercase hex",
            vec![(
                "traceparent",
                hv("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"),
            )],
        ),
        (
            "plus sign in the id",
            vec![(
                "traceparent",
                hv("00-+bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"),
            )],
        ),
        (
            "zero trace id",
            vec![(
                "traceparent",
                hv("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            )],
        ),
        (
            "version ff",
            vec![(
                "traceparent",
                hv("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            )],
        ),
        (
            "non-UTF-8 bytes",
            vec![(
                "traceparent",
                actix_web::http::header::HeaderValue::from_bytes(b"00-\xff\xfe-01")
                    .expect("opaque bytes"),
            )],
        ),
        (
            "duplicated traceparent",
            vec![
                ("traceparent", hv(VALID)),
                (
                    "traceparent",
                    hv("00-11111111111111111111111111111111-2222222222222222-01"),
                ),
            ],
        ),
        ("junk uber-trace-id", vec![("uber-trace-id", hv("::::"))]),
        (
            "oversized baggage",
            vec![("baggage", hv(&format!("k={huge}")))],
        ),
    ];
    for (what, headers) in hostile {
        capture.clear();
        let mut req = test::TestRequest::get().uri("/models/bert");
        for (name, value) in headers {
            req = req.append_header((name, value));
        }
        let res = test::call_service(&service, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::OK, "{what}");
        let _ = test::read_body(res).await;
        let span = capture.span("GET /models/{id}");
        assert!(
            span.is_root(),
            "{what}: a new trace, not a parent from the hostile header"
        );
        assert_ne!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "{what}"
        );
    }

    // A valid traceparent with an invalid tracestate: the trace continues, the state is dropped.
    capture.clear();
    let req = test::TestRequest::get()
        .uri("/models/bert")
        .insert_header(("traceparent", VALID))
        .insert_header(("tracestate", too_many_members.as_str()))
        .to_request();
    let _ = test::read_body(test::call_service(&service, req).await).await;
    let span = capture.span("GET /models/{id}");
    assert_eq!(
        span.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(span.data().span_context.trace_state().header(), "");

    // And a valid tracestate is carried on unchanged.
    capture.clear();
    let req = test::TestRequest::get()
        .uri("/models/bert")
        .insert_header(("traceparent", VALID))
        .insert_header(("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"))
        .to_request();
    let _ = test::read_body(test::call_service(&service, req).await).await;
    let span = capture.span("GET /models/{id}");
    assert_eq!(
        span.data().span_context.trace_state().header(),
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
}

fn hv(value: &str) -> actix_web::http::header::HeaderValue {
    actix_web::http::header::HeaderValue::from_str(value).expect("a visible ASCII header value")
}

#[actix_web::test]
async fn a_request_failed_by_an_inner_service_is_still_named_by_its_route() {
    use actix_web::dev::Service as _;

    let capture = testing::capture();
    // An inner middleware fails the request after routing: it never comes back as a response,
    // so the route is looked up from the app's routes.
    let service = test::init_service(
        App::new()
            .wrap_fn(|req, srv| {
                let call = srv.call(req);
                async move {
                    let _ = call.await?;
                    Err::<actix_web::dev::ServiceResponse, _>(actix_web::error::ErrorBadGateway(
                        "upstream refused",
                    ))
                }
            })
            .wrap(TracingMiddleware::default())
            .route("/models/{id}", web::get().to(get_model)),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/models/resnet50")
        .to_request();
    assert!(service.call(req).await.is_err());
    let span = capture.span("GET /models/{id}");
    assert_eq!(span.attr_str("http.route").as_deref(), Some("/models/{id}"));
    assert_eq!(span.attr_i64("http.response.status_code"), Some(502));
    assert!(span.is_error());
}

#[actix_web::test]
async fn a_sampler_that_may_decide_by_name_sees_the_route_in_the_name() {
    use maestro_trace::otel::trace::{Link, SpanKind as Kind, TraceId};
    use maestro_trace::otel::{Context, KeyValue};
    use maestro_trace::sdk::trace::{Sampler, SamplingResult, ShouldSample};
    use std::sync::{Arc, Mutex};

    /// Samples everything and remembers the names it was asked about.
    #[derive(Clone, Debug, Default)]
    struct NameRecorder(Arc<Mutex<Vec<String>>>);

    impl ShouldSample for NameRecorder {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            trace_id: TraceId,
            name: &str,
            kind: &Kind,
            attributes: &[KeyValue],
            links: &[Link],
        ) -> SamplingResult {
            self.0.lock().expect("names").push(name.to_owned());
            Sampler::AlwaysOn.should_sample(parent, trace_id, name, kind, attributes, links)
        }
    }

    let names = NameRecorder::default();
    // A sampler maestro-trace cannot see into (like Jaeger's per-operation remote sampling)
    // may key on the name: the span must start with its full name.
    let capture = testing::capture_with_sampler(Sampler::ParentBased(Box::new(names.clone())));
    let service = test::init_service(app(TracingMiddleware::default())).await;
    let req = test::TestRequest::get()
        .uri("/models/resnet50")
        .to_request();
    assert!(test::call_service(&service, req)
        .await
        .status()
        .is_success());
    assert!(
        names
            .0
            .lock()
            .expect("names")
            .iter()
            .any(|n| n == "GET /models/{id}"),
        "the sampler saw {:?}",
        names.0.lock().expect("names")
    );
    let span = capture.span("GET /models/{id}");
    assert_eq!(span.attr_str("http.route").as_deref(), Some("/models/{id}"));
}
