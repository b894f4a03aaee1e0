//! `init`: checks a `TracingConfig`, builds its pipeline and installs it process-wide; the guard
//! it returns flushes and shuts it down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::config::TracingConfig;
use crate::error::{InitError, ShutdownError};
use crate::pipeline;
use crate::runtime::IoRuntime;

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Sets tracing up from `config` and returns the guard that keeps it running.
///
/// Every invalid value, from the environment or from code, is reported at once as an error;
/// nothing falls back silently. Dropping the guard flushes pending spans (bounded by the
/// shutdown timeout) and turns tracing off; call [`TracingGuard::shutdown`] to see errors.
/// `init` while an earlier guard is alive returns [`InitError::AlreadyInitialized`], and while a
/// test capture is alive [`InitError::CaptureAlive`].
///
/// ```
/// use maestro_trace::{init, traced, TracingConfig};
///
/// #[traced]
/// fn load_training_dataset() -> usize { 10_000 }
///
/// # fn main() -> Result<(), maestro_trace::InitError> {
/// let guard = init(TracingConfig::default().service_name("maestro-ml-api").no_exporter())?;
/// assert_eq!(load_training_dataset(), 10_000);
/// drop(guard);
/// # Ok(()) }
/// ```
pub fn init(mut config: TracingConfig) -> Result<TracingGuard, InitError> {
    if let Some(error) = config.problems() {
        return Err(error);
    }
    if INITIALIZED
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(InitError::AlreadyInitialized);
    }
    let mut guard = TracingGuard {
        provider: None,
        runtime: IoRuntime::default(),
        active: true,
        timeout: config.shutdown_timeout,
    };
    if pipeline::capturing() {
        return Err(InitError::CaptureAlive);
    }
    if config.enabled == Some(false) {
        pipeline::install(None);
        return Ok(guard);
    }

    // From here on the guard owns INITIALIZED: an error drops it, which releases it.
    let pipeline = crate::provider::build(&mut config, &mut guard.runtime)?;
    opentelemetry::global::set_text_map_propagator(crate::propagation::composite(
        &config.propagators_or_default(),
    ));
    guard.provider = Some(pipeline.provider.clone());
    pipeline::install(Some(pipeline));
    Ok(guard)
}

/// Keeps tracing running; dropping it flushes pending spans and turns tracing off.
///
/// Hold it for the life of the program (`let _tracing = ...`, not `let _ = ...`, which drops it
/// at once). [`shutdown`](Self::shutdown) does what dropping does and reports what went wrong.
///
/// ```
/// use maestro_trace::{init, span, TracingConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tracing = init(TracingConfig::default().service_name("trainer").no_exporter())?;
/// assert!(tracing.is_enabled());
/// span!("load_training_dataset").in_scope(|| ());
/// tracing.shutdown()?; // flushed; tracing is off and `init` may be called again
///
/// let off = init(TracingConfig::default().enabled(false))?;
/// assert!(!off.is_enabled());
/// # Ok(()) }
/// ```
#[must_use = "dropping the guard shuts tracing down immediately"]
#[derive(Debug)]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
    /// The I/O runtime (gRPC connection, remote sampling): outlives the provider's final flush.
    runtime: IoRuntime,
    /// Whether this guard still owns the process-wide pipeline (false once shut down).
    active: bool,
    timeout: Duration,
}

impl TracingGuard {
    /// Whether spans are being created (false when the config disabled tracing).
    pub fn is_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes pending spans and shuts the pipeline down, reporting what went wrong.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_in_place()
    }

    fn shutdown_in_place(&mut self) -> Result<(), ShutdownError> {
        if !std::mem::take(&mut self.active) {
            return Ok(());
        }
        pipeline::install(None);
        let result = match self.provider.take() {
            Some(provider) => provider
                .shutdown_with_timeout(self.timeout)
                .map_err(ShutdownError),
            None => Ok(()),
        };
        self.runtime.shut_down();
        INITIALIZED.store(false, Ordering::Release);
        result
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown_in_place() {
            // The guard has no caller to return to; say it once rather than lose it silently.
            eprintln!("maestro-trace: {error}");
        }
    }
}
