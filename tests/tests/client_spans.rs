//! Outgoing calls with `send_traced()` (awc and reqwest) against a real local HTTP server: the
//! client span's name, kind, parent and attributes, the `traceparent` the server receives, error
//! marking for 4xx/5xx and transport failures, redaction, and the untraced path when tracing is
//! off.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use maestro_trace::client::{TracedRequest, TracedRequestBody};
use maestro_trace::otel::propagation::TextMapCompositePropagator;
use maestro_trace::otel::trace::{SpanKind, Status};
use maestro_trace::propagation::JaegerPropagator;
use maestro_trace::sdk::propagation::TraceContextPropagator;
use maestro_trace::testing::{self, CapturedSpan};
use maestro_trace::{span, traced, TraceFutureExt, TracingMiddleware, CANCELLED_EVENT};

/// Every test in this binary runs under this lock, so the one test that runs with tracing
/// disabled never overlaps a capture (the pipeline is process-wide).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Responds with the value of the request header `{name}` (empty when absent), for any method.
async fn echo_header(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let value = req
        .headers()
        .get(name.as_str())
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    HttpResponse::Ok().body(value)
}

/// Responds with status `{code}`.
async fn status(code: web::Path<u16>) -> HttpResponse {
    match actix_web::http::StatusCode::from_u16(*code) {
        Ok(code) => HttpResponse::build(code).finish(),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

async fn slow() -> HttpResponse {
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    HttpResponse::Ok().finish()
}

/// A plain (untraced) actix-web server on 127.0.0.1, shared by the tests, on its own thread.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(|| {
                    App::new()
                        .route("/headers/{name}", web::route().to(echo_header))
                        .route("/status/{code}", web::get().to(status))
                        .route("/slow", web::get().to(slow))
                })
                .workers(2)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind the test server");
                tx.send(server.addrs()[0]).expect("hand over the address");
                server.run().await.expect("run the test server");
            });
        });
        rx.recv().expect("test server address")
    })
}

fn url(path: &str) -> String {
    format!("http://{}{path}", server())
}

/// A port on 127.0.0.1 that nobody listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The trace id and parent id of a `traceparent` value (`00-{trace}-{parent}-{flags}`), checking
/// the version and the sampled flag.
fn traceparent_ids(value: &str) -> (String, String) {
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "malformed traceparent {value:?}");
    assert_eq!(parts[0], "00", "version of {value:?}");
    assert_eq!(parts[3], "01", "sampled flag of {value:?}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// The server received the client span's own context as the parent of its work.
fn assert_carries(received_traceparent: &str, client: &CapturedSpan) {
    let (trace_id, parent_id) = traceparent_ids(received_traceparent);
    assert_eq!(trace_id, client.trace_id().to_string());
    assert_eq!(
        parent_id,
        client.span_id().to_string(),
        "the server's parent is the client span, not the caller's span"
    );
}

/// The attributes every successful GET to the test server records.
/// `message` is `error`'s own message followed by each of its sources' not already in it, joined
/// with `: `, and says what went wrong: the connection was refused.
fn assert_chain(message: &str, error: &dyn std::error::Error) {
    let mut expected = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        assert!(
            message.contains(&text),
            "{message:?} lacks the source {text:?}"
        );
        if !expected.contains(&text) {
            expected = format!("{expected}: {text}");
        }
        source = cause.source();
    }
    assert_eq!(message, expected);
    assert!(message.to_lowercase().contains("refused"), "{message:?}");
}

fn assert_get_attributes(client: &CapturedSpan, path: &str) {
    assert_eq!(client.kind(), SpanKind::Client);
    assert_eq!(client.status(), Status::Unset);
    assert_eq!(
        client.attr_str("http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        client.attr_str("server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        client.attr_i64("server.port"),
        Some(i64::from(server().port()))
    );
    assert_eq!(client.attr_str("url.full"), Some(url(path)));
    assert_eq!(client.attr_i64("http.response.status_code"), Some(200));
    assert_eq!(
        client.attr_str("network.protocol.version").as_deref(),
        Some("1.1")
    );
    assert_eq!(client.attr("error.type"), None);
    assert!(client.events().is_empty());
}

// ---------------------------------------------------------------------------------------------
// reqwest

#[traced("fetch_model_metadata")]
async fn fetch_model_metadata(client: &reqwest::Client, path: &str) -> reqwest::Result<String> {
    client.get(url(path)).send_traced().await?.text().await
}

#[tokio::test]
async fn reqwest_call_is_a_client_span_under_the_caller_and_the_servers_parent() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let received = fetch_model_metadata(&reqwest::Client::new(), "/headers/traceparent")
        .await
        .expect("request succeeds");

    let caller = capture.span("fetch_model_metadata");
    let client = capture.span("GET");
    assert!(client.is_child_of(&caller), "{}", capture.tree());
    assert_get_attributes(&client, "/headers/traceparent");
    assert_carries(&received, &client);
}

