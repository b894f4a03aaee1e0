//! The server span of one request: its parent from the propagation headers, its name, and the
//! request's attributes.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix_web::dev::{ResourceMap, ServiceRequest};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Uri;
use actix_web::HttpRequest;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanKind, TraceContextExt};
use opentelemetry::{Context, Key, KeyValue, Value};
use opentelemetry_semantic_conventions::attribute as semconv;

use super::settings::{HttpSemconv, Settings};
use crate::finished::{self, Attribute};
use crate::http;
use crate::pipeline;
use crate::recording::{self, Begin};
use crate::span::Span;

/// The host, user agent and client address this worker last recorded, shared with the next
/// request's span when they repeat (they mostly do: one server name, a few callers) instead of
/// copied into new strings for each span.
#[derive(Debug, Default)]
pub(super) struct RecentValues {
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
pub(super) struct RequestSpan {
    span: Span,
    /// Set while the span is named by its method only: its route is looked up once actix has
    /// routed the request (then the lookup is nearly free), not before (a second routing).
    route: Option<PendingRoute>,
    /// When the request started, for the legacy `http.response_time_ms` (only in that mode).
    start: Option<Instant>,
    pub(super) semconv: HttpSemconv,
    /// The handler panicked (already recorded): a later drop is not a cancellation.
    pub(super) panicked: Cell<bool>,
}

/// What naming a span by its route later needs.
struct PendingRoute {
    method: &'static str,
    /// For the rare request that never comes back routed (a panic, a cancellation, an error).
    uri: Uri,
    routes: Rc<ResourceMap>,
}

impl RequestSpan {
    pub(super) fn cx(&self) -> Option<&Context> {
        self.span.context()
    }

    /// Names the span `"{METHOD} {route}"` and records `http.route`, if that waited for
    /// routing: from the routed request when there is one, else from the app's routes.
    pub(super) fn resolve_route(&mut self, routed: Option<&HttpRequest>) {
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
    pub(super) fn finish(self) {
        if let (Some(cx), Some(start)) = (self.span.context(), self.start) {
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            cx.span()
                .set_attribute(KeyValue::new("http.response_time_ms", elapsed));
        }
        self.span.end();
    }
}

pub(super) fn start_span(
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
    let begin = Begin::new(span_name(method, route.as_deref()), SpanKind::Server);
    // The span keeps this buffer (one of the thread's spares) for its attributes: with room for
    // what the request and response add, instead of regrown while they are set (the sampler
    // still sees none).
    let buffer = finished::buffer(settings.attribute_capacity());
    // When the configuration samples this span for sure, the sampler is not asked (as for the
    // macros' spans).
    let decided = {
        let parent_span = parent.span();
        let parent_context = Some(parent_span.span_context()).filter(|sc| sc.is_valid());
        active
            .hints
            .samples(parent_context)
            .then(|| recording::sampled_for_sure(&parent))
    };
    let mut span = active.sink.build(begin, buffer, &parent, decided);
    let recording = span.is_recording();
    span.recording(|span| {
        span.record_with(|attrs| request_attributes(req, route, settings, recent, attrs));
    });
    let span = Span::from_context(span.into_context(&parent));
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
        panicked: Cell::new(false),
    })
}

/// Appends the request's attributes to the span's own (`attrs`): strings read from the request
/// are copied straight in (inline when short), with no vector or `KeyValue` of their own.
fn request_attributes(
    req: &ServiceRequest,
    route: Option<String>,
    settings: &Settings,
    recent: &RecentValues,
    attrs: &mut Vec<Attribute>,
) {
    let legacy = settings.semconv == HttpSemconv::StableAndLegacy;
    // The pre-stable names, appended after the stable ones (allocates nothing when unused).
    let mut legacy_attrs = Vec::new();
    let origin = Origin::of(req);
    let (host, port) = split_host(&origin.host);
    let path = req.path();
    let query = match req.query_string() {
        "" => None,
        query => Some(settings.redacted_query.query(query)),
    };

    let method = req.method().as_str();
    if legacy {
        legacy_attrs.push(match http::known_method(method) {
            Some(method) => attribute("http.method", method),
            None => text("http.method", method),
        });
        let query = query.as_deref().map_or(String::new(), |q| format!("?{q}"));
        legacy_attrs.push(attribute(
            "http.url",
            format!("{}://{}{path}{query}", origin.scheme, origin.host),
        ));
    }
    http::record_method(method, attrs);
    attrs.push(text(semconv::URL_PATH, path));
    if let Some(query) = query {
        attrs.push(text(semconv::URL_QUERY, &query));
    }
    attrs.push(match &*origin.scheme {
        "http" => attribute(semconv::URL_SCHEME, "http"),
        "https" => attribute(semconv::URL_SCHEME, "https"),
        other => text(semconv::URL_SCHEME, other),
    });
    if let Some(route) = route {
        attrs.push(attribute(semconv::HTTP_ROUTE, route));
    }
    attrs.push(attribute(semconv::SERVER_ADDRESS, recent.host(host)));
    if let Some(port) = port {
        attrs.push(attribute(semconv::SERVER_PORT, i64::from(port)));
    }
    if let Some(client) = &origin.client {
        let client = |key| match client {
            ClientAddress::Peer(ip) => attribute(key, recent.client(*ip)),
            ClientAddress::Forwarded(forwarded) => text(key, split_host(forwarded).0),
        };
        if legacy {
            legacy_attrs.push(client("http.client_ip"));
        }
        attrs.push(client(semconv::CLIENT_ADDRESS));
    }
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    if let Some(agent) = user_agent {
        let agent = recent.user_agent(agent);
        if legacy {
            legacy_attrs.push(attribute("http.user_agent", agent.clone()));
        }
        attrs.push(attribute(semconv::USER_AGENT_ORIGINAL, agent));
    }
    if let Some(version) = http::protocol_version!(req.version(), actix_web::http::Version) {
        attrs.push(attribute(semconv::NETWORK_PROTOCOL_VERSION, version));
    }
    settings.capture(&settings.request_headers, req.headers(), attrs);
    attrs.append(&mut legacy_attrs);
}

/// `key` with `value` as OpenTelemetry has it.
fn attribute(key: &'static str, value: impl Into<Value>) -> Attribute {
    Attribute::new(Key::from_static_str(key), value.into())
}

/// `key` with a string read from the request, copied inline when short.
fn text(key: &'static str, value: &str) -> Attribute {
    Attribute::text(Key::from_static_str(key), value)
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

#[cfg(test)]
mod tests {
    use super::*;

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
