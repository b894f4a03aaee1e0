//! A multi-service ML platform in one trace, read back from a real Jaeger:
//! api-gateway (this test, Rust) → maestro-ml-api (Rust, a child process) → model-registry
//! (Python FastAPI with the official OpenTelemetry instrumentation), and the other way round:
//! api-gateway → model-registry (Python) → maestro-ml-api (Rust).
//!
//! The Python interpreter comes from `MAESTRO_PYTHON` (`.ci/run` makes a venv from
//! `tests/python/requirements.txt`); a missing one fails the test with instructions.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use maestro_trace::client::TracedRequest;
use maestro_trace::{init, span, Exporter, TraceFutureExt, TracingConfig};
use maestro_trace_tests::jaeger::{self, Jaeger};
use serde_json::Value;

/// A child process killed when dropped.
struct Service {
    child: Child,
    name: &'static str,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn python() -> PathBuf {
    let python = std::env::var_os("MAESTRO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let probe = Command::new(&python)
        .args([
            "-c",
            "import fastapi, uvicorn, httpx, opentelemetry.instrumentation.fastapi",
        ])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "{} lacks the Python peer's packages: `python3 -m venv v && v/bin/pip install -r tests/python/requirements.txt`, then MAESTRO_PYTHON=v/bin/python",
        python.display()
    );
    python
}

/// Waits until `url` answers 200 or `service` exits.
fn wait_ready(service: &mut Service, url: &str) {
    let client = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!("{} exited before it was ready ({status})", service.name);
        }
        if client
            .get(url)
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} was not ready within 60 s", service.name);
}

/// The one span of `service` named `operation` in `trace`.
fn span_of(trace: &Value, service: &str, operation: &str) -> Value {
    let found: Vec<Value> = jaeger::spans_of(trace)
        .into_iter()
        .filter(|s| {
            s["operationName"] == operation
                && jaeger::process_of(trace, s)["serviceName"] == service
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one `{operation}` span of {service} expected; the trace has: {:?}",
        jaeger::spans_of(trace)
            .iter()
            .map(|s| format!(
                "{}:{}",
                jaeger::process_of(trace, s)["serviceName"],
                s["operationName"]
            ))
            .collect::<Vec<_>>()
    );
    found[0].clone()
}

/// Asserts the chain: each `(service, operation)` is the parent of the next.
fn assert_chain(trace: &Value, chain: &[(&str, &str)]) {
    for pair in chain.windows(2) {
        let parent = span_of(trace, pair[0].0, pair[0].1);
        let child = span_of(trace, pair[1].0, pair[1].1);
        assert_eq!(
            jaeger::parent_of(&child).as_deref(),
            parent["spanID"].as_str(),
            "{:?} must be the parent of {:?}",
            pair[0],
            pair[1]
        );
    }
}

/// Polls Jaeger until trace `id` holds every `(service, operation)` of `chain`.
fn wait_for_trace(jaeger: &Jaeger, id: &str, chain: &[(&str, &str)]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(trace) = jaeger.trace(id) {
            let complete = chain.iter().all(|(service, operation)| {
                jaeger::spans_of(&trace).iter().any(|s| {
                    s["operationName"] == *operation
                        && jaeger::process_of(&trace, s)["serviceName"] == *service
                })
            });
            if complete {
                return trace;
            }
        }
        assert!(
            Instant::now() < deadline,
            "trace {id} incomplete in Jaeger: {:?}",
            jaeger.trace(id)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn rust_and_python_services_share_one_trace_in_both_directions() {
    let python = python();
    let jaeger = Jaeger::start();
    let (registry_port, ml_port) = (free_port(), free_port());
    let registry_url = format!("http://127.0.0.1:{registry_port}");
    let ml_url = format!("http://127.0.0.1:{ml_port}");

    let mut registry = Service {
        name: "model-registry (Python)",
        child: Command::new(&python)
            .args([
                "-m",
                "uvicorn",
                "model_registry:app",
                "--host",
                "127.0.0.1",
                "--log-level",
                "warning",
            ])
            .args(["--port", &registry_port.to_string(), "--app-dir"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python"))
            .env("OTEL_SERVICE_NAME", "model-registry")
            .env("OTLP_ENDPOINT", &jaeger.otlp_grpc)
            .env("ML_API_URL", &ml_url)
            .stdin(Stdio::null())
            .spawn()
            .expect("start the Python registry"),
    };
    let mut ml_api = Service {
        name: "maestro-ml-api (Rust)",
        child: Command::new(env!("CARGO_BIN_EXE_ml_service"))
            .env_clear()
            .env("PORT", ml_port.to_string())
            .env("REGISTRY_URL", &registry_url)
            .env("OTEL_SERVICE_NAME", "maestro-ml-api")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &jaeger.otlp_grpc)
            .env("OTEL_BSP_SCHEDULE_DELAY", "50")
            .stdin(Stdio::null())
            .spawn()
            .expect("start the Rust ML API"),
    };
    wait_ready(&mut registry, &format!("{registry_url}/ready"));
    wait_ready(&mut ml_api, &format!("{ml_url}/health"));

    // This process is the API gateway.
    let guard = init(
        TracingConfig::default()
            .service_name("api-gateway")
            .exporter(Exporter::otlp_grpc(&jaeger.otlp_grpc)),
    )
    .expect("init");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    let (deploy_trace, score_trace) = runtime.block_on(async {
        let span = span!("route_deploy_request");
        let deploy_trace = span.trace_id().expect("sampled").to_string();
        let deployed = client
            .post(format!("{ml_url}/models/bert-base/deploy"))
            .send_traced()
            .in_span(span)
            .await
            .expect("gateway → ML API");
        assert!(deployed.status().is_success(), "{}", deployed.status());

        let span = span!("route_score_request");
        let score_trace = span.trace_id().expect("sampled").to_string();
        let scored = client
            .get(format!("{registry_url}/score/bert-base"))
            .send_traced()
            .in_span(span)
            .await
            .expect("gateway → registry");
        assert!(scored.status().is_success(), "{}", scored.status());
        (deploy_trace, score_trace)
    });
    guard.shutdown().expect("flush the gateway's spans");

    // Rust → Rust → Python.
    let rust_to_python = [
        ("api-gateway", "route_deploy_request"),
        ("api-gateway", "POST"),
        ("maestro-ml-api", "POST /models/{id}/deploy"),
        ("maestro-ml-api", "fetch_model_from_registry"),
        ("maestro-ml-api", "GET"),
        ("model-registry", "GET /registry/models/{model_id}"),
        ("model-registry", "load_model_weights"),
    ];
    let trace = wait_for_trace(&jaeger, &deploy_trace, &rust_to_python);
    assert_chain(&trace, &rust_to_python);
    assert_eq!(
        trace["traceID"],
        deploy_trace.as_str(),
        "one trace id across the three services"
    );

    // Rust → Python → Rust.
    let python_to_rust = [
        ("api-gateway", "route_score_request"),
        ("api-gateway", "GET"),
        ("model-registry", "GET /score/{model_id}"),
        ("model-registry", "POST"),
        ("maestro-ml-api", "POST /predictions"),
        ("maestro-ml-api", "run_inference"),
    ];
    let trace = wait_for_trace(&jaeger, &score_trace, &python_to_rust);
    assert_chain(&trace, &python_to_rust);
    let services: std::collections::BTreeSet<String> = jaeger::spans_of(&trace)
        .iter()
        .filter_map(|s| {
            jaeger::process_of(&trace, s)["serviceName"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        services.into_iter().collect::<Vec<_>>(),
        ["api-gateway", "maestro-ml-api", "model-registry"]
    );
}
