//! With tracing off, and under an unsampled parent, a statement through an instrumented pool
//! allocates what the same statement through the bare pool does: the integration adds nothing
//! (and so cannot have copied, parsed or sanitised the statement). A counting global allocator
//! sees every allocation of this (single-test) binary, sqlx's own included, so the two paths are
//! compared with each other, alternating, after a warm-up.

use maestro_trace::sdk::trace::Sampler;
use maestro_trace::sqlx::TracedPool;
use maestro_trace::{span, TraceFutureExt};
use maestro_trace_tests::counting::{fewest_allocations, Counting};
use sqlx::{Pool, Sqlite};

#[global_allocator]
static GLOBAL: Counting = Counting;

const STATEMENT: &str = "SELECT id, name FROM models WHERE id > $1 AND name <> 'x'";

async fn run(pool: impl sqlx::Executor<'_, Database = Sqlite>) -> usize {
    sqlx::query(STATEMENT)
        .bind(0_i64)
        .fetch_all(pool)
        .await
        .map(|rows| rows.len())
        .unwrap_or(usize::MAX)
}

const ROUNDS: usize = 200;

/// How far apart the two paths' fewest allocations may be by chance: sqlx's SQLite worker
/// thread makes the same statement cost 19 to 21 allocations from run to run, on either path.
/// Measured by comparing the bare pool with itself, as `compare` does, 36 times in 6 processes:
/// the two fewest counts differed by 2 in 7 of them (e.g. 19 vs 21), so 1 made this test fail
/// about one run in four. Starting a span for a statement, by contrast, adds 13.
const NOISE: usize = 2;

/// The fewest allocations one statement made through the bare pool and through the traced one.
async fn compare(bare: &Pool<Sqlite>, traced: &TracedPool<Sqlite>) -> (usize, usize) {
    fewest_allocations(
        ROUNDS,
        || async move { assert_eq!(run(bare).await, 2) },
        || async move { assert_eq!(run(traced).await, 2) },
    )
    .await
}

#[test]
fn statements_allocate_nothing_extra_when_off_or_unsampled() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let bare = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("SQLite");
        sqlx::raw_sql("CREATE TABLE models (id INTEGER, name TEXT); INSERT INTO models VALUES (1, 'a'), (2, 'b')")
            .execute(&bare)
            .await
            .expect("schema");
        let traced = maestro_trace::sqlx::instrument(bare.clone());
        // Warm up: the statement cache, the pool's idle queue, the thread's context stack.
        let _ = compare(&bare, &traced).await;

        // Tracing off: no pipeline installed.
        let (through_bare, through_traced) = compare(&bare, &traced).await;
        assert!(through_traced <= through_bare + NOISE, "tracing off: {through_traced} vs {through_bare}");

        // A parent-based sampler under an unsampled root.
        let capture = maestro_trace::testing::capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOff)));
        let request = span!("handle_request");
        assert!(!request.is_recording());
        let (through_bare, through_traced) = compare(&bare, &traced).in_span(request).await;
        assert!(through_traced <= through_bare + NOISE, "unsampled parent: {through_traced} vs {through_bare}");
        assert_eq!(capture.names(), Vec::<String>::new());

        // Sampled, the same statements are traced (the comparison above can tell).
        drop(capture);
        let capture = maestro_trace::testing::capture();
        let (through_bare, through_traced) = compare(&bare, &traced).await;
        assert!(through_traced > through_bare, "{through_traced} vs {through_bare}");
        assert_eq!(capture.spans_named("SELECT models").len(), ROUNDS);
    });
}
