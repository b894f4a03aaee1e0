//! [`TracedRequest`] for reqwest's async client.

use std::borrow::Cow;

use ::reqwest::{Error, RequestBuilder, Response, Version};
use opentelemetry::trace::SpanRef;
use opentelemetry_http::HeaderInjector;

use super::{
    inject, record_failure, record_response, redact_url, sealed, start_client_span, traced,
    OutgoingRequest, ResponseOutcome, TracedRequest,
};
use crate::pipeline;
use crate::span::error_chain;

/// `reqwest`: the request is sent by [`RequestBuilder::send`]; the output is its
/// `Result<Response, reqwest::Error>`, and the future is `Send` like reqwest's own.
/// A request that fails to build (an invalid header, say) returns reqwest's error without a span:
/// nothing was sent.
///
/// ```
/// use maestro_trace::client::TracedRequest;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A port nobody listens on.
/// let closed = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
/// let capture = maestro_trace::testing::capture();
/// let error = reqwest::Client::new()
///     .get(format!("http://{closed}/health"))
///     .send_traced()
///     .await
///     .err()
///     .ok_or("nothing listens there")?;
/// assert!(error.is_connect(), "reqwest's own error comes back");
///
/// let call = capture.span("GET");
/// assert!(call.is_error());
/// assert_eq!(call.attr_str("error.type").as_deref(), Some("connect"));
/// assert_eq!(call.event("exception").attr_str("exception.type").as_deref(), Some("reqwest::error::Error"));
/// # Ok(()) }
/// ```
impl TracedRequest for RequestBuilder {
    type Output = Result<Response, Error>;

    async fn send_traced(self) -> Self::Output {
        if !pipeline::enabled() {
            return self.send().await;
        }
        let (client, request) = self.build_split();
        let mut request = request?;
        let url = request.url();
        let cx = start_client_span(&OutgoingRequest {
            method: request.method().as_str(),
            url: url.as_str(),
            host: url.host_str(),
            port: url.port_or_known_default(),
        });
        let Some(cx) = cx else {
            return RequestBuilder::from_parts(client, request).send().await;
        };
        inject(&cx, &mut HeaderInjector(request.headers_mut()));
        traced(RequestBuilder::from_parts(client, request).send(), cx).await
    }
}

impl sealed::Sealed for RequestBuilder {}

impl ResponseOutcome for Result<Response, Error> {
    fn record(&self, span: &SpanRef<'_>) {
        match self {
            Ok(response) => record_response(
                span,
                response.status().as_u16(),
                crate::http::protocol_version!(response.version(), Version),
            ),
            Err(error) => record_failure(
                span,
                error_type(error),
                std::any::type_name::<Error>(),
                redacted_message(error),
            ),
        }
    }
}

/// The error's message and its sources', with its URL as `url.full` records it (reqwest's
/// message ends with the URL, whose secret query values must not leak into the span either).
fn redacted_message(error: &Error) -> String {
    let message = error_chain(error);
    match error
        .url()
        .map(|url| (url.as_str(), redact_url(url.as_str())))
    {
        Some((url, Cow::Owned(redacted))) => message.replace(url, &redacted),
        _ => message,
    }
}

/// `error.type` for a reqwest error: a short, low-cardinality kind.
fn error_type(error: &Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_dns() {
        "dns"
    } else if error.is_connect() {
        "connect"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_body() {
        "body"
    } else if error.is_decode() {
        "decode"
    } else if error.is_request() {
        "request"
    } else if error.is_builder() {
        "builder"
    } else {
        "_OTHER"
    }
}
