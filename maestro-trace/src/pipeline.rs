//! The process-wide tracing pipeline: the on/off switch every macro checks first, and the tracer
//! spans are started from.
//!
//! [`crate::init`] installs the pipeline. While test captures are alive, their one shared
//! pipeline (`crate::testing`) is installed over it and spans go there; the pipeline of `init`,
//! if any, is current again once the last capture ends. The disabled path is a single relaxed
//! atomic load, so a `#[traced]` call with tracing off costs a branch and allocates nothing.
//!
//! Starting a span needs the installed sink (`crate::recording`). Each thread keeps the one it
//! last used, tagged with the generation of the installation it came from: while nothing is
//! reinstalled, a span start costs one atomic load and a thread-local read instead of a lock.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once, PoisonError, RwLock};

use opentelemetry::global;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::recording::{Sink, ThreadSink};

static ENABLED: AtomicBool = AtomicBool::new(false);
static PIPELINE: RwLock<Installed> = RwLock::new(Installed {
    by_init: None,
    by_capture: None,
});
/// Bumped by every [`install`]: a thread's cached tracer from an older generation is stale.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// A provider (for the raw `opentelemetry` API and shutdown) and the sink our spans are built
/// by (`crate::recording`), which ends in the provider's processors.
#[derive(Clone, Debug)]
pub(crate) struct Pipeline {
    pub(crate) provider: SdkTracerProvider,
    sink: Arc<Sink>,
    hints: SamplerHints,
}

/// What is known of the sampler's decisions before it is asked, from its configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SamplerHints {
    /// Every child of an unsampled parent is dropped (a parent-based sampler, or one that
    /// drops everything): such a child can skip the SDK entirely.
    pub(crate) drops_unsampled_children: bool,
    /// Every child of a sampled parent is sampled (parent-based, or always on).
    pub(crate) samples_sampled_children: bool,
    /// Every root is sampled (always on, or parent-based on always on).
    pub(crate) samples_roots: bool,
    /// The decision never depends on the span's name (not so for Jaeger's per-operation remote
    /// sampling, or a sampler we cannot see into): a span may be renamed after it started.
    pub(crate) ignores_names: bool,
}

impl SamplerHints {
    /// The hints for an SDK sampler (a parent-based one's root sampler cannot be inspected).
    #[cfg(feature = "testing")]
    pub(crate) fn of_sdk(sampler: &opentelemetry_sdk::trace::Sampler) -> Self {
        use opentelemetry_sdk::trace::Sampler;
        match sampler {
            Sampler::AlwaysOn => SamplerHints::ALWAYS_ON,
            Sampler::AlwaysOff => SamplerHints::ALWAYS_OFF,
            Sampler::ParentBased(_) => SamplerHints {
                drops_unsampled_children: true,
                samples_sampled_children: true,
                samples_roots: false,
                ignores_names: false,
            },
            Sampler::TraceIdRatioBased(_) => SamplerHints {
                ignores_names: true,
                ..SamplerHints::default()
            },
            _ => SamplerHints::default(),
        }
    }

    pub(crate) const ALWAYS_ON: SamplerHints = SamplerHints {
        drops_unsampled_children: false,
        samples_sampled_children: true,
        samples_roots: true,
        ignores_names: true,
    };

    pub(crate) const ALWAYS_OFF: SamplerHints = SamplerHints {
        drops_unsampled_children: true,
        samples_sampled_children: false,
        samples_roots: false,
        ignores_names: true,
    };

    /// Whether the sampler drops a span with a parent of this context (`None`: a root) for
    /// sure: a child of an unsampled parent under a sampler that drops those.
    pub(crate) fn drops_child_of(
        &self,
        parent: Option<&opentelemetry::trace::SpanContext>,
    ) -> bool {
        parent.is_some_and(|parent| !parent.is_sampled()) && self.drops_unsampled_children
    }

    /// Whether a span with a parent of this context (`None`: a root) is sampled for sure.
    pub(crate) fn samples(&self, parent: Option<&opentelemetry::trace::SpanContext>) -> bool {
        match parent {
            Some(parent) => parent.is_sampled() && self.samples_sampled_children,
            None => self.samples_roots,
        }
    }
}

