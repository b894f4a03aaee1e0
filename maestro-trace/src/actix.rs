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
//! no route matched; its parent is extracted from the request headers with the global
//! propagator `init` installed. Handlers run with it current, so `#[traced]` code inside nests
//! under it across `.await`s. It ends once the response body has been streamed (or dropped).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::{ready, Future, Ready};
use std::net::IpAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ResourceMap, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Uri;
use actix_web::web::Bytes;
use actix_web::HttpRequest;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{
    Span as _, SpanBuilder, SpanKind, Status, TraceContextExt, Tracer as _,
};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_semantic_conventions::attribute as semconv;
use pin_project_lite::pin_project;

use crate::error::InitError;
use crate::http::{self, QueryRedaction};
use crate::pipeline;
use crate::span::{Span, EXCEPTION_EVENT};

/// URLs the guide excludes from tracing.
pub const GUIDE_EXCLUDED_URLS: [&str; 4] = ["health", "metrics", "readiness", "liveness"];
/// Comma-separated URLs not to trace (matched like [`TracingMiddleware::exclude_urls`]).
pub const ENV_EXCLUDED_URLS: &str = "OTEL_RUST_ACTIX_EXCLUDED_URLS";
/// `http/dup` also emits the guide's (pre-stable) HTTP attribute names; `http` only the stable.
pub const ENV_SEMCONV_STABILITY_OPT_IN: &str = "OTEL_SEMCONV_STABILITY_OPT_IN";
/// Comma-separated request headers to record as `http.request.header.<name>`.
pub const ENV_CAPTURE_REQUEST_HEADERS: &str =
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST";
/// Comma-separated response headers to record as `http.response.header.<name>`.
pub const ENV_CAPTURE_RESPONSE_HEADERS: &str =
    "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE";
/// Comma-separated extra headers whose values are never recorded.
pub const ENV_REDACT_HEADERS: &str = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS";

pub use crate::http::{DEFAULT_REDACTED_QUERY_PARAMS, REDACTED};

/// Headers whose values are recorded as [`REDACTED`] when captured, whatever is configured.
pub const DEFAULT_REDACTED_HEADERS: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Comma-separated extra query parameters to redact.
pub const ENV_REDACT_QUERY_PARAMS: &str = "OTEL_RUST_ACTIX_REDACT_QUERY_PARAMS";

/// Which HTTP attribute names server spans carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpSemconv {
    /// The stable names (`http.request.method`, `url.path`, `http.response.status_code`, ...).
    #[default]
    Stable,
    /// The stable names and the guide's older ones (`http.method`, `http.url`,
    /// `http.status_code`, `http.client_ip`, `http.user_agent`, `http.response_time_ms`).
    StableAndLegacy,
}

/// Adds request attributes from the request: `(request, server span)`.
type RequestHook = Arc<dyn Fn(&ServiceRequest, &Span) + Send + Sync>;

/// Traces every request of an actix-web app: see the module docs.
#[derive(Clone, Default)]
pub struct TracingMiddleware {
    settings: Settings,
}

