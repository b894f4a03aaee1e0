//! Prints each finished trace as an indented tree with durations, errors marked.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::tree::{self, TreeStyle};

/// Most spans held back while waiting for their trace's root to end; past this the oldest
/// pending trace is printed as it stands (marked incomplete) so memory stays bounded.
const MAX_PENDING_SPANS: usize = 10_000;

/// An exporter that prints every finished trace as a tree, for development and demos.
///
/// Spans are held until the local root of their trace ends, then the whole tree is printed at
/// once; a flush or shutdown prints whatever is still pending.
///
/// ```
/// use maestro_trace::{export::ConsoleExporter, TracingConfig};
///
/// let config = TracingConfig::default().span_exporter(ConsoleExporter::new(std::io::sink()));
/// # drop(config);
/// ```
pub struct ConsoleExporter {
    state: Mutex<ConsoleState>,
}

struct ConsoleState {
    out: Box<dyn Write + Send>,
    pending: HashMap<TraceId, Vec<SpanData>>,
    /// Pending traces in arrival order, to evict the oldest first.
    order: Vec<TraceId>,
    pending_spans: usize,
}

impl ConsoleExporter {
    /// Prints to standard output.
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Prints to `out` (a file, a buffer shared with a test, ...).
    pub fn new(out: impl Write + Send + 'static) -> Self {
        ConsoleExporter {
            state: Mutex::new(ConsoleState {
                out: Box::new(out),
                pending: HashMap::new(),
                order: Vec::new(),
                pending_spans: 0,
            }),
        }
    }
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter").finish_non_exhaustive()
    }
}

impl ConsoleState {
    fn accept(&mut self, batch: Vec<SpanData>) -> io::Result<()> {
        for span in batch {
            let trace = span.span_context.trace_id();
            let local_root = span.parent_span_id == opentelemetry::trace::SpanId::INVALID
                || span.parent_span_is_remote;
            let entry = self.pending.entry(trace).or_insert_with(|| {
                self.order.push(trace);
                Vec::new()
            });
            entry.push(span);
            self.pending_spans += 1;
            if local_root {
                self.print(trace, false)?;
            }
        }
        while self.pending_spans > MAX_PENDING_SPANS {
            match self.order.first().copied() {
                Some(oldest) => self.print(oldest, true)?,
                None => break,
            }
        }
        Ok(())
    }

    fn print(&mut self, trace: TraceId, incomplete: bool) -> io::Result<()> {
        self.order.retain(|t| *t != trace);
        let Some(spans) = self.pending.remove(&trace) else {
            return Ok(());
        };
        self.pending_spans -= spans.len();
        let drawing = tree::render(
            &spans,
            TreeStyle {
                durations: true,
                trace_ids: false,
            },
        );
        let note = if incomplete { " (incomplete)" } else { "" };
        writeln!(self.out, "── trace {trace}{note}")?;
        self.out.write_all(drawing.as_bytes())?;
        self.out.flush()
    }

    fn print_all(&mut self) -> io::Result<()> {
        while let Some(trace) = self.order.first().copied() {
            self.print(trace, true)?;
        }
        Ok(())
    }
}

fn io_error(error: io::Error) -> OTelSdkError {
    OTelSdkError::InternalFailure(format!("console exporter could not write: {error}"))
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.accept(batch).map_err(io_error)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.print_all().map_err(io_error)
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        self.force_flush()
    }
}
