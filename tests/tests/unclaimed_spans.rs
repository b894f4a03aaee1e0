//! A span of no capture's trace, such as the server span of a request without `traceparent` on
//! a server's worker thread, goes to every capture alive when it ends. One test per binary: a
//! capture of another test alive at the time would see these spans too.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use maestro_trace::otel::trace::SpanKind;
use maestro_trace::testing;
use maestro_trace_tests::serving::traced_server;

async fn health() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

#[actix_web::test]
async fn a_request_without_traceparent_on_a_worker_thread_is_seen_by_every_alive_capture() {
    let first = testing::capture();
    let second = testing::capture();
    let (addr, handle) = traced_server("/models", || web::get().to(health));

    let mut response = awc::Client::new()
        .get(format!("http://{addr}/models"))
        .send()
        .await
        .expect("request succeeds");
    assert_eq!(response.body().await.expect("body"), "ok");
    for _ in 0..100 {
        if !first.spans().is_empty() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    handle.stop(true).await;

    for capture in [&first, &second] {
        let served = capture.span("GET /models");
        assert_eq!(served.kind(), SpanKind::Server);
        assert!(served.is_root(), "{}", capture.tree());
    }
}
