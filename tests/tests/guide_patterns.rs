//! The tracing patterns of an ML platform's services, in Rust: attribute groups, spans around a
//! block, a decorated job with nested spans, manual spans with events, error recording, and a
//! training pipeline. (Automatic HTTP handler spans are covered with the actix-web middleware.)

use std::time::Duration;

use maestro_trace::otel::trace::Status;
use maestro_trace::{event, record_errors, span, span_attrs, testing, traced, TraceFutureExt};

// --- Attribute groups: model, training, tenant and resource attributes. ---

#[span_attrs(prefix = "model")]
#[derive(Debug)]
struct ModelAttrs {
    id: String,
    name: String,
    version: String,
    framework: &'static str,
    #[span_attr(rename = "type")]
    kind: &'static str,
}

#[span_attrs(prefix = "training")]
#[derive(Debug)]
struct TrainingAttrs {
    job_id: String,
    epochs: i64,
    batch_size: i64,
    learning_rate: f64,
    dataset_size: i64,
}

#[span_attrs(prefix = "tenant")]
#[derive(Debug)]
struct TenantAttrs {
    id: String,
    name: String,
    tier: &'static str,
}

#[span_attrs(prefix = "resource")]
#[derive(Debug)]
struct ResourceAttrs {
    cpu_cores: i64,
    memory_gb: f64,
    gpu_count: i64,
    gpu_type: Option<&'static str>,
}

fn model() -> ModelAttrs {
    ModelAttrs {
        id: "model-42".into(),
        name: "churn-predictor".into(),
        version: "v1.3".into(),
        framework: "pytorch",
        kind: "classification",
    }
}

// --- Pattern: custom spans around a block, with attributes (`start_as_current_span`). ---

fn validate(data: &[f64]) -> Result<usize, String> {
    if data.is_empty() {
        Err("no rows".into())
    } else {
        Ok(data.len())
    }
}

#[test]
fn custom_block_spans_with_attributes() {
    let capture = testing::capture();
    let kind = "pytorch";
    let rows = span!("validate_model", model_type = kind).in_scope(|| validate(&[1.0, 2.0]));
    assert_eq!(rows, Ok(2));
    let span = capture.span("validate_model");
    assert_eq!(span.attr_str("model_type").as_deref(), Some("pytorch"));
    assert_eq!(span.status(), Status::Unset);
}

// --- Pattern: the decorator on a job, with nested load_data / training spans. ---

#[traced("train_model_job", attrs(training))]
fn train_model_job(training: &TrainingAttrs) -> f64 {
    let rows = span!("load_data", dataset.size = training.dataset_size).in_scope(|| {
        event!(
            "dataset_loaded",
            rows = training.dataset_size,
            source = "s3://datasets/churn"
        );
        training.dataset_size
    });
    span!("training", epochs = training.epochs).in_scope(|| {
        for epoch in 1..=training.epochs {
            if epoch == training.epochs {
                event!(
                    "model_checkpoint_saved",
                    epoch = epoch,
                    path = "/checkpoints/final.pt"
                );
            }
        }
        rows as f64 / 100_000.0
    })
}

#[test]
fn decorated_job_with_nested_spans_and_events() {
    let capture = testing::capture();
    let training = TrainingAttrs {
        job_id: "job-7".into(),
        epochs: 3,
        batch_size: 32,
        learning_rate: 0.001,
        dataset_size: 50_000,
    };
    assert_eq!(train_model_job(&training), 0.5);

    let job = capture.span("train_model_job");
    let load = capture.span("load_data");
    let train = capture.span("training");
    assert!(
        load.is_child_of(&job) && train.is_child_of(&job),
        "{}",
        capture.tree()
    );
    assert_eq!(job.attr_str("training.job_id").as_deref(), Some("job-7"));
    assert_eq!(job.attr_f64("training.learning_rate"), Some(0.001));
    assert_eq!(job.attr_i64("training.batch_size"), Some(32));
    let loaded = load.event("dataset_loaded");
    assert_eq!(loaded.attr("rows"), Some(50_000_i64.into()));
    let checkpoint = train.event("model_checkpoint_saved");
    assert_eq!(checkpoint.attr("epoch"), Some(3_i64.into()));
    assert_eq!(
        checkpoint.attr_str("path").as_deref(),
        Some("/checkpoints/final.pt")
    );
}

// --- Pattern: manual spans with attributes and events (job_queued, job_started). ---

#[traced("submit_training_job", kind = producer, attrs(job.id = job_id))]
async fn submit(job_id: &str) -> &'static str {
    event!("job_queued", queue = "training", position = 2);
    tokio::time::sleep(Duration::from_millis(1)).await;
    event!("job_started", worker = "gpu-node-3");
    "running"
}

#[tokio::test]
async fn manual_spans_with_events() {
    let capture = testing::capture();
    assert_eq!(submit("job-99").await, "running");
    let span = capture.span("submit_training_job");
    let names: Vec<String> = span.events().iter().map(|e| e.name().to_owned()).collect();
    assert_eq!(names, ["job_queued", "job_started"]);
    assert_eq!(
        span.event("job_queued").attr_str("queue").as_deref(),
        Some("training")
    );
    assert_eq!(
        span.event("job_started").attr_str("worker").as_deref(),
        Some("gpu-node-3")
    );
}

// --- Pattern: error recording (record_exception + set_status(ERROR)). ---

#[traced("predict", attrs(model.version = version))]
#[record_errors]
fn predict(version: &str) -> Result<f64, String> {
    if version == "v2.0" {
        return Err(format!("Model version {version} not found in registry"));
    }
    Ok(0.87)
}

