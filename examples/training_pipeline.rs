//! An ML training pipeline, traced stage by stage.
//!
//! ```text
//! cargo run --example training_pipeline
//! ```
//!
//! Prints the trace trees through the console exporter; `OTEL_TRACES_EXPORTER=otlp` sends them to
//! a Jaeger on `localhost:4317` instead, `TRACING_ENABLED=false` turns tracing off.

use std::time::Duration;

use maestro_trace::{event, record_errors, span, span_attrs, traced, Exporter, TracingConfig};

#[span_attrs(prefix = "model")]
#[derive(Debug)]
struct ModelAttrs {
    name: &'static str,
    framework: &'static str,
    version: String,
}

#[span_attrs(prefix = "training")]
#[derive(Debug)]
struct TrainingAttrs {
    job_id: String,
    epochs: i64,
    batch_size: i64,
    learning_rate: f64,
}

#[traced("data_preprocessing", attrs(dataset.path = path))]
async fn data_preprocessing(path: &str) -> Vec<f64> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let rows: Vec<f64> = (0..10_000).map(|i| f64::from(i % 97) / 97.0).collect();
    event!("dataset_loaded", rows = rows.len(), source = path);
    let clean = span!("drop_invalid_rows")
        .in_scope(|| rows.into_iter().filter(|v| *v > 0.0).collect::<Vec<_>>());
    maestro_trace::record(&DatasetAttrs {
        rows: clean.len() as i64,
    });
    clean
}

#[span_attrs(prefix = "dataset")]
#[derive(Debug)]
struct DatasetAttrs {
    rows: i64,
}

#[traced("feature_engineering", attrs(input.rows = rows.len()))]
async fn feature_engineering(rows: &[f64]) -> Vec<[f64; 2]> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    rows.iter().map(|v| [*v, v * v]).collect()
}

#[traced("model_training", attrs(training))]
async fn model_training(features: &[[f64; 2]], training: &TrainingAttrs) -> f64 {
    let mut loss = 1.0;
    for epoch in 1..=training.epochs {
        tokio::time::sleep(Duration::from_millis(15)).await;
        loss *= 0.6;
        event!("epoch_completed", epoch = epoch, loss = loss);
    }
    event!(
        "model_checkpoint_saved",
        path = "/checkpoints/churn-predictor.pt",
        samples = features.len()
    );
    1.0 - loss / 2.0
}

#[traced("model_evaluation", attrs(accuracy))]
#[record_errors]
async fn model_evaluation(accuracy: f64) -> Result<f64, String> {
    tokio::time::sleep(Duration::from_millis(5)).await;
    if accuracy < 0.9 {
        return Err(format!(
            "accuracy {accuracy:.3} is below the 0.9 release bar"
        ));
    }
    Ok(accuracy)
}

#[traced("ml_training_pipeline", attrs(model))]
#[record_errors]
async fn ml_training_pipeline(model: &ModelAttrs, training: &TrainingAttrs) -> Result<f64, String> {
    let rows = data_preprocessing("s3://datasets/churn.parquet").await;
    let features = feature_engineering(&rows).await;
    let accuracy = model_training(&features, training).await;
    model_evaluation(accuracy).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tracing = maestro_trace::init(
        TracingConfig::from_env()
            .service_name("maestro-training-pipeline")
            .resource_attribute("deployment.environment", "development")
            // Trees on the console unless the environment points elsewhere, e.g.
            // OTEL_TRACES_EXPORTER=otlp (Jaeger on localhost:4317) or JAEGER_AGENT_HOST.
            .default_exporter(Exporter::Console),
    )?;

    let model = ModelAttrs {
        name: "churn-predictor",
        framework: "pytorch",
        version: "v1.3".into(),
    };
    for (job, epochs) in [("job-1", 4), ("job-2", 1)] {
        let training = TrainingAttrs {
            job_id: job.into(),
            epochs,
            batch_size: 32,
            learning_rate: 0.001,
        };
        match ml_training_pipeline(&model, &training).await {
            Ok(accuracy) => println!("{job}: accuracy {accuracy:.3}"),
            Err(error) => println!("{job}: failed: {error}"),
        }
    }

    tracing.shutdown()?;
    Ok(())
}
