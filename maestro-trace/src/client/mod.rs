//! Client spans for outgoing HTTP calls: `send_traced()` on an `awc` or `reqwest` request starts a
//! span of kind Client under the current span, injects its context into the request headers
//! (`traceparent`, and `uber-trace-id` when the Jaeger propagator is configured), and records the
//! outcome.
//!
//! The span follows the stable HTTP client semantic conventions:
//!
//! - name: the method (`GET`, `POST`, ...), or `HTTP` for a method outside the known set;
//! - `http.request.method` (`_OTHER` plus `http.request.method_original` for an unknown method),
//!   `server.address`, `server.port`, `url.full` (userinfo and the values of secret query
//!   parameters replaced by [`REDACTED`]: [`DEFAULT_REDACTED_QUERY_PARAMS`] and those of
//!   [`redact_query_params`], names compared case-insensitively, the policy server spans follow),
//!   given at start so a sampler can see them;
//! - `http.response.status_code` and `network.protocol.version` when the response headers arrive;
//!   the span ends then (reading the body is the caller's business);
//! - status Error with `error.type` for a response with status 400 or above (`error.type` is the
//!   code, e.g. `"404"`, the description the code and its reason, `HTTP 404 Not Found`) and for a
//!   transport error (`error.type` is a short kind such as `timeout`, `connect`, `dns` or
//!   `request`, plus an `exception` event whose `exception.message`, like the description, is the
//!   client's error followed by its sources: `error sending request for url (...): client error
//!   (Connect): tcp connect error: Connection refused`).
//!
//! The response and the error are the client's own types, returned unchanged. With tracing
//! disabled, `send_traced()` is the client's `send()` behind one branch.
//!
//! Like an `async fn` under `#[traced]`, the span starts when the future is first polled, under the
//! context current then (so `.send_traced().in_span(span!(..))` nests as it reads, and
//! [`maestro_trace::spawn`](crate::spawn) carries the caller's context into a spawned call). It is
//! current during every poll of the client's future, so anything traced inside the call nests
//! under it, and a call dropped before its response arrives ends the span with a `cancelled`
//! event.

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context as TaskContext, Poll};

use opentelemetry::propagation::Injector;
use opentelemetry::trace::{get_active_span, SpanKind, SpanRef, Status};
use opentelemetry::{global, Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, HTTP_RESPONSE_STATUS_CODE, NETWORK_PROTOCOL_VERSION, SERVER_ADDRESS, SERVER_PORT,
    URL_FULL,
};
use pin_project_lite::pin_project;

use crate::http::{self, QueryRedaction};
use crate::pipeline;
use crate::recording::Begin;
use crate::span::{record_exception, InSpan, Span};

pub use crate::http::{DEFAULT_REDACTED_QUERY_PARAMS, REDACTED};

#[cfg(feature = "awc")]
mod awc;
#[cfg(feature = "reqwest")]
mod reqwest;

#[cfg(feature = "awc")]
pub use self::awc::TracedRequestBody;

/// Sends an HTTP request inside a client span that carries the current trace to the server.
///
/// Implemented for `reqwest::RequestBuilder` (cargo feature `reqwest`) and `awc::ClientRequest`
/// (cargo feature `awc`); see the [module docs](self) for what the span records. The future
/// resolves to exactly what the client's own `send()` resolves to.
#[cfg_attr(
    feature = "reqwest",
    doc = r#"
```
use maestro_trace::client::TracedRequest;
use maestro_trace::{span, TraceFutureExt};

async fn model_card(url: &str) -> Result<String, reqwest::Error> {
    reqwest::Client::new().get(url).send_traced().await?.text().await
}

# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
# let registry = std::net::TcpListener::bind("127.0.0.1:0")?;
# let url = format!("http://{}/models/bert-base", registry.local_addr()?);
# std::thread::spawn(move || {
#     use std::io::{Read, Write};
#     let (mut stream, _) = registry.accept()?;
#     let mut request = [0; 4096];
#     let _ = stream.read(&mut request)?;
#     stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\nconnection: close\r\n\r\nbert-base")
# });
let capture = maestro_trace::testing::capture();
let card = model_card(&url).in_span(span!("load_model_card")).await?;
assert_eq!(card, "bert-base");

let call = capture.span("GET");
assert!(call.is_child_of(&capture.span("load_model_card")));
assert_eq!(call.attr_str("url.full").as_deref(), Some(url.as_str()));
assert_eq!(call.attr_i64("http.response.status_code"), Some(200));
# Ok(()) }
```
"#
)]
pub trait TracedRequest: sealed::Sealed + Sized {
    /// What the client's `send()` resolves to: its response or its error.
    type Output;

