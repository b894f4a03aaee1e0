//! Export to a real Jaeger v2 through each transport, then read the traces back from its query
//! API. `init` is process-wide, so the tests here run one at a time (`SERIAL`).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use serde_json::json;

use std::time::Duration;

use maestro_trace::{
    event, init, record_errors, span, traced, Exporter, JaegerRemoteSampling, Sampling,
    TracingConfig,
};
use maestro_trace_tests::jaeger::{self, Jaeger};

static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug)]
struct RegistryError;

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Model version v2.0 not found in registry")
    }
}

#[traced("fetch_model_from_registry", kind = client, attrs(model.version = version))]
#[record_errors]
fn fetch_model(version: &str) -> Result<Vec<u8>, RegistryError> {
    let _ = version;
    Err(RegistryError)
}

#[traced("handle_create_model", kind = server, attrs(tenant.id = tenant))]
fn handle_create_model(tenant: &str) -> bool {
    span!(
        "validate_model",
        model_type = "pytorch",
        model.layers = 12,
        model.size_mb = 418.5,
        model.quantized = true,
        model.tags = vec!["nlp", "bert"]
    )
    .in_scope(|| event!("job_queued", queue = "training", position = 2));
    fetch_model("v2.0").is_err()
}

/// Exports the ML API-shaped trace (a server span, a child, an error) through `exporter` as `service`, returning what Jaeger stored.
fn export_through(jaeger: &Jaeger, exporter: Exporter, service: &str) -> serde_json::Value {
    let guard = init(
        TracingConfig::default()
            .service_name(service)
            .service_version("1.4.0")
            .resource_attribute("deployment.environment", "staging")
            .resource_attribute("cloud.region", "eu-west-1")
            .exporter(exporter),
    )
    .expect("init");
    assert!(handle_create_model("tenant-123"));
    guard.shutdown().expect("flush to Jaeger");
    let traces = jaeger.wait_for_spans(service, 3);
    assert_eq!(traces.len(), 1, "one trace: {traces:#?}");
    traces[0].clone()
}

/// What a user sees of one span in Jaeger, independent of ids and timings: name, parent's
/// name, tags with their Jaeger types, logs, and the process (service name and tags).
#[derive(Debug, PartialEq)]
struct SpanView {
    name: String,
    parent: Option<String>,
    tags: BTreeMap<String, (String, serde_json::Value)>,
    logs: Vec<BTreeMap<String, serde_json::Value>>,
    process_tags: BTreeMap<String, serde_json::Value>,
}

fn view(trace: &serde_json::Value) -> BTreeMap<String, SpanView> {
    let spans = jaeger::spans_of(trace);
    let name_of = |id: &str| {
        spans
            .iter()
            .find(|s| s["spanID"] == id)
            .and_then(|s| s["operationName"].as_str())
            .map(str::to_owned)
    };
    spans
        .iter()
        .map(|span| {
            let name = span["operationName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let tags = span["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    let key = t["key"].as_str().unwrap_or_default().to_owned();
                    let kind = t["type"].as_str().unwrap_or_default().to_owned();
                    (key, (kind, t["value"].clone()))
                })
                .collect();
            let logs = span["logs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|log| {
                    log["fields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|f| {
                            (
                                f["key"].as_str().unwrap_or_default().to_owned(),
                                f["value"].clone(),
                            )
                        })
                        .collect()
                })
                .collect();
            let process = jaeger::process_of(trace, span);
            let process_tags = process["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| {
                    (
                        t["key"].as_str().unwrap_or_default().to_owned(),
                        t["value"].clone(),
                    )
                })
                .collect();
            let view = SpanView {
                name: name.clone(),
                parent: jaeger::parent_of(span).and_then(|id| name_of(&id)),
                tags,
                logs,
                process_tags,
            };
            (name, view)
        })
        .collect()
}

fn typed(kind: &str, value: serde_json::Value) -> Option<(String, serde_json::Value)> {
    Some((kind.to_owned(), value))
}

