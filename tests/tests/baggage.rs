//! Baggage as a service uses it: `tenant.id` set once at the edge of service A from
//! `x-tenant-id`, sent to service B with `send_traced()`, and copied onto every span of both by
//! `baggage_span_attributes`; incoming `baggage` headers, hostile ones included, against real
//! actix servers. Pipelines from `init` are process-wide, so the tests run one at a time.

use std::net::SocketAddr;

use actix_web::dev::{ServerHandle, Service as _};
use actix_web::{web, App, HttpRequest, HttpResponse};
use maestro_trace::client::TracedRequest as _;
use maestro_trace::sdk::trace::SpanData;
use maestro_trace::{baggage, env_vars, span, traced, InitError, TracingConfig, TracingMiddleware};
use maestro_trace_tests::recording::Recorded;
use maestro_trace_tests::serve;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn init(keys: &[&str]) -> (maestro_trace::TracingGuard, Recorded) {
    let exporter = Recorded::default();
    let guard = maestro_trace::init(
        TracingConfig::default()
            .service_name("baggage-tests")
            .baggage_span_attributes(keys.iter().copied())
            .span_exporter(exporter.clone()),
    )
    .expect("init");
    (guard, exporter)
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// Every recorded span with its `tenant.id` (`None` when it has none), by name.
fn tenants(exporter: &Recorded) -> Vec<(String, Option<String>)> {
    let mut tenants: Vec<_> = exporter
        .spans()
        .iter()
        .map(|s| (s.name.to_string(), attr(s, "tenant.id")))
        .collect();
    tenants.sort();
    tenants
}

#[traced("score_model")]
async fn score_model() -> u32 {
    span!("load_model_weights").in_scope(|| 7)
}

/// Service B: scores under its server span, answers with the baggage it sees.
async fn score() -> HttpResponse {
    let score = score_model().await;
    let tenant = baggage::get("tenant.id").unwrap_or_default();
    HttpResponse::Ok().body(format!("{score} {tenant}"))
}

#[traced("forward_prediction")]
async fn forward_prediction(b: SocketAddr) -> String {
    let mut response = awc::Client::new()
        .get(format!("http://{b}/score"))
        .send_traced()
        .await
        .expect("service B answers");
    let body = response.body().await.expect("body of B");
    String::from_utf8_lossy(&body).into_owned()
}

/// Service A: its handler calls B.
async fn predict(b: web::Data<SocketAddr>) -> HttpResponse {
    HttpResponse::Ok().body(forward_prediction(**b).await)
}

/// Answers with the number of baggage entries, then each `key=value` sorted, one per line.
async fn echo_baggage(_req: HttpRequest) -> HttpResponse {
    let entries = baggage::entries();
    let mut body = format!("{}\n", entries.len());
    for (key, value) in entries {
        body.push_str(&format!("{key}={value}\n"));
    }
    HttpResponse::Ok().body(body)
}

/// Service B: traced, scoring and echoing the baggage it received.
fn service_b() -> (SocketAddr, ServerHandle) {
    serve!(|| {
        App::new()
            .wrap(TracingMiddleware::default())
            .route("/score", web::get().to(score))
            .route("/baggage", web::get().to(echo_baggage))
    })
}

/// Service A: `tenant.id` set as baggage at the edge from `x-tenant-id`, around the tracing
/// middleware so that its server span already carries it.
fn service_a(b: SocketAddr) -> (SocketAddr, ServerHandle) {
    serve!(move || {
        App::new()
            .app_data(web::Data::new(b))
            .wrap(TracingMiddleware::default())
            .wrap_fn(|req, srv| {
                let tenant = req
                    .headers()
                    .get("x-tenant-id")
                    .and_then(|v| v.to_str().ok())
                    .map(|tenant| baggage::context_with(&[("tenant.id", tenant)]));
                match tenant {
                    Some(Ok(cx)) => {
                        let _current = cx.attach();
                        srv.call(req)
                    }
                    // Absent or refused (not a valid baggage key): served without it.
                    _ => srv.call(req),
                }
            })
            .route("/predict", web::get().to(predict))
    })
}

async fn get(url: String, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = awc::Client::new().get(url);
    for &(name, value) in headers {
        request = request.append_header((name, value));
    }
    let mut response = request.send().await.expect("response");
    let body = response.body().limit(1 << 20).await.expect("body");
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_web::test]
async fn tenant_set_at_the_edge_of_a_is_on_every_span_of_a_and_b() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = init(&["tenant.id"]);
    let (b, stop_b) = service_b();
    let (a, stop_a) = service_a(b);

    let (status, body) = get(
        format!("http://{a}/predict"),
        &[("x-tenant-id", "tenant-123")],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "7 tenant-123"));
    stop_a.stop(true).await;
    stop_b.stop(true).await;
    guard.shutdown().expect("flush");

    let tenant = Some("tenant-123".to_owned());
    let expected: Vec<(String, Option<String>)> = [
        "GET",                // A's client span to B
        "GET /predict",       // A's server span
        "GET /score",         // B's server span
        "forward_prediction", // `#[traced]` in A
        "load_model_weights", // `span!` in B
        "score_model",        // `#[traced]` in B
    ]
    .iter()
    .map(|name| (name.to_string(), tenant.clone()))
    .collect();
    assert_eq!(tenants(&exporter), expected);
    let spans = exporter.spans();
    assert!(
        spans
            .windows(2)
            .all(|w| w[0].span_context.trace_id() == w[1].span_context.trace_id()),
        "one trace across both services"
    );
}

