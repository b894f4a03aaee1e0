//! `TracingConfig`: what `init` builds the pipeline from, in code or from the environment.
//!
//! # Precedence
//!
//! [`TracingConfig::from_env`] reads the environment into a config; builder calls made after it
//! override what it read, and unset values fall back to the defaults below. So
//! `TracingConfig::from_env().service_name("maestro-ml-api")` always names the service
//! `maestro-ml-api`, while `TracingConfig::default().service_name(..)` ignores the environment.
//!
//! | variable | accepted values | default |
//! |---|---|---|
//! | `TRACING_ENABLED` | `true`, `false`, `1`, `0` (any case) | `true` |
//! | `OTEL_SDK_DISABLED` | `true`, `false` (any case) | `false` |
//! | `OTEL_SERVICE_NAME` | a non-empty name | `unknown_service` |
//! | `OTEL_TRACES_EXPORTER` | `console`, `none` | `console` |
//!
//! An invalid value is not ignored: [`crate::init`] returns [`InitError::InvalidEnv`] naming the
//! variable, the value and what is accepted.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter, TracerProviderBuilder};
use opentelemetry_sdk::Resource;

use crate::export::ConsoleExporter;
use crate::pipeline::{self, Pipeline};

/// `TRACING_ENABLED`: the guide's on/off switch.
pub const ENV_TRACING_ENABLED: &str = "TRACING_ENABLED";
/// `OTEL_SDK_DISABLED`: the standard OpenTelemetry off switch.
pub const ENV_OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_SERVICE_NAME`: the `service.name` resource attribute.
pub const ENV_OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_TRACES_EXPORTER`: where spans go.
pub const ENV_OTEL_TRACES_EXPORTER: &str = "OTEL_TRACES_EXPORTER";

/// The service name used when none is configured (OpenTelemetry's own default).
pub const DEFAULT_SERVICE_NAME: &str = "unknown_service";
/// How long dropping the guard may spend flushing pending spans.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How the tracing pipeline is built: service identity, exporter, on/off.
///
/// ```
/// use maestro_trace::TracingConfig;
///
/// let config = TracingConfig::from_env()
///     .service_name("maestro-ml-api")
///     .service_version("1.4.0")
///     .resource_attribute("deployment.environment", "staging");
/// # drop(config);
/// ```
pub struct TracingConfig {
    enabled: Option<bool>,
    service_name: Option<String>,
    service_version: Option<String>,
    resource: Vec<KeyValue>,
    exporter: Option<Exporter>,
    shutdown_timeout: Duration,
    /// Problems found while reading the environment, reported by `init`.
    env_errors: Vec<InitError>,
}

/// Where finished spans go.
enum Exporter {
    /// Printed as trace trees on standard output.
    Console,
    /// Nowhere: spans are still created and propagated, but not exported.
    None,
    /// A user-supplied exporter, installed behind a batch processor.
    Custom(Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>),
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            enabled: None,
            service_name: None,
            service_version: None,
            resource: Vec::new(),
            exporter: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            env_errors: Vec::new(),
        }
    }
}

impl fmt::Debug for TracingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exporter = match &self.exporter {
            None => "default (console)",
            Some(Exporter::Console) => "console",
            Some(Exporter::None) => "none",
            Some(Exporter::Custom(_)) => "custom",
        };
        f.debug_struct("TracingConfig")
            .field("enabled", &self.enabled)
            .field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("resource", &self.resource)
            .field("exporter", &exporter)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("env_errors", &self.env_errors)
            .finish()
    }
}

impl TracingConfig {
    /// Reads the process environment (see the module docs for the variables).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration from `lookup` instead of the process environment: what tests and
    /// embedders use to avoid mutating global state.
    ///
    /// ```
    /// use maestro_trace::TracingConfig;
    ///
    /// let config = TracingConfig::from_lookup(|name| {
    ///     (name == "TRACING_ENABLED").then(|| "false".to_string())
    /// });
    /// let guard = maestro_trace::init(config).expect("valid configuration");
    /// assert!(!guard.is_enabled());
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut config = TracingConfig::default();
        let mut errors = Vec::new();

        let tracing_enabled = read_bool(
            &lookup,
            ENV_TRACING_ENABLED,
            &["true", "1"],
            &["false", "0"],
            &mut errors,
        );
        let sdk_disabled = read_bool(
            &lookup,
            ENV_OTEL_SDK_DISABLED,
            &["true"],
            &["false"],
            &mut errors,
        );
        if tracing_enabled == Some(false) || sdk_disabled == Some(true) {
            config.enabled = Some(false);
        } else if tracing_enabled == Some(true) {
            config.enabled = Some(true);
        }

        if let Some(name) = lookup(ENV_OTEL_SERVICE_NAME) {
            if name.trim().is_empty() {
                errors.push(InitError::invalid_env(
                    ENV_OTEL_SERVICE_NAME,
                    &name,
                    "a non-empty service name",
                ));
            } else {
                config.service_name = Some(name);
            }
        }

        if let Some(exporter) = lookup(ENV_OTEL_TRACES_EXPORTER) {
            match exporter.trim().to_ascii_lowercase().as_str() {
                "console" => config.exporter = Some(Exporter::Console),
                "none" => config.exporter = Some(Exporter::None),
                _ => errors.push(InitError::invalid_env(
                    ENV_OTEL_TRACES_EXPORTER,
                    &exporter,
                    "`console` or `none` (Jaeger exporters are not available in this version)",
                )),
            }
        }

