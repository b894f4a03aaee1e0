//! `#[record_errors]`: an `Err` becomes an `exception` event and status Error on the right span.

use std::fmt;

use maestro_trace::otel::trace::Status;
use maestro_trace::{record_errors, span, testing, traced, TraceFutureExt};

#[derive(Debug)]
struct RegistryError {
    version: String,
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Model version {} not found in registry", self.version)
    }
}

#[traced("resolve_model_version")]
#[record_errors]
fn resolve(version: &str) -> Result<u32, RegistryError> {
    if version == "v2.0" {
        return Err(RegistryError {
            version: version.into(),
        });
    }
    Ok(1)
}

#[test]
fn an_err_records_an_exception_event_and_error_status() {
    let capture = testing::capture();
    assert!(resolve("v2.0").is_err());
    assert_eq!(resolve("v1.0").ok(), Some(1));

    let spans = capture.spans_named("resolve_model_version");
    let (failed, fine) = (&spans[0], &spans[1]);
    assert_eq!(
        failed.status(),
        Status::error("Model version v2.0 not found in registry")
    );
    let exception = failed.event("exception");
    assert_eq!(
        exception.attr_str("exception.type").as_deref(),
        Some("record_errors::RegistryError")
    );
    assert_eq!(
        exception.attr_str("exception.message").as_deref(),
        Some("Model version v2.0 not found in registry")
    );
    assert_eq!(fine.status(), Status::Unset);
    assert!(fine.events().is_empty());
}

#[record_errors]
#[traced("read_model_card")]
fn read_card(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[traced("parse_hyperparameters")]
#[record_errors]
fn parse_hyperparameters(raw: &str) -> anyhow::Result<f64> {
    let rate: f64 = raw.parse()?;
    anyhow::ensure!(rate > 0.0, "learning rate must be positive, got {rate}");
    Ok(rate)
}

#[test]
fn result_aliases_work_in_either_order() {
    let capture = testing::capture();
    assert!(read_card("/definitely/not/here/model.md").is_err());
    assert!(parse_hyperparameters("-0.1").is_err());
    assert!(parse_hyperparameters("abc").is_err());

    let card = capture.span("read_model_card");
    assert!(
        card.is_error(),
        "record_errors above traced records on the traced span"
    );
    assert_eq!(
        card.event("exception")
            .attr_str("exception.type")
            .as_deref(),
        Some("std::io::error::Error")
    );
    let parsed = capture.spans_named("parse_hyperparameters");
    assert_eq!(
        parsed[0].status(),
        Status::error("learning rate must be positive, got -0.1")
    );
    assert_eq!(
        parsed[0]
            .event("exception")
            .attr_str("exception.type")
            .as_deref(),
        Some("anyhow::Error")
    );
    assert_eq!(parsed[1].status(), Status::error("invalid float literal"));
}

#[record_errors]
fn check_quota(tenant: &str) -> Result<(), String> {
    Err(format!("tenant {tenant} is over its GPU quota"))
}

#[test]
fn standalone_record_errors_marks_the_current_span() {
    let capture = testing::capture();
    let _ = span!("admit_training_job").in_scope(|| check_quota("tenant-123"));
    let span = capture.span("admit_training_job");
    assert_eq!(
        span.status(),
        Status::error("tenant tenant-123 is over its GPU quota")
    );
}

#[traced("upload_artifacts")]
#[record_errors]
async fn upload(ok: bool) -> Result<usize, String> {
    tokio::task::yield_now().await;
    if !ok {
        return Err("artifact store unavailable".into());
    }
    Ok(3)
}

#[record_errors]
async fn bare_async_failure() -> Result<(), String> {
    tokio::task::yield_now().await;
    Err("scheduler rejected the job".into())
}

#[tokio::test]
async fn async_functions_record_too() {
    let capture = testing::capture();
    assert!(upload(false).await.is_err());
    assert_eq!(upload(true).await, Ok(3));
    let _ = bare_async_failure()
        .in_span(span!("schedule_training_job"))
        .await;

    let uploads = capture.spans_named("upload_artifacts");
    assert_eq!(
        uploads[0].status(),
        Status::error("artifact store unavailable")
    );
    assert_eq!(uploads[1].status(), Status::Unset);
    assert_eq!(
        capture.span("schedule_training_job").status(),
        Status::error("scheduler rejected the job")
    );
}

/// An error that wraps its cause, as `thiserror`'s `#[source]` does.
#[derive(Debug)]
struct CheckpointError {
    source: std::io::Error,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not write the checkpoint")
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

fn denied() -> CheckpointError {
    CheckpointError {
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied"),
    }
}

#[traced("save_checkpoint")]
#[record_errors]
fn save_checkpoint() -> Result<(), CheckpointError> {
    Err(denied())
}

#[traced("upload_checkpoint")]
#[record_errors]
async fn upload_checkpoint() -> Result<(), CheckpointError> {
    tokio::task::yield_now().await;
    Err(denied())
}

#[traced("publish_model")]
#[record_errors]
fn publish_model() -> anyhow::Result<()> {
    use anyhow::Context as _;
    Err(denied()).context("publishing bert-base v1.3 failed")
}

/// Generic over its error: only what the bound promises (`Display`) is known to the macro.
#[traced("retry_step")]
#[record_errors]
fn retry_step<E: fmt::Display>(error: E) -> Result<(), E> {
    Err(error)
}

#[tokio::test]
async fn an_error_message_carries_its_source_chain() {
    let capture = testing::capture();
    let _ = save_checkpoint();
    let _ = upload_checkpoint().await;
    let _ = publish_model();
    let _ = retry_step("quota exceeded");

    let chained = "could not write the checkpoint: permission denied";
    for name in ["save_checkpoint", "upload_checkpoint"] {
        let span = capture.span(name);
        assert_eq!(span.status(), Status::error(chained), "{name}");
        assert_eq!(
            span.event("exception")
                .attr_str("exception.message")
                .as_deref(),
            Some(chained),
            "{name}"
        );
        assert_eq!(
            span.event("exception")
                .attr_str("exception.type")
                .as_deref(),
            Some("record_errors::CheckpointError")
        );
    }
    // anyhow::Error is not a `std::error::Error`: its alternate Display is the context chain.
    assert_eq!(
        capture.span("publish_model").status(),
        Status::error(
            "publishing bert-base v1.3 failed: could not write the checkpoint: permission denied"
        )
    );
    assert_eq!(
        capture.span("retry_step").status(),
        Status::error("quota exceeded")
    );
}
