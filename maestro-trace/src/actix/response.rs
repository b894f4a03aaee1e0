//! The response's side of the server span: status code and status, captured response headers,
//! the trace id header, and the body that ends the span once streamed.

use std::fmt;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::HeaderValue;
use actix_web::web::Bytes;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;
use pin_project_lite::pin_project;

use super::request::RequestSpan;
use super::settings::{HttpSemconv, Settings};
use crate::http;
use crate::span::{error_chain, record_exception};

pub(super) fn record_response<B>(
    span: &RequestSpan,
    response: &mut ServiceResponse<B>,
    settings: &Settings,
) {
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
pub(super) fn record_status(span: &RequestSpan, status: u16, error: Option<&actix_web::Error>) {
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
        server_span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, status.to_string()));
        match error {
            Some(error) => {
                record_exception(&server_span, error_type_name(error), error_chain(error));
            }
            None => server_span.set_status(Status::error(http::status_description(status))),
        }
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

impl<B> TracedBody<B> {
    /// `body`, ending `span` (if any) once streamed or dropped.
    pub(super) fn new(body: B, span: Option<RequestSpan>) -> Self {
        TracedBody { body, span }
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
