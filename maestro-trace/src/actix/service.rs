//! The service `TracingMiddleware` wraps around an app, and the request's future: the server span
//! is current during every poll, and a panic or a cancellation ends it marked.

use std::cell::RefCell;
use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{ResourceMap, Service, ServiceRequest, ServiceResponse, Transform};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute as semconv;
use pin_project_lite::pin_project;

use super::request::{start_span, RecentValues, RequestSpan};
use super::response::{record_response, record_status, TracedBody};
use super::settings::{Settings, TracingMiddleware};
use crate::pipeline;
use crate::span::{record_exception, PANIC_TYPE};

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
                        cx.span().add_event_with_timestamp(
                            crate::span::CANCELLED_EVENT,
                            crate::clock::now(),
                            Vec::new(),
                        );
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
                Poll::Ready(Ok(response.map_body(|_, body| TracedBody::new(body, span))))
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
        server_span.set_attribute(KeyValue::new(semconv::ERROR_TYPE, PANIC_TYPE));
        record_exception(&server_span, PANIC_TYPE, message);
    }
}