/// The two client spans of a 404 and a 500: both Error described by the code and its reason,
/// `error.type` the code, no exception.
fn assert_error_statuses(capture: &testing::Capture) {
    let spans = capture.spans_named("GET");
    assert_eq!(spans.len(), 2);
    let descriptions = ["HTTP 404 Not Found", "HTTP 500 Internal Server Error"];
    for ((span, code), description) in spans.iter().zip([404_i64, 500]).zip(descriptions) {
        assert!(span.is_error(), "{code} marks the client span");
        assert_eq!(span.status(), Status::error(description));
        assert_eq!(span.attr_i64("http.response.status_code"), Some(code));
        assert_eq!(span.attr_str("error.type"), Some(code.to_string()));
        assert!(span.events().is_empty(), "a status is not an exception");
    }
}

#[tokio::test]
async fn reqwest_4xx_and_5xx_mark_the_span_and_return_the_response() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let client = reqwest::Client::new();
    for code in [404_u16, 500] {
        let response = client
            .get(url(&format!("/status/{code}")))
            .send_traced()
            .await
            .expect("a response, not an error");
        assert_eq!(response.status().as_u16(), code);
    }

    assert_error_statuses(&capture);
}

#[tokio::test]
async fn reqwest_connection_refused_marks_the_span_and_returns_reqwests_error() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let port = closed_port();
    let error = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send_traced()
        .await
        .expect_err("nothing listens on the port");
    assert!(error.is_connect());

    let span = capture.span("GET");
    assert!(span.is_error());
    assert_eq!(span.attr_str("error.type").as_deref(), Some("connect"));
    assert_eq!(span.attr_i64("server.port"), Some(i64::from(port)));
    assert_eq!(span.attr("http.response.status_code"), None);
    let exception = span.event("exception");
    assert_eq!(
        exception.attr_str("exception.type").as_deref(),
        Some("reqwest::error::Error")
    );
    // reqwest's own message names the URL only; the cause is in its sources.
    let message = exception.attr_str("exception.message").expect("a message");
    assert_chain(&message, &error);
    assert_eq!(span.status(), Status::error(message));
}

#[tokio::test]
async fn reqwest_timeout_is_error_type_timeout() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let error = reqwest::Client::new()
        .get(url("/slow"))
        .timeout(Duration::from_millis(100))
        .send_traced()
        .await
        .expect_err("the server is slower than the timeout");
    assert!(error.is_timeout());

    let span = capture.span("GET");
    assert!(span.is_error());
    assert_eq!(span.attr_str("error.type").as_deref(), Some("timeout"));
    assert_eq!(span.event("exception").name(), "exception");
}

#[tokio::test]
async fn reqwest_call_dropped_before_the_response_ends_cancelled() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let call = reqwest::Client::new().get(url("/slow")).send_traced();
    assert!(tokio::time::timeout(Duration::from_millis(100), call)
        .await
        .is_err());

    let span = capture.span("GET");
    assert_eq!(span.event(CANCELLED_EVENT).name(), CANCELLED_EVENT);
    assert_eq!(span.attr("http.response.status_code"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_future_is_send_and_starts_its_span_when_first_polled() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    // Created outside any span; the span starts on the first poll, in the spawned task, under
    // the context `maestro_trace::spawn` carried there.
    let request = reqwest::Client::new()
        .get(url("/headers/traceparent"))
        .send_traced();
    let response = async { maestro_trace::spawn(request).await }
        .in_span(span!("dispatch_inference"))
        .await
        .expect("the task completes")
        .expect("request succeeds");
    let received = response.text().await.expect("body");

    let client = capture.span("GET");
    assert!(
        client.is_child_of(&capture.span("dispatch_inference")),
        "{}",
        capture.tree()
    );
    assert_carries(&received, &client);
}

#[tokio::test]
async fn reqwest_url_full_has_no_credentials_or_signatures() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let addr = server();
    let response = reqwest::Client::new()
        .get(format!(
            "http://alice:s3cret@{addr}/headers/authorization?sig=abc123&model=bert"
        ))
        .send_traced()
        .await
        .expect("request succeeds");
    // reqwest turns the userinfo into basic auth; the server still gets it.
    assert_eq!(
        response.text().await.expect("body"),
        "Basic YWxpY2U6czNjcmV0"
    );

    let span = capture.span("GET");
    let full = span.attr_str("url.full").expect("url.full");
    assert_eq!(
        full,
        format!("http://{addr}/headers/authorization?sig=REDACTED&model=bert")
    );
    assert!(!capture.tree().contains("s3cret") && !capture.tree().contains("abc123"));
}