/// Everything item 2 of the export issue lists, as Jaeger shows it.
fn assert_ml_api_trace(trace: &serde_json::Value, service: &str) {
    let spans = view(trace);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let handle = &spans["handle_create_model"];
    let validate = &spans["validate_model"];
    let fetch = &spans["fetch_model_from_registry"];

    // Names and parent links.
    assert_eq!(handle.parent, None);
    assert_eq!(validate.parent.as_deref(), Some("handle_create_model"));
    assert_eq!(fetch.parent.as_deref(), Some("handle_create_model"));
    // Kinds.
    assert_eq!(
        handle.tags.get("span.kind").cloned(),
        typed("string", json!("server"))
    );
    assert_eq!(
        fetch.tags.get("span.kind").cloned(),
        typed("string", json!("client"))
    );
    // Typed attributes.
    assert_eq!(
        handle.tags.get("tenant.id").cloned(),
        typed("string", json!("tenant-123"))
    );
    assert_eq!(
        validate.tags.get("model_type").cloned(),
        typed("string", json!("pytorch"))
    );
    assert_eq!(
        validate.tags.get("model.layers").cloned(),
        typed("int64", json!(12))
    );
    assert_eq!(
        validate.tags.get("model.size_mb").cloned(),
        typed("float64", json!(418.5))
    );
    assert_eq!(
        validate.tags.get("model.quantized").cloned(),
        typed("bool", json!(true))
    );
    assert_eq!(
        validate.tags.get("model.tags").cloned(),
        typed("string", json!("[\"nlp\",\"bert\"]"))
    );
    // Events as logs.
    assert_eq!(validate.logs.len(), 1);
    assert_eq!(validate.logs[0].get("event"), Some(&json!("job_queued")));
    assert_eq!(validate.logs[0].get("queue"), Some(&json!("training")));
    assert_eq!(validate.logs[0].get("position"), Some(&json!(2)));
    // Status and the error flag.
    assert_eq!(fetch.tags.get("error").cloned(), typed("bool", json!(true)));
    assert_eq!(
        fetch.tags.get("otel.status_code").cloned(),
        typed("string", json!("ERROR"))
    );
    assert_eq!(
        fetch.tags.get("otel.status_description").cloned(),
        typed("string", json!("Model version v2.0 not found in registry"))
    );
    assert!(
        !handle.tags.contains_key("error"),
        "only the failing span is marked"
    );
    assert_eq!(fetch.logs[0].get("event"), Some(&json!("exception")));
    assert_eq!(
        fetch.logs[0].get("exception.message"),
        Some(&json!("Model version v2.0 not found in registry"))
    );
    // Resource as process tags.
    let process = &trace["processes"][jaeger::span_named(trace, "handle_create_model")
        ["processID"]
        .as_str()
        .unwrap_or_default()];
    assert_eq!(process["serviceName"], service);
    assert_eq!(
        handle.process_tags.get("deployment.environment"),
        Some(&json!("staging"))
    );
    assert_eq!(
        handle.process_tags.get("cloud.region"),
        Some(&json!("eu-west-1"))
    );
    assert_eq!(
        handle.process_tags.get("service.version"),
        Some(&json!("1.4.0"))
    );
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn otlp_grpc_delivers_names_kinds_parents_typed_tags_logs_errors_and_process_tags() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let trace = export_through(
        &jaeger,
        Exporter::otlp_grpc(&jaeger.otlp_grpc),
        "maestro-grpc",
    );
    assert_ml_api_trace(&trace, "maestro-grpc");
}

#[test]
fn otlp_http_delivers_the_same() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let trace = export_through(
        &jaeger,
        Exporter::otlp_http(&jaeger.otlp_http),
        "maestro-http",
    );
    assert_ml_api_trace(&trace, "maestro-http");
}

#[test]
fn jaeger_agent_udp_delivers_the_same() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let agent = Exporter::JaegerAgent {
        host: jaeger.agent_udp.ip().to_string(),
        port: jaeger.agent_udp.port(),
    };
    let trace = export_through(&jaeger, agent, "maestro-udp");
    assert_ml_api_trace(&trace, "maestro-udp");
}

#[test]
fn jaeger_collector_http_delivers_the_same() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let collector = Exporter::JaegerCollector {
        endpoint: jaeger.collector_http.clone(),
    };
    let trace = export_through(&jaeger, collector, "maestro-thrift-http");
    assert_ml_api_trace(&trace, "maestro-thrift-http");
}

#[test]
fn every_transport_shows_the_same_trace_in_jaeger() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let transports = [
        ("same-grpc", Exporter::otlp_grpc(&jaeger.otlp_grpc)),
        ("same-http", Exporter::otlp_http(&jaeger.otlp_http)),
        (
            "same-udp",
            Exporter::JaegerAgent {
                host: jaeger.agent_udp.ip().to_string(),
                port: jaeger.agent_udp.port(),
            },
        ),
        (
            "same-thrift-http",
            Exporter::JaegerCollector {
                endpoint: jaeger.collector_http.clone(),
            },
        ),
    ];
    let mut views = transports
        .into_iter()
        .map(|(service, exporter)| (service, view(&export_through(&jaeger, exporter, service))));
    let (first, reference) = views.next().expect("four transports");
    for (service, other) in views {
        assert_eq!(other, reference, "{service} differs from {first}");
    }
}

