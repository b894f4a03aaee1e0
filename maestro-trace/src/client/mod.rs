//! Client spans for outgoing HTTP calls: `send_traced()` on an `awc` or `reqwest` request starts a
//! span of kind Client under the current span, injects its context into the request headers
//! (`traceparent`, and `uber-trace-id` when the Jaeger propagator is configured), and records the
//! outcome.
//!
//! The span follows the stable HTTP client semantic conventions:
//!
//! - name: the method (`GET`, `POST`, ...), or `HTTP` for a method outside the known set;
//! - `http.request.method` (`_OTHER` plus `http.request.method_original` for an unknown method),
//!   `server.address`, `server.port`, `url.full` (credentials and signed-URL query values
//!   replaced by `REDACTED`), given at start so a sampler can see them;
//! - `http.response.status_code` and `network.protocol.version` when the response headers arrive;
//!   the span ends then (reading the body is the caller's business);
//! - status Error with `error.type` for a response with status 400 or above (`error.type` is the
//!   code, e.g. `"404"`) and for a transport error (`error.type` is a short kind such as
//!   `timeout`, `connect`, `dns` or `request`, plus an `exception` event with the client's error).
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
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::propagation::Injector;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::trace::{get_active_span, SpanBuilder, SpanKind, SpanRef, Status, Tracer as _};
use opentelemetry::{global, Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE, HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL, HTTP_RESPONSE_STATUS_CODE, NETWORK_PROTOCOL_VERSION,
    SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use pin_project_lite::pin_project;

use crate::pipeline;
use crate::span::{InSpan, Span, EXCEPTION_EVENT};

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

/// The span name for each method the semantic conventions know; `None` for any other method.
fn known_method(method: &str) -> Option<&'static str> {
    Some(match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        "QUERY" => "QUERY",
        _ => return None,
    })
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
    let name = match known_method(request.method) {
        Some(method) => {
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method));
            method
        }
        None => {
            attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, "_OTHER"));
            attributes.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                request.method.to_owned(),
            ));
            "HTTP"
        }
    };
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

    let builder = SpanBuilder::from_name(name)
        .with_kind(SpanKind::Client)
        .with_attributes(attributes);
    let parent = Context::current();
    let span = pipeline::with_tracer(|tracer| tracer.build_with_context(builder, &parent))?;
    Some(parent.with_span(span))
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
        // The description stays empty: the status code already says what went wrong.
        span.set_attribute(KeyValue::new(ERROR_TYPE, status.to_string()));
        span.set_status(Status::error(""));
    }
}

/// Records a transport error: `error.type`, an `exception` event, status Error with the message.
fn record_failure(
    span: &SpanRef<'_>,
    error_type: &'static str,
    exception_type: &'static str,
    message: String,
) {
    span.set_attribute(KeyValue::new(ERROR_TYPE, error_type));
    span.add_event(
        EXCEPTION_EVENT,
        vec![
            KeyValue::new(EXCEPTION_TYPE, exception_type),
            KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
        ],
    );
    span.set_status(Status::error(message));
}

/// Query parameters whose values the semantic conventions say to redact in `url.full`
/// (signatures and credentials of pre-signed URLs).
const SENSITIVE_QUERY_KEYS: [&str; 5] = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "sig",
    "X-Goog-Signature",
];

/// What `url.full` records for `url`: userinfo becomes `REDACTED:REDACTED` (`REDACTED` without a
/// password) and the values of [`SENSITIVE_QUERY_KEYS`] become `REDACTED`.
fn redact_url(url: &str) -> Cow<'_, str> {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let userinfo = rest[..authority_len].rfind('@').map(|at| &rest[..at]);

    let after_authority = authority_start + authority_len;
    let fragment_start = url[after_authority..]
        .find('#')
        .map_or(url.len(), |i| after_authority + i);
    let query = url[after_authority..fragment_start].find('?').map(|i| {
        (
            after_authority + i + 1,
            &url[after_authority + i + 1..fragment_start],
        )
    });
    let sensitive_query = query.is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| is_sensitive_pair(pair).is_some())
    });
    if userinfo.is_none() && !sensitive_query {
        return Cow::Borrowed(url);
    }

    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..authority_start]);
    match userinfo {
        Some(userinfo) => {
            out.push_str(if userinfo.contains(':') {
                "REDACTED:REDACTED"
            } else {
                "REDACTED"
            });
            out.push_str(&rest[userinfo.len()..authority_len]);
        }
        None => out.push_str(&rest[..authority_len]),
    }
    match query {
        Some((query_start, query)) if sensitive_query => {
            out.push_str(&url[after_authority..query_start]);
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match is_sensitive_pair(pair) {
                    Some(key) => {
                        out.push_str(key);
                        out.push_str("=REDACTED");
                    }
                    None => out.push_str(pair),
                }
            }
            out.push_str(&url[fragment_start..]);
        }
        _ => out.push_str(&url[after_authority..]),
    }
    Cow::Owned(out)
}

/// The key of a `key=value` query pair whose value must be redacted.
fn is_sensitive_pair(pair: &str) -> Option<&str> {
    let (key, _) = pair.split_once('=')?;
    SENSITIVE_QUERY_KEYS.contains(&key).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_secrets_are_borrowed_unchanged() {
        for url in [
            "http://127.0.0.1:8080/models/42",
            "https://registry.example.com/models?name=bert&page=2#top",
            "https://[::1]:8443/",
            "http://example.com",
        ] {
            assert!(
                matches!(redact_url(url), Cow::Borrowed(u) if u == url),
                "{url}"
            );
        }
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_url("https://alice:s3cret@registry.example.com:8443/models?x=1"),
            "https://REDACTED:REDACTED@registry.example.com:8443/models?x=1"
        );
        assert_eq!(
            redact_url("http://token@example.com/"),
            "http://REDACTED@example.com/"
        );
        assert_eq!(
            redact_url("http://a:b@example.com"),
            "http://REDACTED:REDACTED@example.com"
        );
        // An `@` in the path is not userinfo.
        assert!(matches!(
            redact_url("http://example.com/users/@alice"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn signed_url_query_values_are_redacted_keys_kept() {
        assert_eq!(
            redact_url("https://bucket.s3.amazonaws.com/w.bin?X-Amz-Signature=abc&color=blue&sig=def#frag"),
            "https://bucket.s3.amazonaws.com/w.bin?X-Amz-Signature=REDACTED&color=blue&sig=REDACTED#frag"
        );
        assert_eq!(
            redact_url("https://u:p@host/?sig=1"),
            "https://REDACTED:REDACTED@host/?sig=REDACTED"
        );
        // Matching is case-sensitive, as the conventions require.
        assert!(matches!(
            redact_url("https://host/?SIG=1"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn unknown_methods_are_not_span_names() {
        assert_eq!(known_method("GET"), Some("GET"));
        assert_eq!(known_method("QUERY"), Some("QUERY"));
        assert_eq!(known_method("get"), None);
        assert_eq!(known_method("PROPFIND"), None);
    }
}