#[derive(Clone, Default)]
struct Settings {
    excluded: Vec<String>,
    request_headers: Vec<(HeaderName, Key)>,
    response_headers: Vec<(HeaderName, Key)>,
    redacted: Vec<HeaderName>,
    redacted_query: QueryRedaction,
    trace_id_header: Option<HeaderName>,
    semconv: HttpSemconv,
    hook: Option<RequestHook>,
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
    /// (`OTEL_SEMCONV_STABILITY_OPT_IN=http/dup` adds the guide's legacy names), and captured /
    /// redacted headers (`OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`,
    /// `_SERVER_RESPONSE`, `_SANITIZE_FIELDS`). Builder calls after it override it.
    pub fn from_env() -> Result<Self, InitError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, InitError> {
        let mut middleware = TracingMiddleware::default();
        let mut errors = Vec::new();
        if let Some(raw) = lookup(ENV_EXCLUDED_URLS) {
            middleware = middleware.exclude_urls(raw.split(',').map(str::trim));
        }
        if let Some(raw) = lookup(ENV_SEMCONV_STABILITY_OPT_IN) {
            // A list of opt-ins for several domains; only `http` and `http/dup` concern us.
            if raw.split(',').any(|t| t.trim() == "http/dup") {
                middleware.settings.semconv = HttpSemconv::StableAndLegacy;
            }
        }
        for (var, request) in [
            (ENV_CAPTURE_REQUEST_HEADERS, true),
            (ENV_CAPTURE_RESPONSE_HEADERS, false),
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
        if let Some(raw) = lookup(ENV_REDACT_QUERY_PARAMS) {
            middleware = middleware.redact_query_params(raw.split(','));
        }
        if let Some(raw) = lookup(ENV_REDACT_HEADERS) {
            match header_list(ENV_REDACT_HEADERS, &raw) {
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
    pub fn exclude_urls<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, urls: I) -> Self {
        self.settings.excluded.extend(
            urls.into_iter()
                .map(|u| u.as_ref().trim().to_owned())
                .filter(|u| !u.is_empty()),
        );
        self
    }

    /// Records these request headers as `http.request.header.<name>` (secrets redacted).
    pub fn capture_request_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        names: I,
    ) -> Self {
        self.settings
            .request_headers
            .extend(capture_keys(names, "http.request.header."));
        self
    }

    /// Records these response headers as `http.response.header.<name>` (secrets redacted).
    pub fn capture_response_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        names: I,
    ) -> Self {
        self.settings
            .response_headers
            .extend(capture_keys(names, "http.response.header."));
        self
    }

    /// Also redacts these headers when captured (beyond `authorization`, `cookie`,
    /// `set-cookie`, `x-api-key`, ... which always are).
    pub fn redact_headers<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, names: I) -> Self {
        self.settings
            .redacted
            .extend(names.into_iter().filter_map(|n| {
                HeaderName::from_bytes(n.as_ref().to_ascii_lowercase().as_bytes()).ok()
            }));
        self
    }

    /// Also redacts the values of these query parameters in `url.query` / `http.url` (beyond
    /// [`DEFAULT_REDACTED_QUERY_PARAMS`]: `token`, `access_token`, `api_key`, `password`,
    /// `signature`, ... which always are); names are compared case-insensitively, as the
    /// clients' `maestro_trace::client::redact_query_params` compares them.
    pub fn redact_query_params<I: IntoIterator<Item = S>, S: AsRef<str>>(
        mut self,
        names: I,
    ) -> Self {
        self.settings.redacted_query.extend(names);
        self
    }

    /// Returns the trace id to the caller in this response header (e.g. `x-trace-id`), so a
    /// user reporting a problem can quote it.
    pub fn trace_id_response_header(mut self, name: &str) -> Self {
        self.settings.trace_id_header =
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok();
        self
    }

    /// Chooses the HTTP attribute names (default: stable only).
    pub fn semconv(mut self, mode: HttpSemconv) -> Self {
        self.settings.semconv = mode;
        self
    }

    /// Runs `hook` on every traced request, to add attributes from it (the tenant from a
    /// header, say).
    ///
    /// ```
    /// use maestro_trace::TracingMiddleware;
    ///
    /// let middleware = TracingMiddleware::default().request_hook(|request, span| {
    ///     if let Some(tenant) = request.headers().get("x-tenant-id").and_then(|v| v.to_str().ok()) {
    ///         span.set_attribute("tenant.id", tenant);
    ///     }
    /// });
    /// # drop(middleware);
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
    fn excludes(&self, path: &str) -> bool {
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
    fn attribute_capacity(&self) -> usize {
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
    fn capture(
        &self,
        captured: &[(HeaderName, Key)],
        headers: &HeaderMap,
        out: &mut Vec<KeyValue>,
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
                out.push(KeyValue::new(key.clone(), Value::Array(values.into())));
            }
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for TracingMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<TracedBody<B>>;
    type Error = actix_web::Error;
    type Transform = TracingService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(TracingService {
            service,
            settings: Rc::new(self.settings.clone()),
            recent: RecentValues::default(),
            routes: RefCell::new(None),
        }))
    }
}