#[test]
fn the_jaeger_agent_variables_select_jaegers_transports() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    // Deployments made for the retired Jaeger agent set only JAEGER_AGENT_HOST / JAEGER_AGENT_PORT (port 14268 picks
    // the collector's HTTP endpoint; that mapping is checked in `runtime.rs`, as this Jaeger's
    // collector listens on a free port instead).
    let udp_port = jaeger.agent_udp.port().to_string();
    let collector = jaeger.collector_http.clone();
    let environments: [(&str, Vec<(&str, String)>); 2] = [
        (
            "env-agent-udp",
            vec![
                ("JAEGER_AGENT_HOST", "127.0.0.1".to_owned()),
                ("JAEGER_AGENT_PORT", udp_port),
            ],
        ),
        (
            "env-collector-http",
            vec![("OTEL_EXPORTER_JAEGER_ENDPOINT", collector)],
        ),
    ];
    for (service, vars) in environments {
        let config = TracingConfig::from_lookup(|name| match name {
            "OTEL_SERVICE_NAME" => Some(service.to_owned()),
            "OTEL_RESOURCE_ATTRIBUTES" => Some(
                "deployment.environment=staging,cloud.region=eu-west-1,service.version=1.4.0"
                    .to_owned(),
            ),
            _ => vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone()),
        });
        let guard = init(config).expect("init from the agent variables");
        handle_create_model("tenant-123");
        guard.shutdown().expect("flush");
        assert_ml_api_trace(&jaeger.wait_for_spans(service, 3)[0], service);
    }
}

#[test]
fn tag_searches_find_the_trace() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let trace = export_through(
        &jaeger,
        Exporter::otlp_grpc(&jaeger.otlp_grpc),
        "maestro-search",
    );
    let id = trace["traceID"].as_str().unwrap_or_default().to_owned();
    // A tenant search, and a tag of a child span (Jaeger matches all the tags of a
    // query within one span).
    for tags in [
        &[("tenant.id", "tenant-123")][..],
        &[("model_type", "pytorch")][..],
    ] {
        let found = jaeger.find_traces("maestro-search", tags);
        assert_eq!(found.len(), 1, "search {tags:?}");
        assert_eq!(found[0]["traceID"], id.as_str());
    }
    assert!(jaeger
        .find_traces("maestro-search", &[("tenant.id", "tenant-999")])
        .is_empty());
    // `error=true` is not asserted: Jaeger v2.13's HTTP API passes query tags as strings and its
    // memory store then reads `error` with `.Bool()`, so that search matches no span whatever
    // the client sends (internal/storage/v2/memory/tenant.go, validSpan). The error itself is
    // asserted on the span (`error` tag, status) in `assert_ml_api_trace`.
    assert!(jaeger.trace(&id).is_some(), "GET /api/traces/{{id}}");
}

#[test]
fn environment_variables_select_and_configure_the_otlp_exporter() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let endpoint = jaeger.otlp_http.clone();
    let config = TracingConfig::from_lookup(move |name| match name {
        "OTEL_SERVICE_NAME" => Some("maestro-from-env".to_owned()),
        "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_owned()),
        "OTEL_EXPORTER_OTLP_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_RESOURCE_ATTRIBUTES" => {
            Some("deployment.environment=prod,cloud.region=eu%2Dwest%2D1".to_owned())
        }
        _ => None,
    });
    let guard = init(config).expect("init from the environment");
    handle_create_model("tenant-123");
    guard.shutdown().expect("flush");
    let traces = jaeger.wait_for_spans("maestro-from-env", 3);
    let handle = jaeger::span_named(&traces[0], "handle_create_model");
    let process = jaeger::process_of(&traces[0], &handle);
    assert_eq!(
        jaeger::tag(&process, "deployment.environment").map(|t| t.1),
        Some(json!("prod"))
    );
    assert_eq!(
        jaeger::tag(&process, "cloud.region").map(|t| t.1),
        Some(json!("eu-west-1"))
    );
}

