//! Statements through an instrumented sqlx pool on a real SQLite (in memory): client spans
//! named and attributed per the database semantic conventions, nested under the caller's span,
//! with failures recorded and returned unchanged.
//!
//! Each test takes its capture before it touches a database, so that the setup's statements
//! (root spans started on the test's thread) belong to it, and clears them where only the later
//! statements matter.

use std::time::Duration;

use maestro_trace::otel::trace::SpanKind;
use maestro_trace::sqlx::TracedPool;
use maestro_trace::testing::{capture, CapturedSpan};
use maestro_trace::{span, traced, TraceFutureExt};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{Row, Sqlite};

/// A pool of one in-memory database (one connection, so every statement sees the same tables).
async fn models_db() -> TracedPool<Sqlite> {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(200))
        .connect("sqlite::memory:")
        .await
        .expect("an in-memory SQLite database");
    let pool = maestro_trace::sqlx::instrument(pool);
    sqlx::query("CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT NOT NULL, accuracy REAL)")
        .execute(&pool)
        .await
        .expect("create table");
    pool
}

#[traced("save_to_database")]
async fn save_model(pool: &TracedPool<Sqlite>, id: &str, name: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("INSERT INTO models (id, name, accuracy) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(name)
        .bind(0.93)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

#[traced("find_model")]
async fn find_models(
    pool: &TracedPool<Sqlite>,
    name: &str,
) -> Result<Vec<(String, f64)>, sqlx::Error> {
    sqlx::query_as("SELECT id, accuracy FROM models WHERE name = $1 ORDER BY id")
        .bind(name)
        .fetch_all(pool)
        .await
}

fn assert_sqlite_client_span(span: &CapturedSpan) {
    assert_eq!(span.kind(), SpanKind::Client, "{}", span.name());
    assert_eq!(span.attr_str("db.system.name").as_deref(), Some("sqlite"));
    // An in-memory database has no name, and SQLite no server.
    assert_eq!(span.attr("db.namespace"), None);
    assert_eq!(span.attr("server.address"), None);
}

#[tokio::test]
async fn statements_are_client_spans_under_the_caller() {
    let capture = capture();
    let pool = models_db().await;
    assert_eq!(save_model(&pool, "m-1", "bert").await.ok(), Some(1));
    save_model(&pool, "m-2", "bert")
        .await
        .expect("second insert");
    let found = find_models(&pool, "bert").await.expect("select");
    assert_eq!(found, [("m-1".to_owned(), 0.93), ("m-2".to_owned(), 0.93)]);

    let create = capture.span("CREATE models");
    assert_sqlite_client_span(&create);
    assert!(create.is_root());
    assert_eq!(
        create.attr_str("db.operation.name").as_deref(),
        Some("CREATE")
    );

    let inserts = capture.spans_named("INSERT models");
    let saves = capture.spans_named("save_to_database");
    assert_eq!((inserts.len(), saves.len()), (2, 2));
    for (insert, save) in inserts.iter().zip(&saves) {
        assert_sqlite_client_span(insert);
        assert!(insert.is_child_of(save));
        assert_eq!(
            insert.attr_str("db.operation.name").as_deref(),
            Some("INSERT")
        );
        assert_eq!(
            insert.attr_str("db.collection.name").as_deref(),
            Some("models")
        );
        // Bound values are never recorded: the text is the statement as prepared.
        assert_eq!(
            insert.attr_str("db.query.text").as_deref(),
            Some("INSERT INTO models (id, name, accuracy) VALUES ($1, $2, $3)")
        );
        assert!(!insert.is_error());
    }

    let select = capture.span("SELECT models");
    assert_sqlite_client_span(&select);
    assert!(select.is_child_of(&capture.span("find_model")));
    assert_eq!(select.attr_i64("db.response.returned_rows"), Some(2));
    assert_eq!(
        select.attr_str("db.query.text").as_deref(),
        Some("SELECT id, accuracy FROM models WHERE name = $1 ORDER BY id")
    );

    // The wait for the pooled connection is its own span inside the statement's, whatever runs
    // it: `execute`, `fetch_all`/`fetch_one`/`fetch_optional`, and row streams (`query_as`
    // collects one).
    let acquires = capture.spans_named("acquire_connection");
    assert_eq!(acquires.len(), 4, "{:?}", capture.names());
    for (acquire, statement) in acquires
        .iter()
        .zip([&create, &inserts[0], &inserts[1], &select])
    {
        assert!(acquire.is_child_of(statement), "{}", statement.name());
        assert_eq!(acquire.kind(), SpanKind::Internal);
    }
}

#[tokio::test]
async fn literals_of_unparameterised_statements_are_replaced() {
    let capture = capture();
    let pool = models_db().await;
    capture.clear();
    sqlx::query("INSERT INTO models VALUES ('m-7', 'customer-42@example.com', 0.5)")
        .execute(&pool)
        .await
        .expect("insert");
    let rows = sqlx::query(
        "SELECT id FROM models WHERE name = 'customer-42@example.com' AND accuracy > 0.25",
    )
    .fetch_all(&pool)
    .await
    .expect("select");
    assert_eq!(rows.len(), 1);
    // A plain string is run with the simple protocol (no arguments at all).
    sqlx::raw_sql("DELETE FROM models WHERE id = 'm-7'")
        .execute(&pool)
        .await
        .expect("delete");

    assert_eq!(
        capture
            .span("INSERT models")
            .attr_str("db.query.text")
            .as_deref(),
        Some("INSERT INTO models VALUES (?, ?, ?)")
    );
    assert_eq!(
        capture
            .span("SELECT models")
            .attr_str("db.query.text")
            .as_deref(),
        Some("SELECT id FROM models WHERE name = ? AND accuracy > ?")
    );
    assert_eq!(
        capture
            .span("DELETE models")
            .attr_str("db.query.text")
            .as_deref(),
        Some("DELETE FROM models WHERE id = ?")
    );
}

#[tokio::test]
async fn transactions_show_begin_statements_and_commit_or_rollback() {
    let capture = capture();
    let pool = models_db().await;
    capture.clear();
    let remaining = async {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO models VALUES ($1, $2, $3)")
            .bind("m-1")
            .bind("bert")
            .bind(0.9)
            .execute(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM models")
            .fetch_one(&mut *tx)
            .await?;
        assert_eq!(count, 1);
        tx.commit().await?;

        let mut tx = pool.begin().await?;
        sqlx::query("UPDATE models SET name = $1")
            .bind("gone")
            .execute(&mut *tx)
            .await?;
        tx.rollback().await?;

        // Several statements on one pooled connection.
        let mut conn = pool.acquire().await?;
        sqlx::query("DELETE FROM models WHERE id = $1")
            .bind("m-9")
            .execute(&mut conn)
            .await?;
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM models")
            .fetch_one(&mut conn)
            .await
    }
    .in_span(span!("update_database"))
    .await
    .expect("transactions");
    assert_eq!(remaining, 1);

    let parent = capture.span("update_database");
    let names: Vec<String> = capture
        .spans()
        .iter()
        .filter(|s| s.is_child_of(&parent))
        .map(|s| s.name().to_owned())
        .collect();
    assert_eq!(
        names,
        [
            "BEGIN",
            "INSERT models",
            "SELECT models",
            "COMMIT",
            "BEGIN",
            "UPDATE models",
            "ROLLBACK",
            "acquire_connection",
            "DELETE models",
            "SELECT models",
        ]
    );
    let commit = capture.span("COMMIT");
    assert_eq!(commit.kind(), SpanKind::Client);
    assert_eq!(
        commit.attr_str("db.operation.name").as_deref(),
        Some("COMMIT")
    );
    let selects = capture.spans_named("SELECT models");
    assert_eq!(selects.len(), 2);
    for select in &selects {
        assert_eq!(select.attr_i64("db.response.returned_rows"), Some(1));
    }
    // The wait for a transaction's connection is its own span inside `BEGIN`; the pooled
    // connection's wait is its own span, beside the statements it then runs.
    let begins = capture.spans_named("BEGIN");
    let acquires = capture.spans_named("acquire_connection");
    assert_eq!(acquires.len(), 3, "{:?}", capture.names());
    for (acquire, begin) in acquires.iter().zip(&begins) {
        assert!(acquire.is_child_of(begin));
        assert_eq!(acquire.kind(), SpanKind::Internal);
        assert!(acquire.data().start_time >= begin.data().start_time);
        assert!(acquire.data().end_time <= begin.data().end_time);
    }
    assert!(acquires[2].is_child_of(&parent));
    assert!(capture.span("DELETE models").is_child_of(&parent));
    // The rollback took effect: the name is unchanged.
    let name: String = sqlx::query_scalar("SELECT name FROM models")
        .fetch_one(&pool)
        .await
        .expect("select");
    assert_eq!(name, "bert");
}

#[tokio::test]
async fn a_syntax_error_is_recorded_on_a_span_named_by_the_system() {
    let capture = capture();
    let pool = models_db().await;
    capture.clear();
    let error = sqlx::query("SELEC * FROM models")
        .fetch_all(&pool)
        .await
        .expect_err("syntax error");
    let code = error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(
        code.as_deref(),
        Some("1"),
        "SQLITE_ERROR, unchanged: {error}"
    );

    let span = capture.span("sqlite");
    assert!(span.is_error());
    assert_eq!(span.attr("db.operation.name"), None);
    assert_eq!(
        span.attr_str("db.query.text").as_deref(),
        Some("SELEC * FROM models")
    );
    assert_eq!(span.attr_str("error.type").as_deref(), Some("1"));
    let exception = span.event("exception");
    assert_eq!(
        exception.attr_str("exception.message"),
        Some(error.to_string())
    );
}

#[tokio::test]
async fn a_unique_violation_is_recorded_with_its_code() {
    let capture = capture();
    let pool = models_db().await;
    save_model(&pool, "m-1", "bert")
        .await
        .expect("first insert");
    capture.clear();
    let error = save_model(&pool, "m-1", "bert")
        .await
        .expect_err("duplicate id");
    let database = error.as_database_error().expect("a database error");
    assert!(database.is_unique_violation());
    // SQLITE_CONSTRAINT_PRIMARYKEY
    assert_eq!(database.code().as_deref(), Some("1555"));

    let insert = capture.span("INSERT models");
    assert!(insert.is_error());
    assert_eq!(insert.attr_str("error.type").as_deref(), Some("1555"));
    assert!(insert.is_child_of(&capture.span("save_to_database")));
    assert_eq!(
        insert.event("exception").attr_str("exception.message"),
        Some(error.to_string())
    );
}

#[tokio::test]
async fn a_pool_timeout_is_recorded_on_the_statement_and_its_wait() {
    let capture = capture();
    let pool = models_db().await;
    // The pool's only connection is taken: the next statement waits 200 ms, then gives up.
    let held = pool.inner().acquire().await.expect("the only connection");
    capture.clear();
    let error = sqlx::query("SELECT id FROM models")
        .fetch_all(&pool)
        .await
        .expect_err("timeout");
    assert!(matches!(error, sqlx::Error::PoolTimedOut), "{error}");
    drop(held);

    let select = capture.span("SELECT models");
    let acquire = capture.span("acquire_connection");
    assert!(acquire.is_child_of(&select));
    for span in [&select, &acquire] {
        assert!(span.is_error(), "{}", span.name());
        assert_eq!(
            span.attr_str("error.type").as_deref(),
            Some("pool_timed_out")
        );
    }
    let waited = acquire
        .data()
        .end_time
        .duration_since(acquire.data().start_time);
    assert!(
        waited
            .as_ref()
            .is_ok_and(|w| *w >= Duration::from_millis(150)),
        "{waited:?}"
    );
}

#[tokio::test]
async fn checked_macros_and_streams_run_unchanged() {
    let capture = capture();
    let pool = models_db().await;
    capture.clear();
    let answer = sqlx::query!("SELECT 40 + 2 AS answer")
        .fetch_one(&pool)
        .await
        .expect("query!");
    assert_eq!(answer.answer, 42);
    let scalar = sqlx::query_scalar!("SELECT 'bert' AS name")
        .fetch_optional(&pool)
        .await
        .expect("scalar");
    assert_eq!(scalar.as_deref(), Some("bert"));

    use futures_util::TryStreamExt as _;
    let rows: Vec<i64> = sqlx::query("SELECT value FROM (SELECT 1 AS value UNION ALL SELECT 2)")
        .fetch(&pool)
        .map_ok(|row| row.get::<i64, _>("value"))
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(rows, [1, 2]);

    let selects = capture.spans_named("SELECT");
    assert_eq!(selects.len(), 3, "{:?}", capture.names());
    assert_eq!(
        selects[0].attr_str("db.query.text").as_deref(),
        Some("SELECT ? + ? AS answer")
    );
    assert_eq!(selects[0].attr_i64("db.response.returned_rows"), Some(1));
    assert_eq!(selects[2].attr_i64("db.response.returned_rows"), Some(2));
}

#[tokio::test]
async fn a_row_stream_waits_for_its_connection_in_its_own_span() {
    use futures_util::TryStreamExt as _;
    let capture = capture();
    let pool = models_db().await;
    save_model(&pool, "m-1", "bert").await.expect("insert");
    // The only connection is held while the stream starts, and given back once it waits.
    let held = pool.inner().acquire().await.expect("the only connection");
    capture.clear();
    let rows = async {
        let rows = sqlx::query("SELECT id FROM models")
            .fetch(&pool)
            .map_ok(|row| row.get::<String, _>("id"))
            .try_collect::<Vec<String>>();
        let release = async {
            tokio::task::yield_now().await;
            drop(held);
        };
        futures_util::future::join(rows, release).await.0
    }
    .in_span(span!("export_models"))
    .await;
    assert_eq!(rows.expect("rows"), ["m-1"]);

    let select = capture.span("SELECT models");
    assert!(select.is_child_of(&capture.span("export_models")));
    assert_eq!(select.attr_i64("db.response.returned_rows"), Some(1));
    let acquire = capture.span("acquire_connection");
    assert!(acquire.is_child_of(&select), "{}", capture.tree());
    assert!(!acquire.is_error());
    // The wait ended before the rows came: the acquire span ends inside the statement's.
    assert!(acquire.data().end_time <= select.data().end_time);
}

#[tokio::test]
async fn a_statement_dropped_before_it_completes_is_marked_cancelled() {
    use futures_util::FutureExt as _;
    let capture = capture();
    let pool = models_db().await;
    let held = pool.inner().acquire().await.expect("the only connection");
    capture.clear();
    // Polled once (it waits for the held connection), then dropped: a caller that gave up.
    let outcome = sqlx::query("SELECT id FROM models")
        .fetch_all(&pool)
        .now_or_never();
    assert!(outcome.is_none());
    drop(held);

    let select = capture.span("SELECT models");
    assert_eq!(select.event("cancelled").name(), "cancelled");
    assert!(!select.is_error());
    assert_eq!(
        capture.span("acquire_connection").event("cancelled").name(),
        "cancelled"
    );
}