/// The per-app service `TracingMiddleware` wraps around the app's routes.
#[derive(Debug)]
pub struct TracingService<S> {
    service: S,
    settings: Rc<Settings>,
    recent: RecentValues,
    /// The app's routes, copied once: to name a span whose request never came back (a panic,
    /// a cancellation, an error from an inner service) by its route after all.
    routes: RefCell<Option<Rc<ResourceMap>>>,
}

impl<S> TracingService<S> {
    fn routes(&self, req: &ServiceRequest) -> Rc<ResourceMap> {
        let mut routes = self.routes.borrow_mut();
        Rc::clone(routes.get_or_insert_with(|| Rc::new(req.resource_map().clone())))
    }
}

/// The host, user agent and client address this worker last recorded, shared with the next
/// request's span when they repeat (they mostly do: one server name, a few callers) instead of
/// copied into new strings for each span.
#[derive(Debug, Default)]
struct RecentValues {
    host: RefCell<Option<Arc<str>>>,
    user_agent: RefCell<Option<Arc<str>>>,
    client: RefCell<Option<(IpAddr, Arc<str>)>>,
}

impl RecentValues {
    fn host(&self, host: &str) -> Value {
        Self::shared(&self.host, host)
    }

    fn user_agent(&self, agent: &str) -> Value {
        Self::shared(&self.user_agent, agent)
    }

    fn client(&self, ip: IpAddr) -> Value {
        let mut slot = self.client.borrow_mut();
        let text = match &*slot {
            Some((last, text)) if *last == ip => Arc::clone(text),
            _ => {
                let text = Arc::<str>::from(ip.to_string());
                *slot = Some((ip, Arc::clone(&text)));
                text
            }
        };
        Value::from(text)
    }

    fn shared(slot: &RefCell<Option<Arc<str>>>, text: &str) -> Value {
        let mut slot = slot.borrow_mut();
        let shared = match &*slot {
            Some(last) if **last == *text => Arc::clone(last),
            _ => {
                let shared = Arc::<str>::from(text);
                *slot = Some(Arc::clone(&shared));
                shared
            }
        };
        Value::from(shared)
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings").finish_non_exhaustive()
    }
}

/// Reads propagation headers from an actix request.
struct HeaderExtractor<'a>(&'a HeaderMap);

/// The headers the built-in propagators read, as header names made once: looking a header
/// up by a `&str` parses (and, for these non-standard names, copies) the name on every call.
static PROPAGATION_HEADERS: [HeaderName; 4] = [
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("baggage"),
    HeaderName::from_static(crate::propagation::UBER_TRACE_ID),
];

impl HeaderExtractor<'_> {
    fn values(&self, key: &str) -> std::slice::Iter<'_, HeaderValue> {
        match PROPAGATION_HEADERS.iter().find(|name| name.as_str() == key) {
            Some(name) => self.0.get_all(name),
            None => self.0.get_all(key),
        }
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.values(key).next().and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    /// Every value, so a repeated `traceparent` can be seen (and distrusted).
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .values(key)
            .map(|v| v.to_str().unwrap_or_default())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// The server span of one request, until its body has been streamed.
struct RequestSpan {
    span: Span,
    /// Set while the span is named by its method only: its route is looked up once actix has
    /// routed the request (then the lookup is nearly free), not before (a second routing).
    route: Option<PendingRoute>,
    /// When the request started, for the legacy `http.response_time_ms` (only in that mode).
    start: Option<Instant>,
    semconv: HttpSemconv,
    /// The handler panicked (already recorded): a later drop is not a cancellation.
    panicked: std::cell::Cell<bool>,
}

/// What naming a span by its route later needs.
struct PendingRoute {
    method: &'static str,
    /// For the rare request that never comes back routed (a panic, a cancellation, an error).
    uri: Uri,
    routes: Rc<ResourceMap>,
}

impl RequestSpan {
    fn cx(&self) -> Option<&Context> {
        self.span.context()
    }

