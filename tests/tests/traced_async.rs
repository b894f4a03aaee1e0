//! `#[traced]` on async code: the span is current during every poll, children nest across
//! `.await`, interleaved futures stay apart, and a dropped future still ends its span.

use std::future::Future;
use std::time::Duration;

use maestro_trace::otel::trace::SpanKind;
use maestro_trace::{span, testing, traced, TraceFutureExt};

#[traced("fetch_model_from_registry", kind = client, attrs(model.version = version))]
async fn fetch_model(version: &str) -> Vec<u8> {
    tokio::task::yield_now().await;
    verify_checksum().await;
    vec![1, 2, 3]
}

#[traced("verify_checksum")]
async fn verify_checksum() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[traced("deploy_model")]
async fn deploy(version: &str) -> usize {
    let weights = fetch_model(version).await;
    tokio::task::yield_now().await;
    span!("create_k8s_deployment", replicas = 3).in_scope(|| ());
    weights.len()
}

#[tokio::test]
async fn children_nest_across_await() {
    let capture = testing::capture();
    assert_eq!(deploy("v1.2").await, 3);

    let deploy = capture.span("deploy_model");
    let fetch = capture.span("fetch_model_from_registry");
    let verify = capture.span("verify_checksum");
    let k8s = capture.span("create_k8s_deployment");
    assert!(deploy.is_root());
    assert!(fetch.is_child_of(&deploy), "{}", capture.tree());
    assert!(verify.is_child_of(&fetch));
    assert!(
        k8s.is_child_of(&deploy),
        "span! after an await is still under the async span"
    );
    assert_eq!(fetch.kind(), SpanKind::Client);
    assert_eq!(fetch.attr_str("model.version").as_deref(), Some("v1.2"));
}

#[traced("interleaved_request")]
async fn request(id: i64, pause_ms: u64) -> i64 {
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        span!("interleaved_step_check", request = id).in_scope(|| ());
    }
    id
}

#[tokio::test(flavor = "current_thread")]
async fn interleaved_futures_on_one_thread_never_see_each_others_span() {
    let capture = testing::capture();
    let (a, b) = tokio::join!(request(1, 2), request(2, 1));
    assert_eq!((a, b), (1, 2));

    let parents = capture.spans_named("interleaved_request");
    assert_eq!(parents.len(), 2);
    let steps = capture.spans_named("interleaved_step_check");
    assert_eq!(steps.len(), 6);
    for step in &steps {
        let id = step.attr_i64("request").expect("request attribute");
        let parent = parents
            .iter()
            .find(|p| step.is_child_of(p))
            .unwrap_or_else(|| panic!("step without parent:\n{}", capture.tree()));
        // The parent is the request that recorded the same id.
        let sibling_ids: Vec<i64> = steps
            .iter()
            .filter(|s| s.is_child_of(parent))
            .filter_map(|s| s.attr_i64("request"))
            .collect();
        assert!(
            sibling_ids.iter().all(|sid| *sid == id),
            "{}",
            capture.tree()
        );
    }
}

