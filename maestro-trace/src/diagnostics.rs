//! Self-diagnostics: what happened to the spans handed to the exporter, readable at run time.
//!
//! ```
//! let now = maestro_trace::diagnostics();
//! println!(
//!     "exported {} spans, dropped {}, {} failed exports",
//!     now.spans_exported, now.spans_dropped, now.export_errors
//! );
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Counters since the process started (they survive `init` / shutdown cycles).
///
/// ```
/// use maestro_trace::{init, span, TracingConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let before = maestro_trace::diagnostics();
/// let tracing = init(TracingConfig::default().service_name("trainer").no_exporter())?;
/// span!("load_training_dataset").in_scope(|| ());
/// tracing.shutdown()?;
/// let after = maestro_trace::diagnostics();
/// // Nothing was lost on the way out (`no_exporter` queues nothing).
/// assert_eq!(after.spans_dropped, before.spans_dropped);
/// assert_eq!(after.export_errors, before.export_errors);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    /// Spans that ended and were queued for export. A span is counted when the batching thread
    /// takes it from its thread's ring: within a batch's worth of spans or the scheduled delay
    /// after it ended, and at the latest by the shutdown.
    pub spans_queued: u64,
    /// Spans the exporter accepted.
    pub spans_exported: u64,
    /// Spans lost: the queue was full, the export failed or timed out, or they ended after
    /// shutdown.
    pub spans_dropped: u64,
    /// Of the dropped spans, those refused because the queue was full.
    pub spans_dropped_queue_full: u64,
    /// Export calls that failed or timed out.
    pub export_errors: u64,
    /// Of the failed export calls, those abandoned after the export timeout.
    pub export_timeouts: u64,
    /// The last export error, as the exporter described it.
    pub last_error: Option<String>,
}

/// One log line of `key=value` pairs, named as the fields, the last error quoted (omitted when
/// there is none): what a service writes when it stops, so that lost spans show in its log.
///
/// ```
/// let line = maestro_trace::diagnostics().to_string();
/// assert!(line.starts_with("spans_queued="));
/// assert!(line.contains(" spans_dropped_queue_full="));
/// ```
impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spans_queued={} spans_exported={} spans_dropped={} spans_dropped_queue_full={} \
             export_errors={} export_timeouts={}",
            self.spans_queued,
            self.spans_exported,
            self.spans_dropped,
            self.spans_dropped_queue_full,
            self.export_errors,
            self.export_timeouts
        )?;
        match &self.last_error {
            Some(error) => write!(f, " last_error={error:?}"),
            None => Ok(()),
        }
    }
}

/// The live counters behind [`diagnostics`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) export_errors: AtomicU64,
    pub(crate) export_timeouts: AtomicU64,
    report: Mutex<Report>,
}

#[derive(Debug, Default)]
struct Report {
    last_error: Option<String>,
    /// When an error was last written to stderr, and how many were not written since.
    last_written: Option<Instant>,
    suppressed: u64,
}

/// How often an ongoing export failure is reported on stderr.
pub(crate) const REPORT_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) static COUNTERS: Counters = Counters {
    queued: AtomicU64::new(0),
    exported: AtomicU64::new(0),
    dropped: AtomicU64::new(0),
    dropped_queue_full: AtomicU64::new(0),
    export_errors: AtomicU64::new(0),
    export_timeouts: AtomicU64::new(0),
    report: Mutex::new(Report {
        last_error: None,
        last_written: None,
        suppressed: 0,
    }),
};

impl Counters {
    /// Records a failed export of `spans` spans. The first failure is written to stderr at
    /// once, later ones at most every [`REPORT_INTERVAL`] with a count of those in between:
    /// an unreachable Jaeger is visible without flooding the application's logs.
    pub(crate) fn export_failed(&self, spans: u64, exporter: &str, error: &str, timed_out: bool) {
        self.dropped.fetch_add(spans, Ordering::Relaxed);
        self.export_errors.fetch_add(1, Ordering::Relaxed);
        if timed_out {
            self.export_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        let mut report = self.report.lock().unwrap_or_else(PoisonError::into_inner);
        report.last_error = Some(error.to_owned());
        let due = report
            .last_written
            .is_none_or(|at| at.elapsed() >= REPORT_INTERVAL);
        if due {
            let suppressed = std::mem::take(&mut report.suppressed);
            let more = if suppressed > 0 {
                format!(" ({suppressed} more failures since the last report)")
            } else {
                String::new()
            };
            eprintln!("maestro-trace: exporting {spans} spans to {exporter} failed: {error}{more}");
            report.last_written = Some(Instant::now());
        } else {
            report.suppressed += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> Diagnostics {
        Diagnostics {
            spans_queued: self.queued.load(Ordering::Relaxed),
            spans_exported: self.exported.load(Ordering::Relaxed),
            spans_dropped: self.dropped.load(Ordering::Relaxed),
            spans_dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            export_errors: self.export_errors.load(Ordering::Relaxed),
            export_timeouts: self.export_timeouts.load(Ordering::Relaxed),
            last_error: self
                .report
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .last_error
                .clone(),
        }
    }
}

/// The export counters now: spans queued, exported and dropped, failed exports, the last error.
///
/// ```
/// let now = maestro_trace::diagnostics();
/// // The detailed counters are parts of the totals.
/// assert!(now.spans_dropped >= now.spans_dropped_queue_full);
/// assert!(now.export_errors >= now.export_timeouts);
/// if now.spans_dropped > 0 {
///     eprintln!("maestro-trace lost spans: {now}");
/// }
/// ```
pub fn diagnostics() -> Diagnostics {
    COUNTERS.snapshot()
}
