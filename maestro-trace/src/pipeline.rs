//! The process-wide tracing pipeline: the on/off switch every macro checks first, and the tracer
//! spans are started from.
//!
//! One pipeline is installed at a time, by [`crate::init`] or by [`crate::testing::capture`]. The
//! disabled path is a single relaxed atomic load, so a `#[traced]` call with tracing off costs a
//! branch and allocates nothing.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Once, PoisonError, RwLock};

use opentelemetry::global;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

/// The instrumentation scope of every span the macros create.
pub(crate) const SCOPE_NAME: &str = "maestro-trace";

static ENABLED: AtomicBool = AtomicBool::new(false);
static PIPELINE: RwLock<Option<Pipeline>> = RwLock::new(None);

/// A provider and the tracer taken from it once (not per span).
#[derive(Clone, Debug)]
pub(crate) struct Pipeline {
    pub(crate) provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Pipeline {
    pub(crate) fn new(provider: SdkTracerProvider) -> Self {
        let tracer = opentelemetry::trace::TracerProvider::tracer_with_scope(
            &provider,
            opentelemetry::InstrumentationScope::builder(SCOPE_NAME)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        );
        Pipeline { provider, tracer }
    }
}

/// Whether spans are being created at all. The first thing every macro expansion checks.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Runs `f` with the installed tracer, or returns `None` when no pipeline is installed.
pub(crate) fn with_tracer<R>(f: impl FnOnce(&SdkTracer) -> R) -> Option<R> {
    let guard = PIPELINE.read().unwrap_or_else(PoisonError::into_inner);
    guard.as_ref().map(|pipeline| f(&pipeline.tracer))
}

/// Installs `pipeline` (or none), returning the one it replaces. Also makes it the global
/// OpenTelemetry provider so the raw `opentelemetry` API exports to the same place.
pub(crate) fn install(pipeline: Option<Pipeline>) -> Option<Pipeline> {
    install_panic_hook();
    let mut guard = PIPELINE.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(new) = &pipeline {
        global::set_tracer_provider(new.provider.clone());
    }
    ENABLED.store(pipeline.is_some(), Ordering::Release);
    std::mem::replace(&mut *guard, pipeline)
}

thread_local! {
    /// The message of the panic this thread is unwinding from, set by our panic hook so that a
    /// span ended during the unwind can carry it in its `exception` event.
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Chains a panic hook that remembers the panic message for the span that the unwind ends.
/// The previous hook still runs, so the application's own reporting is unchanged.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".to_owned());
            // `try_with`: the hook may run while thread locals are being torn down.
            let _ = PANIC_MESSAGE.try_with(|slot| {
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = Some(message);
                }
            });
            previous(info);
        }));
    });
}

/// The message of the panic being unwound on this thread, if our hook saw it.
pub(crate) fn panic_message() -> Option<String> {
    PANIC_MESSAGE
        .try_with(|slot| slot.try_borrow().ok().and_then(|m| m.clone()))
        .ok()
        .flatten()
}