#[actix_web::test]
async fn an_incoming_baggage_header_reaches_the_server_span_and_its_children() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = init(&["tenant.id", "user.tier"]);
    let (b, stop_b) = service_b();

    let (status, body) = get(
        format!("http://{b}/score"),
        &[
            ("traceparent", TRACEPARENT),
            ("baggage", "tenant.id=tenant-123,region=eu-west-1"),
        ],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "7 tenant-123"));
    stop_b.stop(true).await;
    guard.shutdown().expect("flush");

    let spans = exporter.spans();
    assert_eq!(spans.len(), 3, "{:?}", tenants(&exporter));
    for span in &spans {
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(attr(span, "tenant.id").as_deref(), Some("tenant-123"));
        // Only the configured keys are copied; an absent configured key adds nothing.
        assert_eq!(attr(span, "region"), None);
        assert_eq!(attr(span, "user.tier"), None);
    }
}

#[traced("validate_model")]
fn validate_model() -> bool {
    span!("check_schema").in_scope(|| true)
}

#[traced("train_model_job")]
async fn train_model_job() {
    tokio::task::yield_now().await;
    maestro_trace::spawn(async { span!("upload_checkpoint").in_scope(|| ()) })
        .await
        .expect("task");
}

#[actix_web::test]
async fn spans_of_macros_and_spawned_tasks_in_a_baggage_scope_carry_it() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = init(&["tenant.id"]);
    let entries = [("tenant.id", "tenant-123")];
    assert!(baggage::with(&entries, validate_model).expect("valid baggage"));
    baggage::with_future(&entries, async { train_model_job().await })
        .expect("valid baggage")
        .await;
    // Outside any scope: nothing to copy.
    span!("cleanup_cache").in_scope(|| ());
    guard.shutdown().expect("flush");

    let tenant = Some("tenant-123".to_owned());
    assert_eq!(
        tenants(&exporter),
        [
            ("check_schema".to_owned(), tenant.clone()),
            ("cleanup_cache".to_owned(), None),
            ("train_model_job".to_owned(), tenant.clone()),
            ("upload_checkpoint".to_owned(), tenant.clone()),
            ("validate_model".to_owned(), tenant),
        ]
    );
}

#[traced("run_training_job", kind = consumer, root)]
fn run_training_job() {
    span!("train_epoch").in_scope(|| ());
}

#[actix_web::test]
async fn a_root_span_starts_a_new_trace_and_keeps_the_baggage() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = init(&["tenant.id"]);
    baggage::with(&[("tenant.id", "tenant-123")], || {
        span!("submit_training_job").in_scope(run_training_job);
    })
    .expect("valid baggage");
    guard.shutdown().expect("flush");

    let tenant = Some("tenant-123".to_owned());
    assert_eq!(
        tenants(&exporter),
        [
            ("run_training_job".to_owned(), tenant.clone()),
            ("submit_training_job".to_owned(), tenant.clone()),
            ("train_epoch".to_owned(), tenant),
        ]
    );
    let spans = exporter.spans();
    let named = |name: &str| spans.iter().find(|s| s.name == name).expect(name);
    let (submit, run) = (named("submit_training_job"), named("run_training_job"));
    assert_ne!(run.span_context.trace_id(), submit.span_context.trace_id());
    assert_eq!(
        run.parent_span_id,
        maestro_trace::otel::trace::SpanId::INVALID
    );
    assert_eq!(
        named("train_epoch").parent_span_id,
        run.span_context.span_id()
    );
}

