//! What `TracingMiddleware` is configured with: its builder, the environment it reads, and the
//! rules (exclusions, captured and redacted headers) a request is checked against.

use std::fmt;
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName};
use opentelemetry::{Key, KeyValue, Value};

use crate::env_vars as var;
use crate::error::InitError;
use crate::http::{QueryRedaction, REDACTED};
use crate::span::Span;

/// The probe and metrics URLs services commonly exclude from tracing (`health`, `metrics`,
/// `readiness`, `liveness`).
pub const PROBE_URLS: [&str; 4] = ["health", "metrics", "readiness", "liveness"];
/// Headers whose values are recorded as [`REDACTED`] when captured, whatever is configured.
pub const DEFAULT_REDACTED_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Which HTTP attribute names server spans carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpSemconv {
    /// The stable names (`http.request.method`, `url.path`, `http.response.status_code`, ...).
    #[default]
    Stable,
    /// The stable names and the pre-stable ones (`http.method`, `http.url`,
    /// `http.status_code`, `http.client_ip`, `http.user_agent`, `http.response_time_ms`).
    StableAndLegacy,
}

/// Adds request attributes from the request: `(request, server span)`.
type RequestHook = Arc<dyn Fn(&ServiceRequest, &Span) + Send + Sync>;

/// Traces every request of an actix-web app: see the module docs.
#[derive(Clone, Default)]
pub struct TracingMiddleware {
    pub(super) settings: Settings,
}

#[derive(Clone, Default)]
pub(super) struct Settings {
    pub(super) excluded: Vec<String>,
    pub(super) request_headers: Vec<(HeaderName, Key)>,
    pub(super) response_headers: Vec<(HeaderName, Key)>,
    pub(super) redacted: Vec<HeaderName>,
    pub(super) redacted_query: QueryRedaction,
    pub(super) trace_id_header: Option<HeaderName>,
    pub(super) semconv: HttpSemconv,
    pub(super) hook: Option<RequestHook>,
}

impl fmt::Debug for TracingMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        f.debug_struct("TracingMiddleware")
            .field("excluded", &s.excluded)
            .field(
                "request_headers",
                &s.request_headers.iter().map(|h| &h.0).collect::<Vec<_>>(),
            )
            .field(
                "response_headers",
                &s.response_headers.iter().map(|h| &h.0).collect::<Vec<_>>(),
            )
            .field("redacted", &s.redacted)
            .field("redacted_query", &s.redacted_query)
            .field("trace_id_header", &s.trace_id_header)
            .field("semconv", &s.semconv)
            .field("hook", &s.hook.is_some())
            .finish()
    }
}

fn header_list(var: &'static str, raw: &str) -> Result<Vec<HeaderName>, InitError> {
    raw.split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes()).map_err(|_| {
                InitError::invalid_env(
                    var,
                    raw,
                    format!("comma-separated header names (`{h}` is not one)"),
                )
            })
        })
        .collect()
}