    /// Names the span `"{METHOD} {route}"` and records `http.route`, if that waited for
    /// routing: from the routed request when there is one, else from the app's routes.
    fn resolve_route(&mut self, routed: Option<&HttpRequest>) {
        let Some(pending) = self.route.take() else {
            return;
        };
        let route = match routed {
            Some(req) => req.match_pattern(),
            None => pending.routes.match_pattern(pending.uri.path()),
        };
        let (Some(route), Some(cx)) = (route, self.span.context()) else {
            return;
        };
        let span = cx.span();
        span.update_name(span_name(pending.method, Some(&route)));
        span.set_attribute(KeyValue::new(semconv::HTTP_ROUTE, route));
    }

    /// Ends the span now (the body finished or was dropped).
    fn finish(self) {
        if let (Some(cx), Some(start)) = (self.span.context(), self.start) {
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            cx.span()
                .set_attribute(KeyValue::new("http.response_time_ms", elapsed));
        }
        self.span.end();
    }
}

fn start_span(
    req: &ServiceRequest,
    settings: &Settings,
    recent: &RecentValues,
    routes: impl FnOnce() -> Rc<ResourceMap>,
) -> Option<RequestSpan> {
    let active = pipeline::active()?;
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(req.headers()))
    });
    let method = http::span_method(req.method().as_str());
    // Before routing, looking the route up runs actix's router a second time; after routing it
    // is nearly free. So unless the sampler may decide by the span's name (then it must see
    // the full name now), the span starts named by its method and gets its route later.
    let route_later = active.hints.ignores_names;
    let route = if route_later {
        None
    } else {
        req.match_pattern()
    };
    let builder = SpanBuilder::from_name(span_name(method, route.as_deref()))
        .with_kind(SpanKind::Server)
        // The span keeps this vector for its attributes: sized once for what the request and
        // response add, instead of regrown while they are set (the sampler still sees none).
        .with_attributes(Vec::with_capacity(settings.attribute_capacity()));
    let mut span = active.tracer.build_with_context(builder, &parent);
    let recording = span.is_recording();
    if recording {
        span.set_attributes(request_attributes(req, route, settings, recent));
    }
    let span = Span::from_context(parent.with_span(span));
    let route = (route_later && recording).then(|| PendingRoute {
        method,
        uri: req.uri().clone(),
        routes: routes(),
    });
    if let Some(hook) = &settings.hook {
        if recording {
            hook(req, &span);
        }
    }
    Some(RequestSpan {
        span,
        route,
        start: (settings.semconv == HttpSemconv::StableAndLegacy).then(Instant::now),
        semconv: settings.semconv,
        panicked: std::cell::Cell::new(false),
    })
}

fn request_attributes(
    req: &ServiceRequest,
    route: Option<String>,
    settings: &Settings,
    recent: &RecentValues,
) -> Vec<KeyValue> {
    let legacy = settings.semconv == HttpSemconv::StableAndLegacy;
    let mut attrs = Vec::with_capacity(12 + settings.request_headers.len());
    // The guide's names, appended after the stable ones (allocates nothing when unused).
    let mut legacy_attrs = Vec::new();
    let origin = Origin::of(req);
    let (host, port) = split_host(&origin.host);
    let path = req.path();
    let query = match req.query_string() {
        "" => None,
        query => Some(settings.redacted_query.query(query).into_owned()),
    };

    let method = req.method().as_str();
    if legacy {
        let method = match http::known_method(method) {
            Some(method) => Value::from(method),
            None => Value::from(method.to_owned()),
        };
        legacy_attrs.push(KeyValue::new("http.method", method));
        let query = query.as_deref().map_or(String::new(), |q| format!("?{q}"));
        legacy_attrs.push(KeyValue::new(
            "http.url",
            format!("{}://{}{path}{query}", origin.scheme, origin.host),
        ));
    }
    http::record_method(method, &mut attrs);
    attrs.push(KeyValue::new(semconv::URL_PATH, path.to_owned()));
    if let Some(query) = query {
        attrs.push(KeyValue::new(semconv::URL_QUERY, query));
    }
    let scheme = match &*origin.scheme {
        "http" => Value::from("http"),
        "https" => Value::from("https"),
        other => Value::from(other.to_owned()),
    };
    attrs.push(KeyValue::new(semconv::URL_SCHEME, scheme));
    if let Some(route) = route {
        attrs.push(KeyValue::new(semconv::HTTP_ROUTE, route));
    }
    attrs.push(KeyValue::new(semconv::SERVER_ADDRESS, recent.host(host)));
    if let Some(port) = port {
        attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
    }
    if let Some(client) = &origin.client {
        let client = match client {
            ClientAddress::Peer(ip) => recent.client(*ip),
            ClientAddress::Forwarded(text) => Value::from(split_host(text).0.to_owned()),
        };
        if legacy {
            legacy_attrs.push(KeyValue::new("http.client_ip", client.clone()));
        }
        attrs.push(KeyValue::new(semconv::CLIENT_ADDRESS, client));
    }
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    if let Some(agent) = user_agent {
        let agent = recent.user_agent(agent);
        if legacy {
            legacy_attrs.push(KeyValue::new("http.user_agent", agent.clone()));
        }
        attrs.push(KeyValue::new(semconv::USER_AGENT_ORIGINAL, agent));
    }
    if let Some(version) = http::protocol_version!(req.version(), actix_web::http::Version) {
        attrs.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
    }
    settings.capture(&settings.request_headers, req.headers(), &mut attrs);
    attrs.append(&mut legacy_attrs);
    attrs
}