#[actix_web::test]
async fn without_configured_keys_baggage_stays_off_the_spans() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = init(&[]);
    baggage::with(&[("tenant.id", "tenant-123")], validate_model).expect("valid baggage");
    guard.shutdown().expect("flush");
    assert_eq!(
        tenants(&exporter),
        [
            ("check_schema".to_owned(), None),
            ("validate_model".to_owned(), None)
        ]
    );
}

#[actix_web::test]
async fn hostile_baggage_headers_are_served_and_trimmed_to_the_w3c_limits() {
    let _serial = SERIAL.lock().await;
    let (guard, exporter) = init(&["tenant.id"]);
    let (b, stop_b) = service_b();
    let url = format!("http://{b}/baggage");

    // Over 8192 bytes: the member that does not fit and those after it are dropped.
    let oversized = format!("tenant.id=tenant-123,pad={},after=1", "x".repeat(9000));
    let (status, body) = get(url.clone(), &[("baggage", oversized.as_str())]).await;
    assert_eq!((status, body.as_str()), (200, "1\ntenant.id=tenant-123\n"));

    // 200 entries: those past the limit are dropped.
    let many: Vec<String> = (0..200).map(|i| format!("k{i:03}=v")).collect();
    let (status, body) = get(url.clone(), &[("baggage", many.join(",").as_str())]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body.lines().next(),
        Some(baggage::MAX_BAGGAGE_ENTRIES.to_string().as_str())
    );
    assert!(
        body.contains("k000=v\n") && !body.contains("k199=v"),
        "{body}"
    );

    // Invalid members are dropped, the valid ones kept.
    let (status, body) = get(
        url.clone(),
        &[(
            "baggage",
            "bad key=1,novalue,=empty,tenant.id=tenant-123,v=%C3,a(b)=2,q=\"x\"",
        )],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "1\ntenant.id=tenant-123\n"));

    // Several `baggage` headers form one list.
    let (status, body) = get(
        url.clone(),
        &[
            ("baggage", "region=eu"),
            ("baggage", "tenant.id=tenant-456"),
        ],
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "2\nregion=eu\ntenant.id=tenant-456\n")
    );

    // Bytes that are not UTF-8 once decoded, separators only, and nothing.
    for hostile in ["k=%FF%FE", ",,,;;;===", "", " ; ", "k=v;prop=%ZZ"] {
        let (status, _) = get(url.clone(), &[("baggage", hostile)]).await;
        assert_eq!(status, 200, "baggage: {hostile:?}");
    }
    stop_b.stop(true).await;
    guard.shutdown().expect("flush");

    let spans = exporter.spans();
    assert_eq!(spans.len(), 9, "one server span per request");
    let with_tenant = spans
        .iter()
        .filter(|s| attr(s, "tenant.id").is_some())
        .count();
    assert_eq!(with_tenant, 3, "the three requests with a valid tenant.id");
}

#[test]
fn the_environment_names_the_keys_and_an_invalid_key_is_an_init_error() {
    let lookup = |value: &'static str| {
        move |name: &str| {
            (name == env_vars::OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES).then(|| value.to_owned())
        }
    };
    let config = TracingConfig::from_lookup(lookup("tenant.id, user.tier,"));
    assert_eq!(
        config.effective_baggage_span_attributes(),
        Ok(vec!["tenant.id".to_owned(), "user.tier".to_owned()])
    );

    let Err(InitError::InvalidEnv {
        var,
        value,
        expected,
    }) = maestro_trace::init(TracingConfig::from_lookup(lookup("tenant.id,user tier")))
    else {
        panic!("an invalid baggage key is an init error");
    };
    assert_eq!(var, "OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES");
    assert_eq!(value, "tenant.id,user tier");
    assert!(expected.contains("`user tier` is not one"), "{expected}");

    let Err(InitError::InvalidConfig { setting, value, .. }) =
        maestro_trace::init(TracingConfig::default().baggage_span_attributes(["tenant=id"]))
    else {
        panic!("an invalid baggage key set in code is an init error");
    };
    assert_eq!(
        (setting, value.as_str()),
        ("baggage_span_attributes", "tenant=id")
    );
}
