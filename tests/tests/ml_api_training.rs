//! The ML API example (`examples/ml_api.rs`) as its own process exporting over OTLP to a real
//! Jaeger: `POST /training/jobs` queues the job to the service's training worker, whose
//! `run_training_job` consumer span starts a trace of its own with a link (a `FOLLOWS_FROM`
//! reference in Jaeger) to the request's `submit_training_job` producer span; the tenant set
//! from `x-tenant-id` at the edge travels as baggage and is on every span of both traces, so
//! Jaeger's tag search `tenant.id=...` finds them both.

use std::time::{Duration, Instant};

use maestro_trace_tests::jaeger::{self, tag_str, Jaeger};
use maestro_trace_tests::ml_api::{send, MlApi};
use serde_json::Value;

/// The service name the ML API sets in code.
const SERVICE: &str = "maestro-ml-api";

/// The request's trace: server span and `submit_training_job`; the job's: `run_training_job`,
/// `load_training_data` and three `train_epoch`.
const SPANS: usize = 2 + 5;

/// The traces of `tenant` in Jaeger once they hold `spans` spans between them.
///
/// # Panics
/// After 20 s, showing what did arrive.
fn traces_of_tenant(jaeger: &Jaeger, tenant: &str, spans: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let traces = jaeger.find_traces(SERVICE, &[("tenant.id", tenant)]);
        let found: usize = traces.iter().map(|t| jaeger::spans_of(t).len()).sum();
        if found >= spans {
            return traces;
        }
        assert!(
            Instant::now() < deadline,
            "expected {spans} spans of tenant {tenant} in Jaeger, found {found}: {traces:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The trace holding a span named `operation`.
fn trace_with<'a>(traces: &'a [Value], operation: &str) -> &'a Value {
    traces
        .iter()
        .find(|t| {
            jaeger::spans_of(t)
                .iter()
                .any(|s| s["operationName"] == operation)
        })
        .unwrap_or_else(|| panic!("no trace holds `{operation}`: {traces:#?}"))
}

#[test]
fn a_queued_training_job_runs_in_a_linked_trace_carrying_the_requests_tenant() {
    let jaeger = Jaeger::start();
    let api = MlApi::start(&[
        ("OTEL_TRACES_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", jaeger.otlp_grpc.clone()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
    ]);
    let (status, request_trace) = send(
        reqwest::blocking::Client::new()
            .post(api.url("/training/jobs"))
            .header("content-type", "application/json")
            .header("x-tenant-id", "tenant-7")
            .body(r#"{"model_id": "bert-base", "epochs": 3, "batch_size": 32, "learning_rate": 0.001}"#),
    );
    assert_eq!(status, 202, "log:\n{}", api.log());

    let traces = traces_of_tenant(&jaeger, "tenant-7", SPANS);
    assert_eq!(
        traces.len(),
        2,
        "the request's trace and the job's: {traces:#?}"
    );
    let request = trace_with(&traces, "submit_training_job");
    let job = trace_with(&traces, "run_training_job");
    assert_eq!(request["traceID"], request_trace.as_str());
    assert_ne!(
        job["traceID"], request["traceID"],
        "the job has a trace of its own"
    );

    let server = jaeger::span_named(request, "POST /training/jobs");
    let submit = jaeger::span_named(request, "submit_training_job");
    assert_eq!(
        jaeger::parent_of(&submit),
        server["spanID"].as_str().map(str::to_owned)
    );
    assert_eq!(tag_str(&submit, "span.kind").as_deref(), Some("producer"));

    let run = jaeger::span_named(job, "run_training_job");
    assert_eq!(tag_str(&run, "span.kind").as_deref(), Some("consumer"));
    assert_eq!(
        jaeger::parent_of(&run),
        None,
        "the consumer span is its trace's root"
    );
    let references = run["references"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        references,
        [serde_json::json!({
            "refType": "FOLLOWS_FROM",
            "traceID": request["traceID"],
            "spanID": submit["spanID"],
        })],
        "the consumer links to the producer span of the request"
    );
    assert_eq!(
        tag_str(&run, "training.model_id").as_deref(),
        Some("bert-base")
    );
    let epochs = jaeger::spans_of(job)
        .iter()
        .filter(|s| s["operationName"] == "train_epoch")
        .count();
    assert_eq!(epochs, 3);

    // Baggage: on every span of both traces, the server span included.
    for trace in [request, job] {
        for span in jaeger::spans_of(trace) {
            assert_eq!(
                tag_str(&span, "tenant.id").as_deref(),
                Some("tenant-7"),
                "`{}` lacks the tenant",
                span["operationName"]
            );
        }
    }
}