#[tokio::test]
async fn reqwest_url_full_redacts_secret_query_parameters_whatever_their_case() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let addr = server();
    reqwest::Client::new()
        .get(format!(
            "http://{addr}/headers/x?Token=sk-live-1&ACCESS_TOKEN=a1&X-Amz-Credential=c1&model=bert"
        ))
        .send_traced()
        .await
        .expect("request succeeds");

    let full = capture.span("GET").attr_str("url.full").expect("url.full");
    assert_eq!(
        full,
        format!(
            "http://{addr}/headers/x?Token=REDACTED&ACCESS_TOKEN=REDACTED&X-Amz-Credential=REDACTED&model=bert"
        )
    );
    for secret in ["sk-live-1", "a1", "c1"] {
        assert!(!capture.tree().contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn reqwest_unknown_method_is_named_http_with_the_original_recorded() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let method = reqwest::Method::from_bytes(b"PROPFIND").expect("a valid method token");
    let response = reqwest::Client::new()
        .request(method, url("/headers/traceparent"))
        .send_traced()
        .await
        .expect("request succeeds");
    assert!(response.status().is_success());

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

#[tokio::test]
async fn reqwest_jaeger_propagator_sends_uber_trace_id_for_the_client_span() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    // The propagators `init` installs with `Propagator::Jaeger` configured (the next capture
    // resets them).
    maestro_trace::otel::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(JaegerPropagator::new()),
    ]));
    let received = reqwest::Client::new()
        .get(url("/headers/uber-trace-id"))
        .send_traced()
        .await
        .expect("request succeeds")
        .text()
        .await
        .expect("body");

    let client = capture.span("GET");
    assert_eq!(
        received,
        format!("{}:{}:0:1", client.trace_id(), client.span_id())
    );
}

// ---------------------------------------------------------------------------------------------
// awc

#[traced("call_model_registry")]
async fn call_model_registry(path: &str) -> Result<String, String> {
    let mut response = awc::Client::new()
        .get(url(path))
        .send_traced()
        .await
        .map_err(|e| e.to_string())?;
    let body = response.body().await.map_err(|e| e.to_string())?;
    String::from_utf8(body.to_vec()).map_err(|e| e.to_string())
}

#[actix_web::test]
async fn awc_call_is_a_client_span_under_the_caller_and_the_servers_parent() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let received = call_model_registry("/headers/traceparent")
        .await
        .expect("request succeeds");

    let caller = capture.span("call_model_registry");
    let client = capture.span("GET");
    assert!(client.is_child_of(&caller), "{}", capture.tree());
    assert_get_attributes(&client, "/headers/traceparent");
    assert_carries(&received, &client);
}

#[actix_web::test]
async fn awc_send_body_traced_carries_the_context_too() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let mut response = awc::Client::new()
        .post(url("/headers/traceparent"))
        .content_type("application/json")
        .send_body_traced(r#"{"features":[0.1,0.7]}"#)
        .in_span(span!("submit_prediction"))
        .await
        .expect("request succeeds");
    let body = response.body().await.expect("body");

    let client = capture.span("POST");
    assert!(client.is_child_of(&capture.span("submit_prediction")));
    assert_eq!(
        client.attr_str("http.request.method").as_deref(),
        Some("POST")
    );
    assert_carries(std::str::from_utf8(&body).expect("utf-8"), &client);
}

#[actix_web::test]
async fn awc_4xx_and_5xx_mark_the_span_and_return_the_response() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let client = awc::Client::new();
    for code in [404_u16, 500] {
        let response = client
            .get(url(&format!("/status/{code}")))
            .send_traced()
            .await
            .expect("a response, not an error");
        assert_eq!(response.status().as_u16(), code);
    }

    assert_error_statuses(&capture);
}

#[actix_web::test]
async fn awc_connection_refused_marks_the_span_and_returns_awcs_error() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let port = closed_port();
    let error = awc::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .send_traced()
        .await
        .expect_err("nothing listens on the port");
    assert!(matches!(error, awc::error::SendRequestError::Connect(_)));

    let span = capture.span("GET");
    assert!(span.is_error());
    assert_eq!(span.attr_str("error.type").as_deref(), Some("connect"));
    assert_eq!(span.attr_i64("server.port"), Some(i64::from(port)));
    let exception = span.event("exception");
    assert_eq!(
        exception.attr_str("exception.type").as_deref(),
        Some("awc::client::error::SendRequestError")
    );
    let message = exception.attr_str("exception.message").expect("a message");
    assert_chain(&message, &error);
    assert_eq!(span.status(), Status::error(message));
}