#[test]
fn error_recording() {
    let capture = testing::capture();
    assert!(predict("v2.0").is_err());
    let span = capture.span("predict");
    assert_eq!(
        span.status(),
        Status::error("Model version v2.0 not found in registry")
    );
    assert_eq!(
        span.event("exception")
            .attr_str("exception.message")
            .as_deref(),
        Some("Model version v2.0 not found in registry")
    );
}

// --- Pattern: model / tenant / resource attribute groups on one span. ---

#[traced("serve_tenant_inference", attrs(model, tenant, resources))]
fn serve(model: &ModelAttrs, tenant: &TenantAttrs, resources: &ResourceAttrs) {
    let _ = (model, tenant, resources);
}

#[test]
fn attribute_groups() {
    let capture = testing::capture();
    let tenant = TenantAttrs {
        id: "tenant-123".into(),
        name: "Acme".into(),
        tier: "premium",
    };
    let resources = ResourceAttrs {
        cpu_cores: 8,
        memory_gb: 31.5,
        gpu_count: 2,
        gpu_type: Some("a100"),
    };
    serve(&model(), &tenant, &resources);
    let span = capture.span("serve_tenant_inference");
    assert_eq!(
        span.attr_str("model.name").as_deref(),
        Some("churn-predictor")
    );
    assert_eq!(span.attr_str("model.framework").as_deref(), Some("pytorch"));
    assert_eq!(
        span.attr_str("model.type").as_deref(),
        Some("classification")
    );
    assert_eq!(span.attr_str("model.id").as_deref(), Some("model-42"));
    assert_eq!(span.attr_str("model.version").as_deref(), Some("v1.3"));
    assert_eq!(span.attr_str("tenant.id").as_deref(), Some("tenant-123"));
    assert_eq!(span.attr_str("tenant.tier").as_deref(), Some("premium"));
    assert_eq!(span.attr_str("tenant.name").as_deref(), Some("Acme"));
    assert_eq!(span.attr_i64("resource.cpu_cores"), Some(8));
    assert_eq!(span.attr_f64("resource.memory_gb"), Some(31.5));
    assert_eq!(span.attr_i64("resource.gpu_count"), Some(2));
    assert_eq!(span.attr_str("resource.gpu_type").as_deref(), Some("a100"));
}

// --- Use case 2: the ML training pipeline. ---

#[traced("data_preprocessing", attrs(rows))]
async fn data_preprocessing(rows: i64) -> i64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    event!("dataset_loaded", rows = rows);
    rows - 120
}

#[traced("feature_engineering")]
async fn feature_engineering(rows: i64) -> i64 {
    tokio::task::yield_now().await;
    maestro_trace::record(&FeatureAttrs { count: 48, rows });
    48
}

#[span_attrs(prefix = "features")]
#[derive(Debug)]
struct FeatureAttrs {
    count: i64,
    rows: i64,
}

#[traced("model_training", attrs(training.epochs = epochs))]
async fn model_training(features: i64, epochs: i64) -> f64 {
    for epoch in 1..=epochs {
        tokio::task::yield_now().await;
        event!("epoch_completed", epoch = epoch, loss = 1.0 / epoch as f64);
    }
    event!("model_checkpoint_saved", epoch = epochs);
    features as f64 / 50.0
}

#[traced("model_evaluation")]
#[record_errors]
async fn model_evaluation(accuracy: f64) -> Result<f64, String> {
    tokio::task::yield_now().await;
    if accuracy < 0.5 {
        return Err(format!("accuracy {accuracy} below the 0.5 threshold"));
    }
    Ok(accuracy)
}

#[traced("ml_training_pipeline", attrs(model))]
#[record_errors]
async fn ml_training_pipeline(model: &ModelAttrs) -> Result<f64, String> {
    let rows = data_preprocessing(10_120).await;
    let features = feature_engineering(rows).await;
    let accuracy = model_training(features, 3).await;
    model_evaluation(accuracy).await
}

#[tokio::test]
async fn training_pipeline_use_case() {
    let capture = testing::capture();
    assert_eq!(ml_training_pipeline(&model()).await, Ok(0.96));

    let pipeline = capture.span("ml_training_pipeline");
    for stage in [
        "data_preprocessing",
        "feature_engineering",
        "model_training",
        "model_evaluation",
    ] {
        assert!(
            capture.span(stage).is_child_of(&pipeline),
            "{stage}:\n{}",
            capture.tree()
        );
    }
    let names = capture.names();
    assert_eq!(
        names,
        [
            "ml_training_pipeline",
            "data_preprocessing",
            "feature_engineering",
            "model_training",
            "model_evaluation"
        ],
        "stages start in order"
    );
    assert_eq!(
        capture.span("data_preprocessing").attr_i64("rows"),
        Some(10_120)
    );
    assert_eq!(
        capture
            .span("feature_engineering")
            .attr_i64("features.rows"),
        Some(10_000)
    );
    let training = capture.span("model_training");
    assert_eq!(training.events().len(), 4);
    assert_eq!(
        pipeline.attr_str("model.name").as_deref(),
        Some("churn-predictor")
    );
    assert_eq!(pipeline.status(), Status::Unset);
    assert!(
        capture
            .tree()
            .starts_with("ml_training_pipeline {model.id=\"model-42\""),
        "{}",
        capture.tree()
    );
}

#[tokio::test]
async fn a_failing_stage_marks_the_stage_and_the_pipeline() {
    let capture = testing::capture();
    let result = model_evaluation(0.2)
        .in_span(span!("ml_training_pipeline_retry"))
        .await;
    assert!(result.is_err());
    assert!(capture.span("model_evaluation").is_error());
    assert!(
        !capture.span("ml_training_pipeline_retry").is_error(),
        "only the failing stage"
    );
}
