//! A 1 MB statement through an instrumented pool: its recorded text is cut by the configured
//! attribute value length limit (a pipeline from `init`, so this binary holds one test).

use maestro_trace::{SpanLimits, TracingConfig};
use maestro_trace_tests::recording::Recorded;
use sqlx::AssertSqlSafe;

#[tokio::test]
async fn a_megabyte_statement_is_cut_by_the_value_length_limit() {
    let exporter = Recorded::default();
    let limits = SpanLimits {
        max_attribute_value_length: Some(4096),
        ..SpanLimits::default()
    };
    let guard = maestro_trace::init(
        TracingConfig::default()
            .service_name("sqlx-limits")
            .span_limits(limits)
            .span_exporter(exporter.clone()),
    )
    .expect("init");
    let pool = maestro_trace::sqlx::instrument(
        sqlx::SqlitePool::connect("sqlite::memory:")
            .await
            .expect("SQLite"),
    );

    let padding = "x".repeat(1 << 20);
    // Parameterised: recorded as written, comment and all, then cut.
    let long = format!("SELECT $1 AS padded /* {padding} */");
    let one: i64 = sqlx::query_scalar(AssertSqlSafe(long))
        .bind(1_i64)
        .fetch_one(&pool)
        .await
        .expect("long select");
    assert_eq!(one, 1);
    // Not parameterised: the megabyte is a literal, which becomes `?`.
    let literal = format!("SELECT length('{padding}') AS n");
    let n: i64 = sqlx::query_scalar(AssertSqlSafe(literal))
        .fetch_one(&pool)
        .await
        .expect("long literal");
    assert_eq!(n, 1 << 20);
    guard.shutdown().expect("flush");

    let spans = exporter.spans();
    let texts: Vec<String> = spans
        .iter()
        .filter(|s| s.name == "SELECT")
        .filter_map(|s| {
            s.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "db.query.text")
                .map(|kv| kv.value.as_str().into_owned())
        })
        .collect();
    assert_eq!(
        texts.len(),
        2,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert_eq!(texts[0].len(), 4096);
    assert!(
        texts[0].starts_with("SELECT $1 AS padded /* xxx"),
        "{}",
        &texts[0][..40]
    );
    assert_eq!(texts[1], "SELECT length(?) AS n");
}