impl Pipeline {
    /// `sink` must be the one whose `SinkProcessor` the provider holds.
    pub(crate) fn new(provider: SdkTracerProvider, sink: Arc<Sink>, hints: SamplerHints) -> Self {
        Pipeline {
            provider,
            sink,
            hints,
        }
    }
}

/// The installed pipelines: the current one is the captures', if any, else that of `init`.
#[derive(Debug)]
struct Installed {
    by_init: Option<Pipeline>,
    by_capture: Option<Pipeline>,
}

impl Installed {
    fn current(&self) -> Option<&Pipeline> {
        self.by_capture.as_ref().or(self.by_init.as_ref())
    }
}

/// What a thread keeps of the installed pipeline to start spans with.
#[derive(Debug)]
pub(crate) struct Active {
    generation: u64,
    pub(crate) sink: Arc<ThreadSink>,
    pub(crate) hints: SamplerHints,
}

thread_local! {
    static ACTIVE: RefCell<Option<Rc<Active>>> = const { RefCell::new(None) };
}

/// Whether spans are being created at all. The first thing every macro expansion checks.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The installed pipeline as this thread caches it, or `None` when none is installed.
pub(crate) fn active() -> Option<Rc<Active>> {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = ACTIVE
        .try_with(|slot| {
            let slot = slot.try_borrow().ok()?;
            slot.as_ref()
                .filter(|active| active.generation == generation)
                .cloned()
        })
        .ok()
        .flatten();
    cached.or_else(refresh)
}

/// Reads the installed pipeline under the lock and caches it for this thread.
#[cold]
fn refresh() -> Option<Rc<Active>> {
    let active = {
        let guard = PIPELINE.read().unwrap_or_else(PoisonError::into_inner);
        let pipeline = guard.current()?;
        Rc::new(Active {
            // Read under the lock: `install` bumps it under the write lock.
            generation: GENERATION.load(Ordering::Acquire),
            sink: Arc::new(ThreadSink::new(Arc::clone(&pipeline.sink))),
            hints: pipeline.hints,
        })
    };
    let _ = ACTIVE.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(Rc::clone(&active));
        }
    });
    Some(active)
}

/// Runs `f` with the installed sink, or returns `None` when no pipeline is installed.
#[cfg(any(feature = "awc", feature = "reqwest"))]
pub(crate) fn with_sink<R>(f: impl FnOnce(&Arc<ThreadSink>) -> R) -> Option<R> {
    active().map(|active| f(&active.sink))
}

/// Installs the pipeline of `init` (or none). While captures are alive theirs stays current (see
/// the module docs).
pub(crate) fn install(pipeline: Option<Pipeline>) {
    replace(|installed| &mut installed.by_init, pipeline);
}

/// Installs the test captures' shared pipeline (`None` once the last capture ends).
#[cfg(feature = "testing")]
pub(crate) fn install_capture(pipeline: Option<Pipeline>) {
    replace(|installed| &mut installed.by_capture, pipeline);
}

/// Whether test captures are alive, so that `init` would not be the pipeline spans go to.
pub(crate) fn capturing() -> bool {
    PIPELINE
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .by_capture
        .is_some()
}

/// Replaces one slot of the installed pipelines, then makes the current one the global
/// OpenTelemetry provider, so the raw `opentelemetry` API exports to the same place, and has
/// every thread pick it up.
fn replace(slot: impl FnOnce(&mut Installed) -> &mut Option<Pipeline>, pipeline: Option<Pipeline>) {
    // Only a pipeline needs the hook. Not while this thread panics: setting a hook then is a
    // panic of its own, an abort during an unwind (a guard dropped by a panic inside `init`).
    if pipeline.is_some() && !std::thread::panicking() {
        install_panic_hook();
    }
    let mut guard = PIPELINE.write().unwrap_or_else(PoisonError::into_inner);
    *slot(&mut guard) = pipeline;
    let current = guard.current();
    if let Some(current) = current {
        crate::clock::calibrate();
        global::set_tracer_provider(current.provider.clone());
    }
    ENABLED.store(current.is_some(), Ordering::Release);
    GENERATION.fetch_add(1, Ordering::AcqRel);
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