impl TracingMiddleware {
    /// The middleware configured from the environment: excluded URLs
    /// (`OTEL_RUST_ACTIX_EXCLUDED_URLS`), semantic-convention mode
    /// (`OTEL_SEMCONV_STABILITY_OPT_IN=http/dup` adds the pre-stable names), and captured /
    /// redacted headers (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`,
    /// `_SERVER_RESPONSE`, `_SANITIZE_FIELDS`), and extra redacted query parameters
    /// (`OTEL_RUST_ACTIX_REDACT_QUERY_PARAMS`). Builder calls after it override it. An invalid
    /// value is an error naming the variable.
    ///
    /// ```
    /// use actix_web::App;
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # fn main() -> Result<(), maestro_trace::InitError> {
    /// let app = App::new().wrap(TracingMiddleware::from_env()?.trace_id_response_header("x-trace-id"));
    /// # drop(app);
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<Self, InitError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading from `lookup` (a configuration file, a test).
    ///
    /// ```
    /// use maestro_trace::TracingMiddleware;
    ///
    /// let vars = |name: &str| match name {
    ///     "OTEL_RUST_ACTIX_EXCLUDED_URLS" => Some("health,metrics".to_owned()),
    ///     "OTEL_SEMCONV_STABILITY_OPT_IN" => Some("http/dup".to_owned()),
    ///     _ => None,
    /// };
    /// assert!(TracingMiddleware::from_lookup(vars).is_ok());
    ///
    /// let bad = |name: &str| {
    ///     (name == "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST")
    ///         .then(|| "x-tenant-id, not a header".to_owned())
    /// };
    /// let error = TracingMiddleware::from_lookup(bad).unwrap_err();
    /// assert!(error.to_string().contains("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST"));
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let mut middleware = TracingMiddleware::default();
        let mut errors = Vec::new();
        if let Some(raw) = lookup(var::OTEL_RUST_ACTIX_EXCLUDED_URLS) {
            middleware = middleware.exclude_urls(raw.split(',').map(str::trim));
        }
        if let Some(raw) = lookup(var::OTEL_SEMCONV_STABILITY_OPT_IN) {
            // A list of opt-ins for several domains; only `http` and `http/dup` concern us.
            if raw.split(',').any(|t| t.trim() == "http/dup") {
                middleware.settings.semconv = HttpSemconv::StableAndLegacy;
            }
        }
        for (var, request) in [
            (
                var::OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
                true,
            ),
            (
                var::OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
                false,
            ),
        ] {
            if let Some(raw) = lookup(var) {
                match header_list(var, &raw) {
                    Ok(names) => {
                        middleware = if request {
                            middleware.capture_request_headers(names.iter().map(HeaderName::as_str))
                        } else {
                            middleware
                                .capture_response_headers(names.iter().map(HeaderName::as_str))
                        }
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        if let Some(raw) = lookup(var::OTEL_RUST_ACTIX_REDACT_QUERY_PARAMS) {
            middleware = middleware.redact_query_params(raw.split(','));
        }
        if let Some(raw) = lookup(var::OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS) {
            match header_list(
                var::OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS,
                &raw,
            ) {
                Ok(names) => middleware.settings.redacted.extend(names),
                Err(e) => errors.push(e),
            }
        }
        match InitError::from_all(errors) {
            Some(error) => Err(error),
            None => Ok(middleware),
        }
    }

    /// Requests to these URLs get no span: an entry `health` matches `/health` and any path
    /// ending in `/health`; an entry starting with `/` matches that path and everything below it.
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let ok = || async { HttpResponse::Ok().finish() };
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(TracingMiddleware::default().exclude_urls(["health", "/internal"]))
    ///         .route("/api/health", web::get().to(ok))
    ///         .route("/internal/metrics", web::get().to(ok))
    ///         .route("/models", web::get().to(ok)),
    /// )
    /// .await;
    /// for uri in ["/api/health", "/internal/metrics", "/models"] {
    ///     test::call_and_read_body(&app, test::TestRequest::get().uri(uri).to_request()).await;
    /// }
    /// assert_eq!(capture.names(), ["GET /models"]);
    /// # }
    /// ```
    pub fn exclude_urls<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, urls: I) -> Self {
        self.settings.excluded.extend(
            urls.into_iter()
                .map(|u| u.as_ref().trim().to_owned())
                .filter(|u| !u.is_empty()),
        );
        self
    }

    /// Records these request headers as `http.request.header.<name>`, a string array (a header
    /// may repeat); the values of `authorization`, `cookie`, `x-api-key`, ... and of
    /// [`redact_headers`](Self::redact_headers) are recorded as [`REDACTED`].
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::otel::{Array, StringValue, Value};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let middleware = TracingMiddleware::default().capture_request_headers(["x-tenant-id", "authorization"]);
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(middleware)
    ///         .route("/models", web::get().to(|| async { HttpResponse::Ok().finish() })),
    /// )
    /// .await;
    /// let request = test::TestRequest::get()
    ///     .uri("/models")
    ///     .insert_header(("x-tenant-id", "tenant-123"))
    ///     .insert_header(("authorization", "Bearer sk-live"))
    ///     .to_request();
    /// test::call_and_read_body(&app, request).await;
    ///
    /// let strings = |v: &str| Some(Value::Array(Array::String(vec![StringValue::from(v.to_owned())])));
    /// let span = capture.span("GET /models");
    /// assert_eq!(span.attr("http.request.header.x-tenant-id"), strings("tenant-123"));
    /// assert_eq!(span.attr("http.request.header.authorization"), strings("REDACTED"));
    /// # }
    /// ```
    pub fn capture_request_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        names: I,
    ) -> Self {
        self.settings
            .request_headers
            .extend(capture_keys(names, "http.request.header."));
        self
    }

    /// Records these response headers as `http.response.header.<name>`, redacted as
    /// [`capture_request_headers`](Self::capture_request_headers) redacts (`set-cookie` always).
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::otel::{Array, StringValue, Value};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let model = || async { HttpResponse::Ok().insert_header(("x-model-version", "v1.3")).finish() };
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(TracingMiddleware::default().capture_response_headers(["x-model-version"]))
    ///         .route("/models/{id}", web::get().to(model)),
    /// )
    /// .await;
    /// test::call_and_read_body(&app, test::TestRequest::get().uri("/models/bert").to_request()).await;
    ///
    /// let version = Value::Array(Array::String(vec![StringValue::from("v1.3")]));
    /// assert_eq!(capture.span("GET /models/{id}").attr("http.response.header.x-model-version"), Some(version));
    /// # }
    /// ```
    pub fn capture_response_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        names: I,
    ) -> Self {
        self.settings
            .response_headers
            .extend(capture_keys(names, "http.response.header."));
        self
    }

