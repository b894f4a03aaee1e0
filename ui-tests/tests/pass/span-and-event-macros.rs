#![deny(warnings)]
use maestro_trace::{event, span, TraceFutureExt};

fn validate(rows: usize) -> Result<usize, String> {
    event!("validation_started", rows = rows);
    Ok(rows)
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let kind = "pytorch";
    let rows = 10_usize;
    let table = "models";
    let validated = span!("validate_model", model_type = kind, rows).in_scope(|| validate(rows));
    assert_eq!(validated, Ok(10));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        async {
            event!("job_queued", queue = "training", table, position = 3,);
        }
        .in_span(span!("save_to_database", table))
        .await;
    });

    let span = capture.span("validate_model");
    assert_eq!(span.name(), "validate_model");
    assert_eq!(span.attr_str("model_type").as_deref(), Some("pytorch"));
    assert_eq!(span.attr_i64("rows"), Some(10));
    assert_eq!(
        span.event("validation_started").name(),
        "validation_started"
    );
    let save = capture.span("save_to_database");
    assert_eq!(save.attr_str("table").as_deref(), Some("models"));
    assert_eq!(
        save.event("job_queued").attr("position"),
        Some(maestro_trace::otel::Value::I64(3))
    );
}
