//! Panics on a real actix-web server with two workers, over real HTTP connections (reliability
//! item 4): a panicking handler and panicking `#[traced]` functions (sync and async) end their
//! spans with status Error and an `exception` event; both workers keep serving, far more
//! requests than there are workers; and requests interleaved on those workers afterwards keep
//! their own trace and parent. `actix_middleware.rs` checks the middleware's side of a panic on
//! one in-process service through actix's test utilities; this runs the server as deployed.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use maestro_trace::otel::trace::{SpanId, TraceId};
use maestro_trace::testing::{self, CapturedSpan};
use maestro_trace::{event, traced, TracingMiddleware};

#[traced("score_features")]
fn score_features(features: &[f64]) -> f64 {
    assert!(!features.is_empty(), "empty feature vector");
    features.iter().sum::<f64>() / features.len() as f64
}

#[traced("load_model_weights", attrs(model.id = id))]
async fn load_model_weights(id: &str) -> usize {
    // Yield to the worker's other requests, so they interleave with this one.
    tokio::time::sleep(Duration::from_millis(2)).await;
    assert!(id != "corrupt", "corrupt weights for model {id}");
    id.len()
}

/// Notes which worker thread serves the request, on the server span.
fn note_worker() {
    let thread = std::thread::current();
    event!(
        "request_served",
        worker = thread.name().unwrap_or("unnamed")
    );
}

async fn predict(kind: web::Path<String>) -> HttpResponse {
    note_worker();
    let features: &[f64] = if kind.as_str() == "empty" {
        &[]
    } else {
        &[0.2, 0.4, 0.9]
    };
    HttpResponse::Ok().body(score_features(features).to_string())
}

async fn get_model(id: web::Path<String>) -> HttpResponse {
    note_worker();
    HttpResponse::Ok().body(load_model_weights(&id).await.to_string())
}

async fn crash() -> HttpResponse {
    note_worker();
    panic!("tensor shape mismatch in handler");
}

/// The worker thread that served the request of `server_span`.
fn worker_of(server_span: &CapturedSpan) -> String {
    server_span
        .event("request_served")
        .attr_str("worker")
        .expect("the worker was noted")
}

fn traceparent(trace: TraceId, parent: SpanId) -> String {
    format!("00-{trace}-{parent}-01")
}

