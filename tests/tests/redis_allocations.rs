//! With tracing off, and under an unsampled parent, a command through an instrumented redis
//! connection allocates what the same command through the bare connection does: the command is
//! not looked at. A counting global allocator sees every allocation of this (single-test)
//! binary, the client's own included, so the two paths are compared with each other.

use maestro_trace::redis::TracedConnection;
use maestro_trace::sdk::trace::Sampler;
use maestro_trace::{span, TraceFutureExt};
use maestro_trace_tests::counting::{fewest_allocations, Counting};
use maestro_trace_tests::redis::Redis;
use redis::aio::{ConnectionLike, MultiplexedConnection};

#[global_allocator]
static GLOBAL: Counting = Counting;

const ROUNDS: usize = 200;

/// How far apart the two paths' fewest allocations may be by chance (the client's background
/// task now and then grows a buffer in either round); starting a span for a command adds more
/// than 10.
const NOISE: usize = 1;

async fn get(conn: &mut impl ConnectionLike) -> Option<String> {
    redis::cmd("GET")
        .arg("model:bert-base")
        .query_async(conn)
        .await
        .ok()
        .flatten()
}

/// The fewest allocations one `GET` made through the bare and through the traced connection
/// (each call on a clone: a handle on the same multiplexed connection, cloned without
/// allocating).
async fn compare(
    bare: &MultiplexedConnection,
    traced: &TracedConnection<MultiplexedConnection>,
) -> (usize, usize) {
    fewest_allocations(
        ROUNDS,
        || {
            let mut bare = bare.clone();
            async move { assert_eq!(get(&mut bare).await.as_deref(), Some("card")) }
        },
        || {
            let mut traced = traced.clone();
            async move { assert_eq!(get(&mut traced).await.as_deref(), Some("card")) }
        },
    )
    .await
}

#[test]
fn commands_allocate_nothing_extra_when_off_or_unsampled() {
    let server = Redis::start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = redis::Client::open(server.url(0)).expect("a redis URL");
        let mut bare = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis");
        let () = redis::cmd("SET")
            .arg("model:bert-base")
            .arg("card")
            .query_async(&mut bare)
            .await
            .expect("set");
        let traced = maestro_trace::redis::instrument(bare.clone(), client.get_connection_info());
        let _ = compare(&bare, &traced).await;

        let (through_bare, through_traced) = compare(&bare, &traced).await;
        assert!(
            through_traced <= through_bare + NOISE,
            "tracing off: {through_traced} vs {through_bare}"
        );

        let capture = maestro_trace::testing::capture_with_sampler(Sampler::ParentBased(Box::new(
            Sampler::AlwaysOff,
        )));
        let request = span!("handle_request");
        assert!(!request.is_recording());
        let (through_bare, through_traced) = compare(&bare, &traced).in_span(request).await;
        assert!(
            through_traced <= through_bare + NOISE,
            "unsampled parent: {through_traced} vs {through_bare}"
        );
        assert_eq!(capture.names(), Vec::<String>::new());

        drop(capture);
        let capture = maestro_trace::testing::capture();
        let (through_bare, through_traced) = compare(&bare, &traced).await;
        assert!(
            through_traced > through_bare + NOISE,
            "{through_traced} vs {through_bare}"
        );
        assert_eq!(capture.spans_named("GET").len(), ROUNDS);
    });
}