/// `"{METHOD} {route}"`, or the method alone when no route matched.
fn span_name(method: &'static str, route: Option<&str>) -> Cow<'static, str> {
    match route {
        Some(route) => {
            let mut name = String::with_capacity(method.len() + 1 + route.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(route);
            name.into()
        }
        None => Cow::Borrowed(method),
    }
}

/// Where a request was addressed to and came from, resolved as actix-web's `ConnectionInfo`
/// resolves it (`Forwarded`, then `X-Forwarded-*`, then the request itself).
struct Origin<'a> {
    /// `host[:port]`.
    host: Cow<'a, str>,
    scheme: Cow<'a, str>,
    client: Option<ClientAddress>,
}

/// The client's address: the connection's peer, or what a proxy header says (an IP address,
/// possibly with a port).
enum ClientAddress {
    Peer(IpAddr),
    Forwarded(String),
}

impl ClientAddress {
    #[cfg(test)]
    fn text(&self) -> String {
        match self {
            ClientAddress::Peer(ip) => ip.to_string(),
            ClientAddress::Forwarded(text) => text.clone(),
        }
    }
}

impl<'a> Origin<'a> {
    fn of(req: &'a ServiceRequest) -> Self {
        use actix_web::http::header::{
            FORWARDED, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO,
        };
        let headers = req.headers();
        let proxied = [
            FORWARDED,
            X_FORWARDED_FOR,
            X_FORWARDED_HOST,
            X_FORWARDED_PROTO,
        ]
        .iter()
        .any(|name| headers.contains_key(name));
        if proxied {
            // The proxy headers' rules are actix's: let it apply them.
            let info = req.connection_info();
            return Origin {
                host: Cow::Owned(info.host().to_owned()),
                scheme: Cow::Owned(info.scheme().to_owned()),
                client: info
                    .realip_remote_addr()
                    .map(|a| ClientAddress::Forwarded(a.to_owned())),
            };
        }
        // What `ConnectionInfo` resolves to without proxy headers, without building one (it
        // allocates three strings and an extension slot per request).
        let uri = req.uri();
        let scheme = match uri.scheme_str() {
            Some(scheme) => Cow::Borrowed(scheme),
            None if req.app_config().secure() => Cow::Borrowed("https"),
            None => Cow::Borrowed("http"),
        };
        let host = headers
            .get(actix_web::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))
            .unwrap_or_else(|| req.app_config().host());
        Origin {
            host: Cow::Borrowed(host),
            scheme,
            client: req.peer_addr().map(|a| ClientAddress::Peer(a.ip())),
        }
    }
}

/// `host[:port]` (with IPv6 brackets) into host and port.
fn split_host(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (authority, None),
    }
}

