//! `testing::capture` under `cargo test`'s parallel runner: captures alive at the same time on
//! different threads each see only the spans of the work they ran (whatever thread or server
//! that work reached), captures nest on one thread, and each capture's sampler decides for its
//! own traces.

use std::sync::mpsc;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use maestro_trace::prelude::*;
use maestro_trace::sdk::trace::Sampler;
use maestro_trace::span;
use maestro_trace::testing::{self, Capture};
use maestro_trace_tests::serving::traced_server;

/// How long a step may take before the test calls it stuck (captures waiting on each other).
const PATIENCE: Duration = Duration::from_secs(30);

#[traced("train_model_job", attrs(epochs))]
fn train(epochs: i64) -> f64 {
    span!("load_training_dataset").in_scope(|| 0.5 * epochs as f64)
}

/// Runs `work(i)` on one thread per entry of `samplers`, each under its own capture, all of the
/// captures alive at once while any work runs; returns each thread's capture result.
fn concurrently<R: Send + 'static>(
    samplers: Vec<Sampler>,
    work: fn(usize),
    check: fn(usize, &Capture) -> R,
) -> Vec<R> {
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut go = Vec::new();
    let mut handles = Vec::new();
    for (i, sampler) in samplers.into_iter().enumerate() {
        let ready = ready_tx.clone();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        go.push(go_tx);
        handles.push(std::thread::spawn(move || {
            let capture = testing::capture_with_sampler(sampler);
            ready.send(()).expect("main thread waits");
            go_rx.recv().expect("go");
            work(i);
            ready.send(()).expect("main thread waits");
            go_rx.recv().expect("check");
            check(i, &capture)
        }));
    }
    let wait_all = |what: &str| {
        for _ in 0..go.len() {
            ready_rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!("a thread never {what}: captures on different threads wait for each other")
            });
        }
    };
    wait_all("started its capture");
    go.iter().for_each(|tx| tx.send(()).expect("thread waits"));
    wait_all("finished its work");
    go.iter().for_each(|tx| tx.send(()).expect("thread waits"));
    handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
        .collect()
}

#[test]
fn captures_alive_at_once_on_two_threads_each_see_only_their_own_spans() {
    concurrently(
        vec![Sampler::AlwaysOn, Sampler::AlwaysOn],
        |i| {
            train(i as i64 + 1);
        },
        |i, capture| {
            let job = capture.span("train_model_job");
            assert_eq!(
                job.attr_i64("epochs"),
                Some(i as i64 + 1),
                "{}",
                capture.tree()
            );
            assert!(capture.span("load_training_dataset").is_child_of(&job));
            assert_eq!(capture.spans().len(), 2, "{}", capture.tree());
        },
    );
}

#[test]
fn each_capture_samples_its_own_traces_with_its_own_sampler() {
    let recorded = concurrently(
        vec![Sampler::AlwaysOn, Sampler::AlwaysOff],
        |_| {
            train(3);
        },
        |_, capture| capture.names(),
    );
    assert_eq!(
        recorded,
        [
            vec![
                "train_model_job".to_owned(),
                "load_training_dataset".to_owned()
            ],
            Vec::new()
        ]
    );
}

#[test]
fn work_on_other_threads_and_tasks_follows_its_trace_into_its_capture() {
    concurrently(
        vec![Sampler::AlwaysOn, Sampler::AlwaysOn],
        |i| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .expect("runtime");
            runtime.block_on(
                async move {
                    let task = maestro_trace::spawn(async move { train(i as i64 + 10) });
                    task.await.expect("task");
                }
                .in_span(span!("schedule_training", worker = i as i64)),
            );
        },
        |i, capture| {
            let schedule = capture.span("schedule_training");
            assert_eq!(schedule.attr_i64("worker"), Some(i as i64));
            let job = capture.span("train_model_job");
            assert!(job.is_child_of(&schedule), "{}", capture.tree());
            assert_eq!(job.attr_i64("epochs"), Some(i as i64 + 10));
        },
    );
}

async fn get_model(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(format!("model-{id}"))
}

/// Sends one traced request from `thread` to a traced server of its own, which serves it on its
/// worker thread.
fn call_a_traced_server(thread: usize) {
    actix_web::rt::System::new().block_on(async move {
        let (addr, handle) = traced_server("/models/{id}", || web::get().to(get_model));
        let client = awc::Client::new();
        let mut response = client
            .get(format!("http://{addr}/models/m{thread}"))
            .send_traced()
            .in_span(span!("load_remote_model", thread = thread as i64))
            .await
            .expect("request succeeds");
        assert_eq!(
            response.body().await.expect("body"),
            format!("model-m{thread}").as_bytes()
        );
        // The server span ends once its body is streamed, on the worker thread: stop the server
        // gracefully so it has.
        handle.stop(true).await;
    });
}

#[test]
fn server_spans_continuing_a_client_span_go_to_the_capture_of_the_client() {
    concurrently(
        vec![Sampler::AlwaysOn, Sampler::AlwaysOn],
        call_a_traced_server,
        |i, capture| {
            let caller = capture.span("load_remote_model");
            assert_eq!(caller.attr_i64("thread"), Some(i as i64));
            let client = capture.span("GET");
            let served = capture.span("GET /models/{id}");
            assert!(client.is_child_of(&caller), "{}", capture.tree());
            assert!(served.is_child_of(&client), "{}", capture.tree());
            assert_eq!(
                served.attr_str("url.path"),
                Some(format!("/models/m{i}")),
                "{}",
                capture.tree()
            );
        },
    );
}

#[traced("load_model_weights", root)]
fn load_model_weights() {}

/// Runs `f` on its own thread, failing if it does not finish in time (e.g. it deadlocked).
fn within<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("did not finish: a capture waits for another on the same thread"),
    }
}

#[test]
fn captures_nest_on_one_thread_and_traces_stay_with_the_capture_they_started_under() {
    within(|| {
        let outer = testing::capture();
        let request = span!("handle_request");
        let inner_names = request.in_scope(|| {
            let inner = testing::capture();
            // A child of the outer capture's trace stays there; a new trace is the inner one's.
            span!("validate_model").in_scope(|| ());
            load_model_weights();
            inner.names()
        });
        span!("publish_model").in_scope(|| ());
        assert_eq!(inner_names, ["load_model_weights"]);
        assert_eq!(
            outer.names(),
            ["handle_request", "validate_model", "publish_model"]
        );
    });
}

#[test]
fn captures_may_end_in_any_order() {
    within(|| {
        let first = testing::capture();
        let second = testing::capture();
        drop(first);
        span!("score_request").in_scope(|| ());
        assert_eq!(second.names(), ["score_request"]);
    });
}