    /// Sends the request in a client span (see the [trait docs](TracedRequest)).
    fn send_traced(self) -> impl Future<Output = Self::Output>;
}

mod sealed {
    /// Only the HTTP clients this crate knows implement [`TracedRequest`](super::TracedRequest).
    #[allow(unreachable_pub)]
    pub trait Sealed {}
}

/// What an outgoing request looks like before it is sent.
struct OutgoingRequest<'a> {
    method: &'a str,
    /// The absolute URL, possibly with credentials (redacted before it is recorded).
    url: &'a str,
    /// The host as written in the URL (IPv6 addresses in brackets).
    host: Option<&'a str>,
    /// The explicit port, or the scheme's default.
    port: Option<u16>,
}

/// Starts the client span of `request` as a child of the current context and returns the context
/// holding it (to inject into the request, then to run the send in). `None` when no pipeline is
/// installed.
fn start_client_span(request: &OutgoingRequest<'_>) -> Option<Context> {
    let mut attributes = Vec::with_capacity(6);
    http::record_method(request.method, &mut attributes);
    if let Some(host) = request.host {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = request.port {
        attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
    }
    attributes.push(KeyValue::new(
        URL_FULL,
        redact_url(request.url).into_owned(),
    ));

    let begin = Begin {
        attributes,
        ..Begin::new(http::span_method(request.method), SpanKind::Client)
    };
    let parent = Context::current();
    let span = pipeline::with_sink(|sink| sink.build(begin, Vec::new(), &parent, None))?;
    Some(span.into_context(&parent))
}

/// Writes the propagation headers for `cx` with the global propagator (the one `init`
/// configures: W3C trace context and baggage by default, Jaeger's `uber-trace-id` on request).
fn inject(cx: &Context, headers: &mut dyn Injector) {
    global::get_text_map_propagator(|propagator| propagator.inject_context(cx, headers));
}

/// Runs `future` (the client's send, prepared with the headers of `cx`) with the client span
/// current, recording its outcome and ending the span when it completes.
fn traced<F>(future: F, cx: Context) -> InSpan<Outcome<F>> {
    InSpan::new(Outcome { future }, Span::from_context(cx))
}

pin_project! {
    /// The client's send future; on completion records the response or error on the current span
    /// (the client span, which [`InSpan`] makes current during every poll).
    struct Outcome<F> {
        #[pin]
        future: F,
    }
}

impl<F> Future for Outcome<F>
where
    F: Future,
    F::Output: ResponseOutcome,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let output = match self.project().future.poll(task) {
            Poll::Ready(output) => output,
            Poll::Pending => return Poll::Pending,
        };
        get_active_span(|span| {
            if span.is_recording() {
                output.record(&span);
            }
        });
        Poll::Ready(output)
    }
}

