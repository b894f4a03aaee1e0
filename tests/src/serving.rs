//! A traced actix-web server on a free loopback port, for tests of spans that start on a
//! server's worker thread.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, Route};
use maestro_trace::TracingMiddleware;

/// Starts a server with [`TracingMiddleware`] and one route (`path`, served by `route()`) on one
/// worker, spawned on the current actix system; returns its address and the handle that stops it.
///
/// # Panics
/// If no loopback port can be bound.
pub fn traced_server(path: &'static str, route: fn() -> Route) -> (SocketAddr, ServerHandle) {
    let server = HttpServer::new(move || {
        App::new()
            .wrap(TracingMiddleware::default())
            .route(path, route())
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind a loopback port");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}