impl<S, B> Service<ServiceRequest> for TracingService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<TracedBody<B>>;
    type Error = actix_web::Error;
    type Future = TracedResponse<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let span = if pipeline::enabled() && !self.settings.excludes(req.path()) {
            start_span(&req, &self.settings, &self.recent, || self.routes(&req))
        } else {
            None
        };
        // Work the handler does synchronously, before its future is polled, is inside the span.
        let _attached = span
            .as_ref()
            .and_then(RequestSpan::cx)
            .map(|cx| cx.clone().attach());
        let inner = self.service.call(req);
        TracedResponse {
            inner,
            span,
            settings: Rc::clone(&self.settings),
        }
    }
}

pin_project! {
    /// The request's future, with the server span current during every poll. Dropped before
    /// the handler finished (the client went away), it ends the span with a `cancelled` event.
    pub struct TracedResponse<F> {
        #[pin]
        inner: F,
        span: Option<RequestSpan>,
        settings: Rc<Settings>,
    }

    impl<F> PinnedDrop for TracedResponse<F> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(mut span) = this.project().span.take() {
                span.resolve_route(None);
                if let Some(cx) = span.cx() {
                    if !span.panicked.get() && !std::thread::panicking() {
                        cx.span().add_event(crate::span::CANCELLED_EVENT, Vec::new());
                    }
                }
                span.finish();
            }
        }
    }
}

impl<F> fmt::Debug for TracedResponse<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedResponse")
            .field("traced", &self.span.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, B> Future for TracedResponse<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<TracedBody<B>>, actix_web::Error>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let attached = this
            .span
            .as_ref()
            .and_then(RequestSpan::cx)
            .map(|cx| cx.clone().attach());
        let unwind = PanicMark::new(this.span.as_ref());
        let polled = this.inner.poll(task);
        unwind.disarm();
        let result = match polled {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result,
        };
        drop(attached);
        let mut span = this.span.take();
        match result {
            Ok(mut response) => {
                if let Some(span) = &mut span {
                    span.resolve_route(Some(response.request()));
                    record_response(span, &mut response, this.settings);
                }
                Poll::Ready(Ok(response.map_body(|_, body| TracedBody { body, span })))
            }
            Err(error) => {
                // The error becomes a response further out; this is the status it will have.
                if let Some(mut span) = span {
                    span.resolve_route(None);
                    let status = error.as_response_error().status_code();
                    record_status(&span, status.as_u16(), Some(&error));
                    span.finish();
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

/// Marks the server span Error with an `exception` event if the handler panics while polled;
/// the span itself ends when the unwinding drops the request's future.
struct PanicMark<'a> {
    span: Option<&'a RequestSpan>,
    unwinding_at_entry: bool,
}

impl<'a> PanicMark<'a> {
    fn new(span: Option<&'a RequestSpan>) -> Self {
        PanicMark {
            span,
            unwinding_at_entry: std::thread::panicking(),
        }
    }

    fn disarm(mut self) {
        self.span = None;
    }
}

impl Drop for PanicMark<'_> {
    fn drop(&mut self) {
        let Some(span) = self.span else {
            return;
        };
        let Some(cx) = span.cx() else {
            return;
        };
        if self.unwinding_at_entry || !std::thread::panicking() {
            return;
        }
        span.panicked.set(true);
        let message = pipeline::panic_message().unwrap_or_else(|| "panicked".to_owned());
        let server_span = cx.span();
        server_span.add_event(
            EXCEPTION_EVENT,
            vec![
                KeyValue::new("exception.type", crate::span::PANIC_TYPE),
                KeyValue::new("exception.message", message.clone()),
            ],
        );
        server_span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, crate::span::PANIC_TYPE));
        server_span.set_status(Status::error(message));
    }
}

fn record_response<B>(span: &RequestSpan, response: &mut ServiceResponse<B>, settings: &Settings) {
    let status = response.status().as_u16();
    record_status(span, status, response.response().error());
    let Some(cx) = span.cx() else {
        return;
    };
    let server_span = cx.span();
    if !server_span.is_recording() {
        return;
    }
    let mut attrs = Vec::new();
    settings.capture(&settings.response_headers, response.headers(), &mut attrs);
    server_span.set_attributes(attrs);
    if let Some(header) = &settings.trace_id_header {
        let trace_id = server_span.span_context().trace_id().to_string();
        if let Ok(value) = HeaderValue::from_str(&trace_id) {
            response.headers_mut().insert(header.clone(), value);
        }
    }
}