/// What a client's send resolved to, as the semantic conventions record it.
trait ResponseOutcome {
    /// Records the response (status, protocol) or the transport error on `span`.
    fn record(&self, span: &SpanRef<'_>);
}

/// Records a response: its status code and protocol version; status 400 and above is an error.
fn record_response(span: &SpanRef<'_>, status: u16, version: Option<&'static str>) {
    span.set_attribute(KeyValue::new(HTTP_RESPONSE_STATUS_CODE, i64::from(status)));
    if let Some(version) = version {
        span.set_attribute(KeyValue::new(NETWORK_PROTOCOL_VERSION, version));
    }
    if status >= 400 {
        span.set_attribute(KeyValue::new(ERROR_TYPE, status.to_string()));
        span.set_status(Status::error(http::status_description(status)));
    }
}

/// Records a transport error: `error.type`, an `exception` event, status Error with the message
/// (the error's own followed by its sources').
fn record_failure(
    span: &SpanRef<'_>,
    error_type: &'static str,
    exception_type: &'static str,
    message: String,
) {
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
    record_exception(span, exception_type, message);
}

/// The policy client spans redact with once extra parameters are configured (`None`: the
/// defaults), replaced whole by [`redact_query_params`].
static REDACTION: RwLock<Option<Arc<QueryRedaction>>> = RwLock::new(None);
/// How many times [`REDACTION`] was replaced: a span only loads it (written at startup, so the
/// load contends with nothing), and a thread re-reads the policy when it changed.
static REDACTION_VERSION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's copy of [`REDACTION`] and the version it is of.
    static THREAD_REDACTION: RefCell<(u64, Option<Arc<QueryRedaction>>)> =
        const { RefCell::new((0, None)) };
}

/// Also redacts the values of these query parameters in the `url.full` of every client span
/// started afterwards, beyond [`DEFAULT_REDACTED_QUERY_PARAMS`] (`token`, `api_key`, `sig`,
/// `X-Amz-Signature`, ... which always are). The clients' counterpart of
/// `TracingMiddleware::redact_query_params`, with the same policy: names compared
/// case-insensitively, values recorded as [`REDACTED`], userinfo always redacted. Process-wide,
/// like the global propagator: call it once at startup, where the client is built.
#[cfg_attr(
    feature = "reqwest",
    doc = r#"
```
use maestro_trace::client::TracedRequest;

# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
# let registry = std::net::TcpListener::bind("127.0.0.1:0")?;
# let addr = registry.local_addr()?;
# std::thread::spawn(move || {
#     use std::io::{Read, Write};
#     let (mut stream, _) = registry.accept()?;
#     let mut request = [0; 4096];
#     let _ = stream.read(&mut request)?;
#     stream.write_all(b"HTTP/1.1 200 OK
content-length: 0
connection: close

")
# });
maestro_trace::client::redact_query_params(["session_id"]);

let capture = maestro_trace::testing::capture();
let url = format!("http://{addr}/models?Session_ID=s-42&Token=sk-1&page=2");
reqwest::Client::new().get(&url).send_traced().await?;

let full = capture.span("GET").attr_str("url.full");
assert_eq!(
    full,
    Some(format!("http://{addr}/models?Session_ID=REDACTED&Token=REDACTED&page=2"))
);
# Ok(()) }
```
"#
)]
pub fn redact_query_params<I: IntoIterator<Item = S>, S: AsRef<str>>(names: I) {
    let mut current = REDACTION.write().unwrap_or_else(PoisonError::into_inner);
    let mut policy = current.as_deref().cloned().unwrap_or_default();
    policy.extend(names);
    *current = Some(Arc::new(policy));
    REDACTION_VERSION.fetch_add(1, Ordering::Release);
}

/// What `url.full` records for `url` (see [`redact_query_params`]), without taking a lock.
fn redact_url(url: &str) -> Cow<'_, str> {
    static DEFAULTS: QueryRedaction = QueryRedaction::new();
    let version = REDACTION_VERSION.load(Ordering::Acquire);
    if version == 0 {
        return DEFAULTS.url(url);
    }
    THREAD_REDACTION.with(|copy| {
        let mut copy = copy.borrow_mut();
        if copy.0 != version {
            let current = REDACTION.read().unwrap_or_else(PoisonError::into_inner);
            *copy = (version, current.clone());
        }
        copy.1.as_deref().unwrap_or(&DEFAULTS).url(url)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_redacts_with_the_latest_policy() {
        redact_query_params(["first"]);
        assert_eq!(redact_url("http://h/?first=1"), "http://h/?first=REDACTED");
        redact_query_params(["second"]);
        assert_eq!(
            redact_url("http://h/?first=1&second=2"),
            "http://h/?first=REDACTED&second=REDACTED"
        );
        let elsewhere = std::thread::spawn(|| redact_url("http://h/?second=2").into_owned());
        assert_eq!(
            elsewhere.join().expect("the thread redacts"),
            "http://h/?second=REDACTED"
        );
    }
}