        config.env_errors = errors;
        config
    }

    /// Turns tracing on or off. Off, every macro costs one branch and nothing is exported.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// Sets `service.name`, the name Jaeger lists the service under.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Sets `service.version`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// Adds a resource attribute describing where the service runs (`deployment.environment`,
    /// `cloud.region`, ...).
    pub fn resource_attribute(
        mut self,
        key: &'static str,
        value: impl Into<opentelemetry::Value>,
    ) -> Self {
        self.resource.push(KeyValue::new(key, value));
        self
    }

    /// Prints finished traces as trees on standard output (the default exporter).
    pub fn console(mut self) -> Self {
        self.exporter = Some(Exporter::Console);
        self
    }

    /// Exports nothing (spans are still created, so context still propagates).
    pub fn no_exporter(mut self) -> Self {
        self.exporter = Some(Exporter::None);
        self
    }

    /// Sends spans to `exporter`, batched like the built-in exporters: a vendor's exporter, a
    /// test double, or one that discards for benchmarks.
    pub fn span_exporter<E: SpanExporter + 'static>(mut self, exporter: E) -> Self {
        self.exporter = Some(Exporter::Custom(Box::new(move |builder| {
            builder.with_batch_exporter(exporter)
        })));
        self
    }

    /// How long dropping the guard may take to flush pending spans (default 5 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    fn resource(&self) -> Resource {
        let name = self
            .service_name
            .clone()
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let mut builder = Resource::builder_empty()
            .with_service_name(name)
            .with_attributes(self.resource.iter().cloned());
        if let Some(version) = &self.service_version {
            builder = builder.with_attribute(KeyValue::new("service.version", version.clone()));
        }
        builder.build()
    }
}

fn read_bool(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    truthy: &[&str],
    falsy: &[&str],
    errors: &mut Vec<InitError>,
) -> Option<bool> {
    let raw = lookup(var)?;
    let value = raw.trim().to_ascii_lowercase();
    if truthy.contains(&value.as_str()) {
        Some(true)
    } else if falsy.contains(&value.as_str()) {
        Some(false)
    } else {
        let expected = truthy
            .iter()
            .chain(falsy)
            .map(|v| format!("`{v}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errors.push(InitError::InvalidEnv {
            var,
            value: raw,
            expected: format!("one of {expected} (any case)"),
        });
        None
    }
}

/// Why [`init`] could not set tracing up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitError {
    /// An environment variable holds a value that is not accepted.
    InvalidEnv {
        /// The variable's name.
        var: &'static str,
        /// The value found.
        value: String,
        /// What the variable accepts.
        expected: String,
    },
    /// Several problems at once (every invalid variable is reported, not just the first).
    Several(Vec<InitError>),
    /// `init` was called while the guard of an earlier `init` is still alive.
    AlreadyInitialized,
}

impl InitError {
    fn invalid_env(var: &'static str, value: &str, expected: &str) -> Self {
        InitError::InvalidEnv {
            var,
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::InvalidEnv {
                var,
                value,
                expected,
            } => write!(f, "invalid {var}={value:?}: expected {expected}"),
            InitError::Several(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            InitError::AlreadyInitialized => f.write_str(
                "tracing is already initialized: keep the first guard alive instead of calling init again",
            ),
        }
    }
}

impl std::error::Error for InitError {}

/// Why flushing and shutting the pipeline down failed.
#[derive(Debug)]
pub struct ShutdownError(OTelSdkError);

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tracing shutdown failed: {}", self.0)
    }
}

impl std::error::Error for ShutdownError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

static INITIALIZED: AtomicBool = AtomicBool::new(false);

/// Sets tracing up from `config` and returns the guard that keeps it running.
///
/// Dropping the guard flushes pending spans (bounded by the shutdown timeout) and turns tracing
/// off; call [`TracingGuard::shutdown`] instead to see errors.
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
    let mut env_errors = std::mem::take(&mut config.env_errors);
    match env_errors.len() {
        0 => {}
        1 => return Err(env_errors.remove(0)),
        _ => return Err(InitError::Several(env_errors)),
    }
    if INITIALIZED
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(InitError::AlreadyInitialized);
    }
    let mut guard = TracingGuard {
        provider: None,
        active: true,
        timeout: config.shutdown_timeout,
    };
    if config.enabled == Some(false) {
        pipeline::install(None);
        return Ok(guard);
    }

    let builder = SdkTracerProvider::builder().with_resource(config.resource());
    let builder = match config.exporter.take().unwrap_or(Exporter::Console) {
        Exporter::Console => builder.with_simple_exporter(ConsoleExporter::stdout()),
        Exporter::None => builder,
        Exporter::Custom(install) => install(builder),
    };
    let provider = builder.build();
    pipeline::install(Some(Pipeline::new(provider.clone())));
    guard.provider = Some(provider);
    Ok(guard)
}

/// Keeps tracing running; dropping it flushes pending spans and turns tracing off.
#[must_use = "dropping the guard shuts tracing down immediately"]
#[derive(Debug)]
pub struct TracingGuard {
    provider: Option<SdkTracerProvider>,
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
        INITIALIZED.store(false, Ordering::Release);
        match self.provider.take() {
            Some(provider) => provider
                .shutdown_with_timeout(self.timeout)
                .map_err(ShutdownError),
            None => Ok(()),
        }
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
