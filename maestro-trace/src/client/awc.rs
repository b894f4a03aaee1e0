//! [`TracedRequest`] for `awc` (actix-web's client), plus the body-sending variants.

use std::future::Future;

use ::awc::body::MessageBody;
use ::awc::error::{ConnectError, SendRequestError};
use ::awc::http::header::{HeaderMap, HeaderName, HeaderValue};
use ::awc::http::Version;
use ::awc::{ClientRequest, ClientResponse, SendClientRequest};
use opentelemetry::propagation::Injector;
use opentelemetry::trace::SpanRef;

use super::{
    inject, record_failure, record_response, sealed, start_client_span, traced, OutgoingRequest,
    ResponseOutcome, TracedRequest,
};
use crate::pipeline;
use crate::span::error_chain;

/// `awc`: the request is sent by [`ClientRequest::send`]; the output is its
/// `Result<ClientResponse, SendRequestError>`. awc runs on actix's single-threaded runtime.
///
/// ```
/// use maestro_trace::client::TracedRequest;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let registry = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let url = format!("http://{}/models/bert-base", registry.local_addr()?);
/// # std::thread::spawn(move || {
/// #     use std::io::{Read, Write};
/// #     let (mut stream, _) = registry.accept()?;
/// #     let mut request = [0; 4096];
/// #     let _ = stream.read(&mut request)?;
/// #     stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
/// # });
/// let capture = maestro_trace::testing::capture();
/// // awc needs a local task set (what `#[actix_web::main]` provides).
/// let local = tokio::task::LocalSet::new();
/// let response = local
///     .run_until(async { awc::Client::new().get(url.as_str()).send_traced().await })
///     .await?;
/// assert_eq!(response.status(), 404);
///
/// let call = capture.span("GET");
/// assert!(call.is_error(), "a 4xx response marks the client span");
/// assert_eq!(call.attr_str("error.type").as_deref(), Some("404"));
/// # Ok(()) }
/// ```
impl TracedRequest for ClientRequest {
    type Output = <SendClientRequest as Future>::Output;

    fn send_traced(self) -> impl Future<Output = Self::Output> {
        send_traced_with(self, ClientRequest::send)
    }
}

impl sealed::Sealed for ClientRequest {}

/// Sends an `awc` request with a body inside a client span: the traced form of
/// [`ClientRequest::send_body`]. For JSON, serialise with `serde_json` and set the content type.
///
/// ```
/// use maestro_trace::client::TracedRequestBody;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let api = std::net::TcpListener::bind("127.0.0.1:0")?;
/// # let url = format!("http://{}/predict", api.local_addr()?);
/// # std::thread::spawn(move || {
/// #     use std::io::{Read, Write};
/// #     let (mut stream, _) = api.accept()?;
/// #     let mut request = [0; 4096];
/// #     let _ = stream.read(&mut request)?;
/// #     stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
/// # });
/// let capture = maestro_trace::testing::capture();
/// let features = serde_json::to_vec(&serde_json::json!({ "features": [0.1, 0.7] }))?;
/// let local = tokio::task::LocalSet::new();
/// let response = local
///     .run_until(async {
///         awc::Client::new()
///             .post(url.as_str())
///             .content_type("application/json")
///             .send_body_traced(features)
///             .await
///     })
///     .await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(capture.span("POST").attr_str("http.request.method").as_deref(), Some("POST"));
/// # Ok(()) }
/// ```
pub trait TracedRequestBody: TracedRequest {
    /// [`ClientRequest::send_body`] in a client span.
    fn send_body_traced<B>(self, body: B) -> impl Future<Output = Self::Output>
    where
        B: MessageBody + 'static;
}

impl TracedRequestBody for ClientRequest {
    fn send_body_traced<B>(self, body: B) -> impl Future<Output = Self::Output>
    where
        B: MessageBody + 'static,
    {
        send_traced_with(self, |request| request.send_body(body))
    }
}

/// Sends `request` with `send` in a client span, started on the first poll under the context
/// current then, whose context is injected into the request's headers. A request without an
/// absolute URL is sent untraced: awc rejects it before any I/O.
async fn send_traced_with(
    mut request: ClientRequest,
    send: impl FnOnce(ClientRequest) -> SendClientRequest,
) -> <SendClientRequest as Future>::Output {
    if !pipeline::enabled() {
        return send(request).await;
    }
    let uri = request.get_uri();
    let cx = match (uri.host(), uri.scheme_str()) {
        (Some(host), Some(scheme)) => start_client_span(&OutgoingRequest {
            method: request.get_method().as_str(),
            url: &uri.to_string(),
            host: Some(host),
            port: uri.port_u16().or(match scheme {
                "http" | "ws" => Some(80),
                "https" | "wss" => Some(443),
                _ => None,
            }),
        }),
        _ => None,
    };
    let Some(cx) = cx else {
        return send(request).await;
    };
    inject(&cx, &mut AwcHeaders(request.headers_mut()));
    traced(send(request), cx).await
}

/// Writes propagation headers into an awc request (awc uses `http` 0.2 header types).
struct AwcHeaders<'a>(&'a mut HeaderMap);

impl Injector for AwcHeaders<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

impl<S> ResponseOutcome for Result<ClientResponse<S>, SendRequestError> {
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
                std::any::type_name::<SendRequestError>(),
                error_chain(error),
            ),
        }
    }
}

/// `error.type` for an awc send error: a short, low-cardinality kind.
fn error_type(error: &SendRequestError) -> &'static str {
    match error {
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => "timeout",
        SendRequestError::Connect(
            ConnectError::Resolver(_) | ConnectError::NoRecords | ConnectError::Unresolved,
        ) => "dns",
        SendRequestError::Connect(_) => "connect",
        SendRequestError::Url(_) => "invalid_url",
        SendRequestError::Send(_) | SendRequestError::Http(_) => "request",
        SendRequestError::Body(_) => "body",
        SendRequestError::Response(_) => "response",
        SendRequestError::H2(_) => "http2",
        SendRequestError::TunnelNotSupported => "tunnel_not_supported",
        _ => "_OTHER",
    }
}