    /// Also redacts these headers when captured (beyond [`DEFAULT_REDACTED_HEADERS`]:
    /// `authorization`, `cookie`, `set-cookie`, `x-api-key`, ... which always are); names are
    /// compared case-insensitively.
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::otel::{Array, StringValue, Value};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let middleware = TracingMiddleware::default()
    ///     .capture_request_headers(["x-internal-token"])
    ///     .redact_headers(["X-Internal-Token"]);
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(middleware)
    ///         .route("/models", web::get().to(|| async { HttpResponse::Ok().finish() })),
    /// )
    /// .await;
    /// let request = test::TestRequest::get()
    ///     .uri("/models")
    ///     .insert_header(("x-internal-token", "secret"))
    ///     .to_request();
    /// test::call_and_read_body(&app, request).await;
    ///
    /// let redacted = Value::Array(Array::String(vec![StringValue::from("REDACTED")]));
    /// assert_eq!(capture.span("GET /models").attr("http.request.header.x-internal-token"), Some(redacted));
    /// # }
    /// ```
    pub fn redact_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, names: I) -> Self {
        self.settings
            .redacted
            .extend(names.into_iter().filter_map(|n| {
                HeaderName::from_bytes(n.as_ref().to_ascii_lowercase().as_bytes()).ok()
            }));
        self
    }

    /// Also redacts the values of these query parameters in `url.query` / `http.url` (beyond
    /// [`DEFAULT_REDACTED_QUERY_PARAMS`](crate::actix::DEFAULT_REDACTED_QUERY_PARAMS): `token`, `access_token`, `api_key`, `password`,
    /// `signature`, ... which always are); names are compared case-insensitively, as the
    /// clients' `maestro_trace::client::redact_query_params` compares them.
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(TracingMiddleware::default().redact_query_params(["session_id"]))
    ///         .route("/models", web::get().to(|| async { HttpResponse::Ok().finish() })),
    /// )
    /// .await;
    /// let request = test::TestRequest::get()
    ///     .uri("/models?page=2&Session_Id=s-42&Token=sk-live")
    ///     .to_request();
    /// test::call_and_read_body(&app, request).await;
    ///
    /// assert_eq!(
    ///     capture.span("GET /models").attr_str("url.query").as_deref(),
    ///     Some("page=2&Session_Id=REDACTED&Token=REDACTED")
    /// );
    /// # }
    /// ```
    pub fn redact_query_params<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        names: I,
    ) -> Self {
        self.settings.redacted_query.extend(names);
        self
    }

    /// Returns the trace id to the caller in this response header (e.g. `x-trace-id`), so a
    /// user reporting a problem can quote it.
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(TracingMiddleware::default().trace_id_response_header("x-trace-id"))
    ///         .route("/models", web::get().to(|| async { HttpResponse::Ok().finish() })),
    /// )
    /// .await;
    /// let response = test::call_service(&app, test::TestRequest::get().uri("/models").to_request()).await;
    /// let returned = response.headers().get("x-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    /// test::read_body(response).await;
    ///
    /// let trace_id = capture.span("GET /models").trace_id().to_string();
    /// assert_eq!(returned, Some(trace_id));
    /// # }
    /// ```
    pub fn trace_id_response_header(mut self, name: &str) -> Self {
        self.settings.trace_id_header =
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok();
        self
    }

    /// Chooses the HTTP attribute names (default: stable only).
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::{HttpSemconv, TracingMiddleware};
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(TracingMiddleware::default().semconv(HttpSemconv::StableAndLegacy))
    ///         .route("/models", web::get().to(|| async { HttpResponse::Ok().finish() })),
    /// )
    /// .await;
    /// test::call_and_read_body(&app, test::TestRequest::get().uri("/models").to_request()).await;
    ///
    /// let span = capture.span("GET /models");
    /// assert_eq!(span.attr_str("http.request.method").as_deref(), Some("GET"));
    /// assert_eq!(span.attr_str("http.method").as_deref(), Some("GET"));
    /// assert_eq!(span.attr_i64("http.status_code"), Some(200));
    /// # }
    /// ```
    pub fn semconv(mut self, mode: HttpSemconv) -> Self {
        self.settings.semconv = mode;
        self
    }

    /// Runs `hook` on every traced request, to add attributes from it (the tenant from a
    /// header, say).
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use maestro_trace::TracingMiddleware;
    ///
    /// # #[actix_web::main]
    /// # async fn main() {
    /// let capture = maestro_trace::testing::capture();
    /// let middleware = TracingMiddleware::default().request_hook(|request, span| {
    ///     if let Some(tenant) = request.headers().get("x-tenant-id").and_then(|v| v.to_str().ok()) {
    ///         span.set_attribute("tenant.id", tenant);
    ///     }
    /// });
    /// let app = test::init_service(
    ///     App::new()
    ///         .wrap(middleware)
    ///         .route("/models", web::get().to(|| async { HttpResponse::Ok().finish() })),
    /// )
    /// .await;
    /// let request = test::TestRequest::get().uri("/models").insert_header(("x-tenant-id", "tenant-123"));
    /// test::call_and_read_body(&app, request.to_request()).await;
    ///
    /// assert_eq!(capture.span("GET /models").attr_str("tenant.id").as_deref(), Some("tenant-123"));
    /// # }
    /// ```
    pub fn request_hook(
        mut self,
        hook: impl Fn(&ServiceRequest, &Span) + Send + Sync + 'static,
    ) -> Self {
        self.settings.hook = Some(Arc::new(hook));
        self
    }
}