#[traced("stream_predictions")]
async fn slow_forever() {
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_future_dropped_unfinished_ends_its_span_marked_cancelled() {
    let capture = testing::capture();
    let outcome = tokio::time::timeout(Duration::from_millis(5), slow_forever()).await;
    assert!(outcome.is_err(), "timed out");

    let span = capture.span("stream_predictions");
    span.event(maestro_trace::CANCELLED_EVENT);
    assert!(!span.is_error());
}

#[traced("compute_embeddings")]
async fn panicking_embedding() -> usize {
    tokio::task::yield_now().await;
    panic!("embedding dimension mismatch");
}

#[tokio::test]
async fn a_panic_inside_a_poll_ends_the_span_with_error() {
    let capture = testing::capture();
    let handle = tokio::spawn(panicking_embedding());
    assert!(handle.await.is_err(), "the task panicked");

    let span = capture.span("compute_embeddings");
    assert!(span.is_error());
    assert_eq!(
        span.event("exception")
            .attr_str("exception.message")
            .as_deref(),
        Some("embedding dimension mismatch")
    );
    assert!(span
        .events()
        .iter()
        .all(|e| e.name() != maestro_trace::CANCELLED_EVENT));
}

#[traced("warm_cache", attrs(entries))]
fn warm_cache(entries: i64) -> impl Future<Output = i64> {
    async move {
        tokio::task::yield_now().await;
        span!("load_cache_entries").in_scope(|| ());
        entries
    }
}

#[tokio::test]
async fn functions_returning_an_async_block_are_traced_across_polls() {
    let capture = testing::capture();
    let future = warm_cache(12);
    assert_eq!(future.await, 12);

    let warm = capture.span("warm_cache");
    assert_eq!(warm.attr_i64("entries"), Some(12));
    assert!(capture.span("load_cache_entries").is_child_of(&warm));
}

#[traced("save_to_database")]
async fn save() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_and_in_current_span_keep_tasks_in_the_trace() {
    let capture = testing::capture();
    async {
        let spawned = maestro_trace::spawn(save());
        let carried = tokio::spawn(save().in_current_span());
        let detached = tokio::spawn(save());
        let _ = tokio::join!(spawned, carried, detached);
    }
    .in_span(span!("handle_batch_upload"))
    .await;

    let parent = capture.span("handle_batch_upload");
    let saves = capture.spans_named("save_to_database");
    assert_eq!(saves.len(), 3);
    let under_parent = saves.iter().filter(|s| s.is_child_of(&parent)).count();
    assert_eq!(
        under_parent,
        2,
        "spawn and in_current_span carry the context:\n{}",
        capture.tree()
    );
    assert_eq!(
        saves.iter().filter(|s| s.is_root()).count(),
        1,
        "a bare tokio::spawn does not"
    );
}

#[async_trait::async_trait]
trait ModelStore {
    async fn load(&self, id: &str) -> Result<usize, String>;
    async fn store(&mut self, id: String) -> Result<(), String>;
}

struct MemoryStore {
    models: Vec<String>,
}

#[async_trait::async_trait]
impl ModelStore for MemoryStore {
    #[traced("load_model_record", attrs(model.id = id, store.size = self.models.len()))]
    #[maestro_trace::record_errors]
    async fn load(&self, id: &str) -> Result<usize, String> {
        tokio::task::yield_now().await;
        verify_checksum().await;
        self.models
            .iter()
            .position(|m| m == id)
            .ok_or_else(|| format!("model {id} not found"))
    }

    #[maestro_trace::record_errors]
    #[traced("store_model_record", attrs(model.id = id))]
    async fn store(&mut self, id: String) -> Result<(), String> {
        if id.is_empty() {
            return Err("empty model id".into());
        }
        self.models.push(id);
        Ok(())
    }
}

#[tokio::test]
async fn async_trait_methods_in_either_attribute_order() {
    let capture = testing::capture();
    let mut store = MemoryStore {
        models: vec!["bert".into()],
    };
    assert_eq!(store.load("bert").await, Ok(0));
    assert!(store.load("gpt").await.is_err());
    assert!(store.store(String::new()).await.is_err());
    assert!(store.store("t5".into()).await.is_ok());

    let loads = capture.spans_named("load_model_record");
    assert_eq!(loads.len(), 2);
    assert_eq!(loads[0].attr_i64("store.size"), Some(1));
    assert!(!loads[0].is_error());
    assert!(loads[1].is_error());
    assert_eq!(
        loads[1]
            .event("exception")
            .attr_str("exception.message")
            .as_deref(),
        Some("model gpt not found")
    );
    assert!(capture.spans_named("verify_checksum")[0].is_child_of(&loads[0]));

    let stores = capture.spans_named("store_model_record");
    assert!(
        stores[0].is_error(),
        "record_errors above traced records on the traced span"
    );
    assert!(!stores[1].is_error());
}

#[tokio::main(flavor = "current_thread")]
#[traced("serve_forecasts")]
async fn serve_main() -> usize {
    verify_checksum().await;
    7
}

#[traced("serve_batch_scoring")]
#[tokio::main(flavor = "current_thread")]
async fn serve_main_other_order() -> usize {
    verify_checksum().await;
    8
}

#[test]
fn tokio_main_in_either_order() {
    let capture = testing::capture();
    assert_eq!(serve_main(), 7);
    assert_eq!(serve_main_other_order(), 8);
    let checks = capture.spans_named("verify_checksum");
    assert!(
        checks[0].is_child_of(&capture.span("serve_forecasts")),
        "{}",
        capture.tree()
    );
    assert!(
        checks[1].is_child_of(&capture.span("serve_batch_scoring")),
        "{}",
        capture.tree()
    );
}

#[traced("prefetch_shards", attrs(shards))]
fn prefetch(shards: i64) -> impl Future<Output = i64> + Send {
    let doubled = shards * 2;
    fetch_shards(doubled)
}

async fn fetch_shards(n: i64) -> i64 {
    tokio::task::yield_now().await;
    span!("download_shard_manifest").in_scope(|| ());
    n
}

#[tokio::test]
async fn an_impl_future_whose_tail_is_a_call_is_traced_across_its_polls() {
    let capture = testing::capture();
    assert_eq!(prefetch(4).await, 8);
    let prefetch = capture.span("prefetch_shards");
    assert!(
        capture
            .span("download_shard_manifest")
            .is_child_of(&prefetch),
        "the span covers the returned future's polls, not just its creation:\n{}",
        capture.tree()
    );
}