/// Runs `emit_and_exit 1000` with `vars`, then counts its spans in Jaeger. The batch delay is a
/// minute, so only the guard's flush at exit can have delivered them.
fn child_exits_and_loses_nothing(jaeger: &Jaeger, service: &str, vars: &[(&str, String)]) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_emit_and_exit"))
        .arg("1000")
        .env_clear()
        .env("OTEL_SERVICE_NAME", service)
        .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("run emit_and_exit");
    assert!(
        output.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let traces = jaeger.wait_for_spans(service, 1000);
    let spans: usize = traces.iter().map(|t| jaeger::spans_of(t).len()).sum();
    assert_eq!(
        spans, 1000,
        "every span ended before exit reached Jaeger, none twice"
    );
}

#[test]
fn a_program_that_exits_right_after_its_spans_loses_none() {
    let jaeger = Jaeger::start();
    child_exits_and_loses_nothing(
        &jaeger,
        "exit-grpc",
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_grpc.clone())],
    );
    child_exits_and_loses_nothing(
        &jaeger,
        "exit-http",
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_http.clone()),
        ],
    );
    child_exits_and_loses_nothing(
        &jaeger,
        "exit-udp",
        &[
            ("OTEL_TRACES_EXPORTER", "jaeger".to_owned()),
            ("OTEL_EXPORTER_JAEGER_AGENT_HOST", "127.0.0.1".to_owned()),
            (
                "OTEL_EXPORTER_JAEGER_AGENT_PORT",
                jaeger.agent_udp.port().to_string(),
            ),
        ],
    );
    child_exits_and_loses_nothing(
        &jaeger,
        "exit-thrift-http",
        &[
            ("OTEL_TRACES_EXPORTER", "jaeger".to_owned()),
            (
                "OTEL_EXPORTER_JAEGER_ENDPOINT",
                jaeger.collector_http.clone(),
            ),
        ],
    );
}

/// Whether a span started now would be sampled.
fn sampled_now() -> bool {
    span!("probe_sampling_decision").is_recording()
}

#[test]
fn jaeger_remote_sampling_applies_the_strategy_polled_from_jaeger() {
    let _serial = serial();
    let jaeger = Jaeger::start();
    let guard = init(
        TracingConfig::default()
            .service_name("remote-never")
            .sampler(Sampling::JaegerRemote(JaegerRemoteSampling {
                endpoint: jaeger.sampling.clone(),
                poll_interval: Duration::from_millis(100),
                initial: Box::new(Sampling::AlwaysOn),
            }))
            .no_exporter(),
    )
    .expect("init");
    assert!(
        sampled_now(),
        "the initial sampler applies until the first strategy arrives"
    );
    // Jaeger's strategy for this service samples nothing: once polled, spans stop recording.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sampled_now() {
        assert!(
            std::time::Instant::now() < deadline,
            "the remote strategy (probability 0) never applied"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!((0..100).all(|_| !sampled_now()));
    guard.shutdown().expect("shutdown");

    // Another service gets Jaeger's default strategy (probability 1): still sampled after polls.
    let guard = init(
        TracingConfig::default()
            .service_name("remote-everything")
            .sampler(Sampling::JaegerRemote(JaegerRemoteSampling {
                endpoint: jaeger.sampling.clone(),
                poll_interval: Duration::from_millis(100),
                initial: Box::new(Sampling::AlwaysOff),
            }))
            .no_exporter(),
    )
    .expect("init");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !sampled_now() {
        assert!(
            std::time::Instant::now() < deadline,
            "the remote strategy (probability 1) never applied"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    guard.shutdown().expect("shutdown");
}

/// `init` refuses a bad collector URL for the reason the collector exporter gives, not by a
/// check of its own that could disagree.
#[test]
fn init_refuses_a_bad_collector_url_for_the_exporters_own_reason() {
    use maestro_trace::export::jaeger::{JaegerCollectorExporter, JaegerExportError};

    let _serial = serial();
    for endpoint in [
        "jaeger:14268",
        "ftp://jaeger/api/traces",
        "http://:14268/api/traces",
    ] {
        let reason = match JaegerCollectorExporter::new(endpoint) {
            Err(JaegerExportError::InvalidCollectorUrl { reason, .. }) => reason,
            other => panic!("{endpoint}: {other:?}"),
        };
        let error = init(
            TracingConfig::default().exporter(Exporter::JaegerCollector {
                endpoint: endpoint.into(),
            }),
        )
        .expect_err("an invalid collector url fails init");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("invalid Jaeger collector endpoint {endpoint}: "))
                && message.contains(&reason)
                && message.contains("`http://jaeger:14268/api/traces`"),
            "{message}"
        );
    }
}