fn capture_keys<I: IntoIterator<Item = S>, S: AsRef<str>>(
    names: I,
    prefix: &str,
) -> Vec<(HeaderName, Key)> {
    names
        .into_iter()
        .filter_map(|n| {
            HeaderName::from_bytes(n.as_ref().trim().to_ascii_lowercase().as_bytes()).ok()
        })
        .map(|name| {
            let key = Key::from(Arc::<str>::from(format!("{prefix}{}", name.as_str())));
            (name, key)
        })
        .collect()
}

impl Settings {
    pub(super) fn excludes(&self, path: &str) -> bool {
        self.excluded.iter().any(|entry| {
            if entry.starts_with('/') {
                path == entry
                    || path
                        .strip_prefix(entry.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            } else {
                path.strip_suffix(entry.as_str())
                    .is_some_and(|before| before.ends_with('/'))
            }
        })
    }

    /// How many attributes a server span gets at most, hooks aside: the stable request and
    /// response ones, the captured headers, and the legacy names when enabled.
    pub(super) fn attribute_capacity(&self) -> usize {
        let legacy = match self.semconv {
            HttpSemconv::Stable => 0,
            HttpSemconv::StableAndLegacy => 6,
        };
        12 + self.request_headers.len() + self.response_headers.len() + legacy
    }

    fn redacts(&self, name: &HeaderName) -> bool {
        DEFAULT_REDACTED_HEADERS.contains(&name.as_str()) || self.redacted.contains(name)
    }

    /// `key = [values...]` for each configured header present in `headers`.
    pub(super) fn capture<A: From<KeyValue>>(
        &self,
        captured: &[(HeaderName, Key)],
        headers: &HeaderMap,
        out: &mut Vec<A>,
    ) {
        for (name, key) in captured {
            let values: Vec<opentelemetry::StringValue> = headers
                .get_all(name)
                .map(|v| {
                    if self.redacts(name) {
                        REDACTED.into()
                    } else {
                        String::from_utf8_lossy(v.as_bytes()).into_owned().into()
                    }
                })
                .collect();
            if !values.is_empty() {
                out.push(KeyValue::new(key.clone(), Value::Array(values.into())).into());
            }
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_match_segments_and_prefixes() {
        let settings = TracingMiddleware::default()
            .exclude_urls(["health", "/internal"])
            .settings;
        assert!(settings.excludes("/health"));
        assert!(settings.excludes("/api/health"));
        assert!(!settings.excludes("/healthcheck"));
        assert!(!settings.excludes("/health/deep"));
        assert!(settings.excludes("/internal"));
        assert!(settings.excludes("/internal/metrics"));
        assert!(!settings.excludes("/internals"));
        assert!(!settings.excludes("/models"));
    }
}
