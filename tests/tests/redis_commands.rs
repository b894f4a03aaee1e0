//! Commands and pipelines through an instrumented redis connection, against a real
//! `redis-server` (one per test, see `maestro_trace_tests::redis`): client spans with the
//! arguments hidden, error replies and a server killed under load recorded and returned
//! unchanged.

use std::time::Duration;

use maestro_trace::otel::trace::SpanKind;
use maestro_trace::redis::TracedConnection;
use maestro_trace::testing::capture;
use maestro_trace::traced;
use maestro_trace_tests::redis::Redis;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::AsyncCommands as _;

async fn multiplexed(server: &Redis, db: u8) -> TracedConnection<MultiplexedConnection> {
    let client = redis::Client::open(server.url(db)).expect("a redis URL");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", server.url(db), server.log()));
    maestro_trace::redis::instrument(conn, client.get_connection_info())
}

#[traced("find_model")]
async fn cached_model(
    cache: &mut TracedConnection<MultiplexedConnection>,
    id: &str,
) -> redis::RedisResult<Option<String>> {
    cache.get(format!("model:{id}")).await
}

#[tokio::test]
async fn commands_are_client_spans_with_their_arguments_hidden() {
    let server = Redis::start();
    let capture = capture();
    let mut cache = multiplexed(&server, 3).await;
    let () = redis::cmd("SET")
        .arg("model:bert-base")
        .arg("secret-card")
        .arg("EX")
        .arg(60)
        .query_async(&mut cache)
        .await
        .expect("set");
    assert_eq!(
        cached_model(&mut cache, "bert-base")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("secret-card")
    );
    assert_eq!(
        cached_model(&mut cache, "gpt-unknown").await.ok(),
        Some(None)
    );

    let set = capture.span("SET");
    assert_eq!(set.kind(), SpanKind::Client);
    assert!(set.is_root());
    assert_eq!(
        set.attr_str("db.query.text").as_deref(),
        Some("SET ? ? ? ?")
    );
    let gets = capture.spans_named("GET");
    let finds = capture.spans_named("find_model");
    assert_eq!((gets.len(), finds.len()), (2, 2));
    for (get, find) in gets.iter().zip(&finds) {
        assert!(get.is_child_of(find));
        assert!(!get.is_error());
    }
    for span in [&set, &gets[0]] {
        assert_eq!(span.attr_str("db.system.name").as_deref(), Some("redis"));
        assert_eq!(span.attr_str("db.namespace").as_deref(), Some("3"));
        assert_eq!(
            span.attr_str("server.address").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(span.attr_i64("server.port"), Some(i64::from(server.port)));
        // Keys and values never reach the span.
        let recorded = format!("{:?}", span.attributes());
        assert!(
            !recorded.contains("bert-base") && !recorded.contains("secret"),
            "{recorded}"
        );
    }
    assert_eq!(
        gets[0].attr_str("db.operation.name").as_deref(),
        Some("GET")
    );
    assert_eq!(gets[0].attr_str("db.query.text").as_deref(), Some("GET ?"));
}

#[tokio::test]
async fn pipelines_and_transactions_are_one_span_each() {
    let server = Redis::start();
    let capture = capture();
    let mut cache = multiplexed(&server, 0).await;
    let (hits,): (i64,) = redis::pipe()
        .set("hits", 1)
        .ignore()
        .incr("hits", 2)
        .query_async(&mut cache)
        .await
        .expect("pipeline");
    assert_eq!(hits, 3);
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("hits", 1)
        .incr("misses", 1)
        .query_async(&mut cache)
        .await
        .expect("transaction");
    assert_eq!((a, b), (4, 1));

    let pipeline = capture.span("PIPELINE");
    assert_eq!(
        pipeline.attr_str("db.operation.name").as_deref(),
        Some("PIPELINE")
    );
    assert_eq!(
        pipeline.attr_str("db.query.text").as_deref(),
        Some("SET ? ?; INCRBY ? ?")
    );
    assert_eq!(pipeline.attr_i64("db.operation.batch.size"), Some(2));
    let multi = capture.span("MULTI");
    assert_eq!(
        multi.attr_str("db.query.text").as_deref(),
        Some("INCRBY ? ?; INCRBY ? ?")
    );
    assert_eq!(multi.attr_str("db.namespace").as_deref(), Some("0"));
    assert_eq!(capture.names(), ["PIPELINE", "MULTI"]);
}

#[tokio::test]
async fn an_error_reply_marks_the_span_and_is_returned() {
    let server = Redis::start();
    let capture = capture();
    let mut cache = multiplexed(&server, 0).await;
    let () = cache.set("model:bert-base", "card").await.expect("set");
    let error = cache
        .lpush::<_, _, i64>("model:bert-base", "x")
        .await
        .expect_err("a list command on a string");
    assert_eq!(error.code(), Some("WRONGTYPE"), "{error}");

    let lpush = capture.span("LPUSH");
    assert!(lpush.is_error());
    assert_eq!(lpush.attr_str("error.type").as_deref(), Some("WRONGTYPE"));
    let message = lpush
        .event("exception")
        .attr_str("exception.message")
        .unwrap_or_default();
    assert!(message.contains("WRONGTYPE"), "{message}");

    // One failing command fails its pipeline's span too.
    let failed: redis::RedisResult<(i64, i64)> = redis::pipe()
        .incr("counter", 1)
        .lpush("model:bert-base", "x")
        .query_async(&mut cache)
        .await;
    assert!(failed.is_err());
    let pipeline = capture.span("PIPELINE");
    assert!(pipeline.is_error());
    assert_eq!(
        pipeline.attr_str("error.type").as_deref(),
        Some("WRONGTYPE")
    );
    assert!(!capture.span("SET").is_error());
}

#[tokio::test]
async fn a_server_killed_under_load_is_recorded_and_returned() {
    let mut server = Redis::start();
    let client = redis::Client::open(server.url(0)).expect("a redis URL");
    let capture = capture();
    // Quick to give up once the server is gone, so the load keeps going.
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(20))
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_response_timeout(Some(Duration::from_millis(500)));
    let manager = ConnectionManager::new_with_config(client.clone(), config)
        .await
        .expect("connection manager");
    let mut cache = maestro_trace::redis::instrument(manager, client.get_connection_info());
    let mut outcomes = Vec::new();
    let run = async {
        for i in 0..100 {
            if i == 50 {
                server.kill();
            }
            outcomes.push(cache.incr::<_, _, i64>("requests", 1).await);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("every command returned");

    let (ok, failed): (Vec<_>, Vec<_>) = outcomes.iter().partition(|o| o.is_ok());
    assert_eq!(ok.len(), 50, "every command before the kill succeeds");
    assert_eq!(failed.len(), 50);
    let spans = capture.spans_named("INCRBY");
    assert_eq!(spans.len(), 100, "{:?}", capture.names());
    for (span, outcome) in spans.iter().zip(&outcomes) {
        assert_eq!(span.is_error(), outcome.is_err());
        if let Err(error) = outcome {
            let recorded = span.attr_str("error.type").unwrap_or_default();
            assert!(
                // The broken pipe at the kill, then refused reconnections.
                ["connection_dropped", "io"].contains(&recorded.as_str()),
                "{recorded}: {error}"
            );
            assert_eq!(
                span.event("exception").attr_str("exception.message"),
                Some(error.to_string())
            );
        }
    }
}