#[actix_web::test]
async fn panics_end_their_spans_with_error_workers_survive_and_later_contexts_stay_separate() {
    let capture = testing::capture();
    let server = HttpServer::new(|| {
        App::new()
            .wrap(TracingMiddleware::default())
            .route("/crash", web::get().to(crash))
            .route("/predict/{kind}", web::get().to(predict))
            .route("/models/{id}", web::get().to(get_model))
    })
    .workers(2)
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let address = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    let running = actix_web::rt::spawn(server);

    // Panics: in the handler, in a sync `#[traced]` function, in an async one. Each on a new
    // connection, so that both workers take some.
    let panicking = ["/crash", "/predict/empty", "/models/corrupt"];
    for round in 0..4 {
        for path in panicking {
            let outcome = awc::Client::default()
                .get(format!("http://{address}{path}"))
                .send()
                .await;
            // The worker drops the connection of a request that panicked: no response.
            assert!(
                outcome
                    .as_ref()
                    .map_or(true, |r| r.status().is_server_error()),
                "round {round}, {path}: {:?}",
                outcome.map(|r| r.status())
            );
        }
    }

    // Afterwards: many more requests than workers, interleaved over a few connections each,
    // half of them continuing a caller's trace.
    let clients: Vec<awc::Client> = (0..8).map(|_| awc::Client::default()).collect();
    let requests = (0..200u128).map(|i| {
        let client = &clients[i as usize % clients.len()];
        let path = if i % 2 == 0 {
            format!("/models/m{i}")
        } else {
            format!("/predict/ok{i}")
        };
        let caller = (i % 4 < 2).then(|| {
            (
                TraceId::from(0x5ca1_ab1e_0000_0000_0000_0000_0000_0000 + i),
                SpanId::from(0x0dd_ba11_0000_0000 + i as u64),
            )
        });
        let mut request = client.get(format!("http://{address}{path}"));
        if let Some((trace, parent)) = caller {
            request = request.insert_header(("traceparent", traceparent(trace, parent)));
        }
        async move {
            let mut response = request.send().await.expect("answered after the panics");
            let body = response.body().await.expect("body");
            assert!(response.status().is_success(), "{path}: {body:?}");
            (path, caller)
        }
    });
    let answered = futures_util::future::join_all(requests).await;
    handle.stop(true).await;
    running.await.expect("server task").expect("server");

    // Each panic ended its spans with Error and an exception event carrying the message.
    let crashed = capture.spans_named("GET /crash");
    assert_eq!(crashed.len(), 4);
    for span in &crashed {
        assert!(span.is_error());
        assert_eq!(span.attr_str("error.type").as_deref(), Some("panic"));
        assert_eq!(
            span.event("exception")
                .attr_str("exception.message")
                .as_deref(),
            Some("tensor shape mismatch in handler")
        );
    }
    let failed_inner = |name: &str, message: &str| -> Vec<CapturedSpan> {
        let failed: Vec<CapturedSpan> = capture
            .spans_named(name)
            .into_iter()
            .filter(CapturedSpan::is_error)
            .collect();
        assert_eq!(failed.len(), 4, "{name}:\n{}", capture.tree());
        for span in &failed {
            let exception = span.event("exception");
            assert_eq!(
                exception.attr_str("exception.type").as_deref(),
                Some("panic")
            );
            assert_eq!(
                exception.attr_str("exception.message").as_deref(),
                Some(message)
            );
        }
        failed
    };
    let sync_panics = failed_inner("score_features", "empty feature vector");
    let async_panics = failed_inner("load_model_weights", "corrupt weights for model corrupt");
    let servers = capture.spans();
    let server_of = |child: &CapturedSpan| -> CapturedSpan {
        servers
            .iter()
            .find(|s| child.is_child_of(s))
            .cloned()
            .unwrap_or_else(|| panic!("{} has no parent:\n{}", child.name(), capture.tree()))
    };
    for inner in sync_panics.iter().chain(&async_panics) {
        let server = server_of(inner);
        assert!(
            server.is_error() && server.attr_str("error.type").as_deref() == Some("panic"),
            "the request's server span failed with its function: {}",
            server.name()
        );
    }
    let crashed_on: BTreeSet<String> = crashed
        .iter()
        .chain(&sync_panics.iter().map(&server_of).collect::<Vec<_>>())
        .map(worker_of)
        .collect();
    assert_eq!(
        crashed_on.len(),
        2,
        "both workers took panics: {crashed_on:?}"
    );

    // Every later request was answered (above), by both workers, and kept its own context:
    // the caller's trace and parent, or a new trace; never a panicked request's.
    let later: Vec<CapturedSpan> = capture
        .spans()
        .into_iter()
        .filter(|s| !s.is_error() && s.attr_str("url.path").is_some())
        .collect();
    assert_eq!(later.len(), answered.len(), "one server span per request");
    let served_on: BTreeSet<String> = later.iter().map(worker_of).collect();
    assert_eq!(served_on, crashed_on, "the workers that panicked served on");
    for (path, caller) in &answered {
        let server = later
            .iter()
            .find(|s| s.attr_str("url.path").as_deref() == Some(path.as_str()))
            .unwrap_or_else(|| panic!("no server span for {path}"));
        match caller {
            Some((trace, parent)) => {
                assert_eq!(server.trace_id(), *trace, "{path}");
                assert_eq!(server.parent_span_id(), *parent, "{path}");
            }
            None => assert!(server.is_root(), "{path} started a new trace"),
        }
        let children: Vec<CapturedSpan> = capture
            .spans()
            .into_iter()
            .filter(|s| s.is_child_of(server))
            .collect();
        assert_eq!(
            children.len(),
            1,
            "{path}: its one traced call nests under it"
        );
        assert!(!children[0].is_error());
    }
    let distinct_traces: BTreeSet<String> =
        later.iter().map(|s| s.trace_id().to_string()).collect();
    assert_eq!(
        distinct_traces.len(),
        later.len(),
        "no two requests share a trace"
    );
    eprintln!(
        "panics: {} requests panicked ({} in the handler, {} in a sync #[traced] fn, {} in an async one) on workers {crashed_on:?}; {} later requests answered by {served_on:?}, 0 failed, each in its own trace",
        crashed.len() + sync_panics.len() + async_panics.len(),
        crashed.len(),
        sync_panics.len(),
        async_panics.len(),
        answered.len(),
    );
}
