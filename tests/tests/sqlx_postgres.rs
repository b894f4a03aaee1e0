//! Statements through an instrumented sqlx pool on a real PostgreSQL (a throwaway cluster per
//! test, see `maestro_trace_tests::postgres`): the server and database on every span, SQLSTATE
//! codes as `error.type`, and a server that is not there.

use std::time::Duration;

use maestro_trace::otel::trace::SpanKind;
use maestro_trace::sqlx::TracedPool;
use maestro_trace::testing::capture;
use maestro_trace::traced;
use maestro_trace_tests::postgres::Postgres;
use sqlx::postgres::PgPoolOptions;
use sqlx::Postgres as Pg;

/// An instrumented pool on `server`, with an empty `models` table.
async fn models_db(server: &Postgres) -> TracedPool<Pg> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&server.url())
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", server.url(), server.log()));
    let pool = maestro_trace::sqlx::instrument(pool);
    sqlx::query("CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .expect("create");
    pool
}

#[traced("save_to_database")]
async fn save(pool: &TracedPool<Pg>, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO models (id, name) VALUES ($1, $2)")
        .bind(id)
        .bind("bert")
        .execute(pool)
        .await
        .map(drop)
}

#[tokio::test]
async fn spans_name_the_server_and_database() {
    let server = Postgres::start();
    let capture = capture();
    let pool = models_db(&server).await;
    save(&pool, "m-1").await.expect("insert");
    let rows = sqlx::query("SELECT id FROM public.models WHERE name = $1")
        .bind("bert")
        .fetch_all(&pool)
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);

    let insert = capture.span("INSERT models");
    assert!(insert.is_child_of(&capture.span("save_to_database")));
    let select = capture.span("SELECT public.models");
    for span in [&insert, &select] {
        assert_eq!(span.kind(), SpanKind::Client);
        assert_eq!(
            span.attr_str("db.system.name").as_deref(),
            Some("postgresql")
        );
        assert_eq!(span.attr_str("db.namespace").as_deref(), Some("postgres"));
        assert_eq!(
            span.attr_str("server.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(span.attr_i64("server.port"), Some(i64::from(server.port)));
        assert!(!span.is_error());
    }
    assert_eq!(
        select.attr_str("db.collection.name").as_deref(),
        Some("public.models")
    );
    assert_eq!(select.attr_i64("db.response.returned_rows"), Some(1));
}

#[tokio::test]
async fn sqlstate_codes_are_the_error_type() {
    let server = Postgres::start();
    let capture = capture();
    let pool = models_db(&server).await;
    save(&pool, "m-1").await.expect("first insert");
    capture.clear();

    let duplicate = save(&pool, "m-1").await.expect_err("unique violation");
    let code = duplicate
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("23505"), "{duplicate}");
    let insert = capture.span("INSERT models");
    assert!(insert.is_error());
    assert_eq!(insert.attr_str("error.type").as_deref(), Some("23505"));
    assert_eq!(
        insert.event("exception").attr_str("exception.message"),
        Some(duplicate.to_string())
    );

    let syntax = sqlx::query("SELEC id FROM models")
        .execute(&pool)
        .await
        .expect_err("syntax error");
    let code = syntax
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("42601"), "{syntax}");
    // Not a statement the lexer knows: the span is named by the system.
    let span = capture.span("postgresql");
    assert!(span.is_error());
    assert_eq!(span.attr_str("error.type").as_deref(), Some("42601"));

    // A transaction rolled back after a failed statement.
    let mut tx = pool.begin().await.expect("begin");
    let failed = sqlx::query("INSERT INTO models (id, name) VALUES ($1, NULL)")
        .bind("m-2")
        .execute(&mut *tx)
        .await
        .expect_err("not null violation");
    assert!(failed.to_string().contains("null value"), "{failed}");
    tx.rollback().await.expect("rollback");
    let spans = capture.spans_named("INSERT models");
    assert_eq!(
        spans
            .last()
            .and_then(|s| s.attr_str("error.type"))
            .as_deref(),
        Some("23502")
    );
    assert!(!capture.span("ROLLBACK").is_error());
}

#[tokio::test]
async fn a_refused_connection_is_recorded_and_returned() {
    let mut server = Postgres::start();
    let url = server.url();
    server.stop();
    let capture = capture();
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy(&url)
        .expect("a lazy pool");
    let pool = maestro_trace::sqlx::instrument(pool);
    let error = sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .expect_err("nothing listens");

    let select = capture.span("SELECT");
    let acquire = capture.span("acquire_connection");
    assert!(acquire.is_child_of(&select));
    let expected = match &error {
        sqlx::Error::Io(io) => {
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{error}");
            "io"
        }
        // The pool retries a refused connection until its acquire timeout.
        sqlx::Error::PoolTimedOut => "pool_timed_out",
        other => panic!("unexpected error for a refused connection: {other}"),
    };
    for span in [&select, &acquire] {
        assert!(span.is_error(), "{}", span.name());
        assert_eq!(span.attr_str("error.type").as_deref(), Some(expected));
    }
    assert_eq!(select.attr_i64("server.port"), Some(i64::from(server.port)));
}
