//! `TracingMiddleware`: one server span per actix-web request.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use maestro_trace::TracingMiddleware;
//!
//! let app = App::new()
//!     .wrap(
//!         TracingMiddleware::default()
//!             .exclude_urls(["health", "metrics", "readiness", "liveness"])
//!             .capture_request_headers(["x-tenant-id"])
//!             .trace_id_response_header("x-trace-id"),
//!     )
//!     .route("/models/{id}", web::get().to(|| async { HttpResponse::Ok().finish() }));
//! # drop(app);
//! ```
//!
//! The span is named `"{METHOD} {route template}"` (`GET /models/{id}`), or `"{METHOD}"` when
//! no route matched (`HTTP` standing for a method outside the semantic conventions' set, recorded
//! as `_OTHER` with `http.request.method_original`); its parent is extracted from the request
//! headers with the global propagator `init` installed. Handlers run with it current, so
//! `#[traced]` code inside nests under it across `.await`s. It ends once the response body has
//! been streamed (or dropped). Secret query values and captured secret headers are recorded as
//! [`REDACTED`], by the policy client spans follow too.

mod request;
mod response;
mod service;
mod settings;

pub use self::response::TracedBody;
pub use self::service::{TracedResponse, TracingService};
pub use self::settings::{HttpSemconv, TracingMiddleware, DEFAULT_REDACTED_HEADERS, PROBE_URLS};
pub use crate::http::{DEFAULT_REDACTED_QUERY_PARAMS, REDACTED};