/// Status code attributes, and status Error with `error.type` (and an `exception` event for a
/// handler error) for 5xx; a 4xx is the client's problem and leaves the status unset.
fn record_status(span: &RequestSpan, status: u16, error: Option<&actix_web::Error>) {
    let Some(cx) = span.cx() else {
        return;
    };
    let server_span = cx.span();
    if !server_span.is_recording() {
        return;
    }
    server_span.set_attribute(KeyValue::new(
        semconv::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status),
    ));
    if span.semconv == HttpSemconv::StableAndLegacy {
        server_span.set_attribute(KeyValue::new("http.status_code", i64::from(status)));
    }
    if status >= 500 {
        let message = error.map_or_else(|| format!("HTTP {status}"), |e| e.to_string());
        server_span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, status.to_string()));
        if let Some(error) = error {
            server_span.add_event(
                EXCEPTION_EVENT,
                vec![
                    KeyValue::new("exception.type", error_type_name(error)),
                    KeyValue::new("exception.message", error.to_string()),
                ],
            );
        }
        server_span.set_status(Status::error(message));
    }
}

/// The response error's type as its `Debug` form starts (`ErrorInternalServerError`, ...); the
/// concrete type is erased inside `actix_web::Error`.
fn error_type_name(error: &actix_web::Error) -> String {
    let debug = format!("{:?}", error.as_response_error());
    debug
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("actix_web::Error")
        .to_owned()
}

pin_project! {
    /// A response body that ends the server span when it has been streamed (or dropped).
    pub struct TracedBody<B> {
        #[pin]
        body: B,
        span: Option<RequestSpan>,
    }

    impl<B> PinnedDrop for TracedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(span) = this.project().span.take() {
                span.finish();
            }
        }
    }
}

impl<B> fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedBody")
            .field("traced", &self.span.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: MessageBody> MessageBody for TracedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        task: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = this.body.poll_next(task);
        if let Poll::Ready(None) = next {
            if let Some(span) = this.span.take() {
                span.finish();
            }
        }
        next
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

    #[test]
    fn origin_matches_actix_connection_info() {
        use actix_web::test::TestRequest;
        let requests = [
            TestRequest::get().uri("/models/1"),
            TestRequest::get()
                .uri("/models/1")
                .insert_header(("host", "api.example:8443"))
                .peer_addr("10.1.2.3:5555".parse().expect("addr")),
            TestRequest::get()
                .uri("https://api.example/models/1")
                .peer_addr("[::1]:5555".parse().expect("addr")),
            TestRequest::get()
                .uri("/models/1")
                .insert_header(("host", "internal:80"))
                .insert_header(("x-forwarded-for", "203.0.113.7, 10.0.0.1"))
                .insert_header(("x-forwarded-proto", "https"))
                .insert_header(("x-forwarded-host", "api.example"))
                .peer_addr("10.0.0.1:5555".parse().expect("addr")),
            TestRequest::get()
                .uri("/models/1")
                .insert_header((
                    "forwarded",
                    "for=\"[2001:db8::1]:4711\";proto=https;host=api.example",
                ))
                .peer_addr("10.0.0.1:5555".parse().expect("addr")),
        ];
        for request in requests {
            let req = request.to_srv_request();
            let origin = Origin::of(&req);
            let info = req.connection_info();
            assert_eq!(origin.host, info.host());
            assert_eq!(origin.scheme, info.scheme());
            assert_eq!(
                origin.client.as_ref().map(ClientAddress::text).as_deref(),
                info.realip_remote_addr()
            );
        }
    }

    #[test]
    fn hosts_and_ports_split() {
        assert_eq!(split_host("api.example:8080"), ("api.example", Some(8080)));
        assert_eq!(split_host("api.example"), ("api.example", None));
        assert_eq!(split_host("[::1]:443"), ("::1", Some(443)));
        assert_eq!(split_host("::1"), ("::1", None));
    }
}
