//! A traced actix-web server on a free loopback port, for tests of spans that start on a
//! server's worker thread.

use std::net::SocketAddr;

use actix_web::dev::ServerHandle;
use actix_web::{App, Route};
use maestro_trace::TracingMiddleware;

/// Starts `HttpServer::new($factory)` on one worker on a free loopback port, spawned on the
/// current actix system (signals left to the test); evaluates to its address and the handle
/// that stops it. A macro, as `HttpServer::new` takes any app factory.
///
/// # Panics
/// If no loopback port can be bound.
#[macro_export]
macro_rules! serve {
    ($factory:expr) => {{
        let server = ::actix_web::HttpServer::new($factory)
            .workers(1)
            .disable_signals()
            .bind(("127.0.0.1", 0))
            .expect("bind a loopback port");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        ::actix_web::rt::spawn(server);
        (addr, handle)
    }};
}

/// Starts a server with [`TracingMiddleware`] and one route (`path`, served by `route()`) on one
/// worker, spawned on the current actix system; returns its address and the handle that stops it.
///
/// # Panics
/// If no loopback port can be bound.
pub fn traced_server(path: &'static str, route: fn() -> Route) -> (SocketAddr, ServerHandle) {
    crate::serve!(move || {
        App::new()
            .wrap(TracingMiddleware::default())
            .route(path, route())
    })
}
