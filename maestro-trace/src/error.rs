//! Typed errors of the runtime: each names the input that was wrong and what is accepted.

use std::fmt;

use opentelemetry_sdk::error::OTelSdkError;

/// Why [`init`](crate::init) could not set tracing up.
///
/// Its `Debug` form is its message, so `fn main() -> Result<(), Box<dyn Error>>` prints what is
/// wrong (`Error: invalid OTEL_TRACES_SAMPLER="sometimes": expected ...`); `{:#?}` shows the
/// fields.
///
/// ```
/// use maestro_trace::{InitError, TracingConfig};
///
/// let config = TracingConfig::from_lookup(|name| {
///     (name == "OTEL_BSP_MAX_QUEUE_SIZE").then(|| "lots".to_string())
/// });
/// let error = maestro_trace::init(config).expect_err("an invalid queue size");
/// assert_eq!(
///     format!("{error:?}"),
///     r#"invalid OTEL_BSP_MAX_QUEUE_SIZE="lots": expected a whole number greater than 0"#
/// );
/// assert!(matches!(error, InitError::InvalidEnv { var: "OTEL_BSP_MAX_QUEUE_SIZE", .. }));
/// assert!(format!("{error:#?}").starts_with("InvalidEnv {"));
/// ```
#[derive(Clone, PartialEq, Eq)]
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
    /// A value set in code is not accepted.
    InvalidConfig {
        /// The builder setting, e.g. `sample_ratio`.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What the setting accepts.
        expected: String,
    },
    /// The exporter could not be built from a valid configuration (e.g. no thread could be
    /// started for it).
    Exporter {
        /// Which exporter.
        exporter: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// Several problems at once (every invalid variable is reported, not just the first).
    Several(Vec<InitError>),
    /// `init` was called while the guard of an earlier `init` is still alive.
    AlreadyInitialized,
    /// `init` was called while a test capture (`maestro_trace::testing::capture`) is alive: the
    /// capture owns the pipeline until it is dropped.
    CaptureAlive,
}

impl InitError {
    pub(crate) fn invalid_env(var: &'static str, value: &str, expected: impl Into<String>) -> Self {
        InitError::InvalidEnv {
            var,
            value: value.to_owned(),
            expected: expected.into(),
        }
    }

    pub(crate) fn invalid_config(
        setting: &'static str,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        InitError::InvalidConfig {
            setting,
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// One error for a list of problems.
    pub(crate) fn from_all(mut errors: Vec<InitError>) -> Option<InitError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(InitError::Several(errors)),
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
            InitError::InvalidConfig {
                setting,
                value,
                expected,
            } => write!(f, "invalid {setting} {value}: expected {expected}"),
            InitError::Exporter { exporter, reason } => {
                write!(f, "could not start the {exporter} exporter: {reason}")
            }
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
            InitError::CaptureAlive => f.write_str(
                "a test capture is alive and owns the tracing pipeline: drop every `testing::capture()` before calling init, or run tests that call init in a test binary of their own",
            ),
        }
    }
}

/// The message; with `{:#?}`, the variant and its fields.
impl fmt::Debug for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        match self {
            InitError::InvalidEnv {
                var,
                value,
                expected,
            } => f
                .debug_struct("InvalidEnv")
                .field("var", var)
                .field("value", value)
                .field("expected", expected)
                .finish(),
            InitError::InvalidConfig {
                setting,
                value,
                expected,
            } => f
                .debug_struct("InvalidConfig")
                .field("setting", setting)
                .field("value", value)
                .field("expected", expected)
                .finish(),
            InitError::Exporter { exporter, reason } => f
                .debug_struct("Exporter")
                .field("exporter", exporter)
                .field("reason", reason)
                .finish(),
            InitError::Several(errors) => f.debug_tuple("Several").field(errors).finish(),
            InitError::AlreadyInitialized => f.write_str("AlreadyInitialized"),
            InitError::CaptureAlive => f.write_str("CaptureAlive"),
        }
    }
}

impl std::error::Error for InitError {}

/// Why flushing and shutting the pipeline down failed.
#[derive(Debug)]
pub struct ShutdownError(pub(crate) OTelSdkError);

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