#[actix_web::test]
async fn awc_url_full_redacts_userinfo() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let addr = server();
    let response = awc::Client::new()
        .get(format!("http://alice:s3cret@{addr}/headers/traceparent"))
        .send_traced()
        .await
        .expect("request succeeds");
    assert!(response.status().is_success());

    let span = capture.span("GET");
    assert_eq!(
        span.attr_str("url.full"),
        Some(format!(
            "http://REDACTED:REDACTED@{addr}/headers/traceparent"
        ))
    );
    assert_eq!(
        span.attr_str("server.address").as_deref(),
        Some("127.0.0.1")
    );
}

async fn get_model(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(format!("model-{id}"))
}

/// A server on 127.0.0.1 traced by `middleware`, serving `GET /models/{id}` on the current
/// actix system; stop it with the handle.
fn traced_server(middleware: TracingMiddleware) -> (SocketAddr, ServerHandle) {
    maestro_trace_tests::serve!(move || {
        App::new()
            .wrap(middleware.clone())
            .route("/models/{id}", web::get().to(get_model))
    })
}

/// Waits for the server span `name`: it ends once its body is streamed, on the server's worker
/// thread, a little after the client has its response.
async fn server_span_ended(capture: &testing::Capture, name: &str) {
    for _ in 0..100 {
        if !capture.spans_named(name).is_empty() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_traced_server_continues_the_client_span() {
    let _serial = SERIAL.lock().await;
    let capture = testing::capture();
    let (addr, handle) = traced_server(TracingMiddleware::default());

    let mut response = awc::Client::new()
        .get(format!("http://{addr}/models/bert"))
        .send_traced()
        .in_span(span!("load_remote_model"))
        .await
        .expect("request succeeds");
    assert_eq!(response.body().await.expect("body"), "model-bert");
    server_span_ended(&capture, "GET /models/{id}").await;
    handle.stop(true).await;

    let caller = capture.span("load_remote_model");
    let client = capture.span("GET");
    let served = capture.span("GET /models/{id}");
    assert!(client.is_child_of(&caller), "{}", capture.tree());
    assert!(served.is_child_of(&client), "{}", capture.tree());
    assert_eq!(served.kind(), SpanKind::Server);
}

/// The query of the server span and the `url.full` of the client span of one call, with the
/// extra parameter `session_id` redacted on both sides.
#[actix_web::test]
async fn server_and_client_spans_redact_the_same_query_the_same_way() {
    let _serial = SERIAL.lock().await;
    maestro_trace::client::redact_query_params(["session_id"]);
    let capture = testing::capture();
    let (addr, handle) =
        traced_server(TracingMiddleware::default().redact_query_params(["session_id"]));

    let query = "Token=t1&SESSION_ID=s1&sig=g1&X-Goog-Signature=x1&Password=p1&auth=a1&page=2";
    let mut response = awc::Client::new()
        .get(format!("http://{addr}/models/bert?{query}"))
        .send_traced()
        .await
        .expect("request succeeds");
    assert_eq!(response.body().await.expect("body"), "model-bert");
    server_span_ended(&capture, "GET /models/{id}").await;
    handle.stop(true).await;

    let redacted = "Token=REDACTED&SESSION_ID=REDACTED&sig=REDACTED&X-Goog-Signature=REDACTED\
                    &Password=REDACTED&auth=REDACTED&page=2";
    let served = capture.span("GET /models/{id}");
    assert_eq!(served.attr_str("url.query").as_deref(), Some(redacted));
    let client = capture.span("GET");
    assert_eq!(
        client.attr_str("url.full"),
        Some(format!("http://{addr}/models/bert?{redacted}"))
    );
}

// ---------------------------------------------------------------------------------------------
// Tracing disabled

#[tokio::test]
async fn reqwest_with_tracing_disabled_sends_no_context() {
    // Holding `SERIAL` without a capture: no pipeline is installed in this test binary.
    let _serial = SERIAL.lock().await;
    assert!(
        span!("fetch_model_metadata").context().is_none(),
        "tracing is off"
    );
    let response = async {
        reqwest::Client::new()
            .get(url("/headers/traceparent"))
            .send_traced()
            .await
    }
    .in_span(span!("fetch_model_metadata"))
    .await
    .expect("request succeeds");
    assert!(response.status().is_success());
    assert_eq!(
        response.text().await.expect("body"),
        "",
        "no traceparent sent"
    );

    let error = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/", closed_port()))
        .send_traced()
        .await
        .expect_err("nothing listens on the port");
    assert!(error.is_connect());
}

#[actix_web::test]
async fn awc_with_tracing_disabled_sends_no_context() {
    let _serial = SERIAL.lock().await;
    assert!(
        span!("call_model_registry").context().is_none(),
        "tracing is off"
    );
    let mut response = awc::Client::new()
        .get(url("/headers/traceparent"))
        .send_traced()
        .await
        .expect("request succeeds");
    assert!(response.status().is_success());
    assert_eq!(response.body().await.expect("body"), "");
}
