//! Our batch span processor: a bounded queue, a batching thread and an export thread.
//!
//! The SDK's thread-based `BatchSpanProcessor` (0.33) neither bounds an export in time nor says
//! how many spans it dropped. Here:
//!
//! - `on_end` only tries to enqueue: a full queue drops the span (counted), never blocks the
//!   application thread, and memory stays bounded by the queue size;
//! - the batching thread sleeps on its control channel, never on the span queue: enqueueing a
//!   span is a few atomic operations and wakes no thread, except one span in every batch's worth
//!   (the largest power of two up to `max_export_batch_size`), which sends the batching thread
//!   a wake-up: one system call per batch instead of one per span;
//! - every queued span is accounted for exactly once, as exported or dropped, even when a
//!   shutdown gives up on an export that is still running (the spans it could not wait for are
//!   written off as dropped then, and not counted again if the export finishes later);
//! - the batching thread sends a batch when it is full or the delay has passed, then waits at
//!   most the export timeout for the export thread's answer; an export still running then is
//!   abandoned (its spans counted as dropped), and while it runs, at most one more batch waits
//!   behind it: the rest is dropped and counted instead of piling up;
//! - flush and shutdown drain the queue and are bounded by the caller's timeout.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

use crate::diagnostics::COUNTERS;

/// Batch export settings: how many spans wait, for how long, and how long one export may take.
///
/// ```
/// use std::time::Duration;
/// use maestro_trace::{BatchSettings, TracingConfig};
///
/// let batch = BatchSettings { scheduled_delay: Duration::from_secs(1), ..BatchSettings::default() };
/// assert_eq!(batch.max_queue_size, 2048);
/// let config = TracingConfig::default().batch(batch);
/// assert_eq!(config.effective_batch(), Ok(batch));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSettings {
    /// Spans held at most while waiting for export; more are dropped (and counted).
    pub max_queue_size: usize,
    /// How long spans wait before a batch is sent.
    pub scheduled_delay: Duration,
    /// Spans per export request at most.
    pub max_export_batch_size: usize,
    /// How long one export may take before it is abandoned (and counted as failed).
    pub export_timeout: Duration,
}

/// The OpenTelemetry defaults (`OTEL_BSP_*`): 2048 spans, 5 s, 512 spans, 30 s.
impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings {
            max_queue_size: 2048,
            scheduled_delay: Duration::from_secs(5),
            max_export_batch_size: 512,
            export_timeout: Duration::from_secs(30),
        }
    }
}

/// A request to the batching thread.
enum Control {
    /// A full batch is waiting in the queue.
    Wake,
    Flush(Sender<OTelSdkResult>),
    Shutdown(Sender<OTelSdkResult>),
    Resource(Resource),
}

/// Work for the export thread.
enum Job {
    Export(Vec<SpanData>, Sender<OTelSdkResult>),
    Resource(Resource),
    Shutdown(Duration, Sender<OTelSdkResult>),
}

/// The batch processor every built-in exporter but the console sits behind.
#[derive(Debug)]
pub(crate) struct BatchProcessor {
    spans: SyncSender<SpanData>,
    /// Spans queued and not yet exported or dropped.
    unresolved: Arc<Unresolved>,
    /// The span that brings `unresolved` to a multiple of this (a power of two) wakes the
    /// batching thread.
    wake_mask: u64,
    control: Sender<Control>,
    shut_down: AtomicBool,
}

impl BatchProcessor {
    /// Starts the batching and export threads for `exporter`. `name` says which exporter in
    /// error reports.
    pub(crate) fn new<E: SpanExporter + 'static>(
        exporter: E,
        settings: BatchSettings,
        name: &'static str,
    ) -> std::io::Result<Self> {
        let (spans, queue) = mpsc::sync_channel(settings.max_queue_size);
        let (control, requests) = mpsc::channel();
        // Capacity 1: one batch may wait behind a running export, no more.
        let (jobs, work) = mpsc::sync_channel(1);
        let unresolved = Arc::new(Unresolved::default());
        thread::Builder::new()
            .name("maestro-trace-export".to_owned())
            .spawn(move || export_thread(exporter, work))?;
        let batcher = Batcher {
            queue,
            unresolved: Arc::clone(&unresolved),
            requests,
            jobs,
            settings,
            name,
            abandoned: Cell::new(false),
        };
        thread::Builder::new()
            .name("maestro-trace-batch".to_owned())
            .spawn(move || batcher.run())?;
        Ok(BatchProcessor {
            spans,
            unresolved,
            wake_mask: wake_mask(settings.max_export_batch_size),
            control,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Sends a request and waits for its answer at most `timeout`.
    fn request(
        &self,
        make: impl FnOnce(Sender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (reply, answer) = mpsc::channel();
        let sent = self.control.send(make(reply));
        if sent.is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(OTelSdkError::InternalFailure(
                "the batch export thread stopped".to_owned(),
            )),
        }
    }
}

impl SpanProcessor for BatchProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        if self.shut_down.load(Ordering::Relaxed) {
            COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // Counted before it is sent: the batching thread may resolve it at once.
        let unresolved = self.unresolved.0.fetch_add(1, Ordering::AcqRel) + 1;
        match self.spans.try_send(span) {
            Ok(()) => {
                COUNTERS.queued.fetch_add(1, Ordering::Relaxed);
                if unresolved & self.wake_mask == 0 {
                    // A closed channel means the batching thread is gone: nothing to wake.
                    let _ = self.control.send(Control::Wake);
                }
            }
            Err(TrySendError::Full(_)) => {
                self.unresolved.resolve(1);
                COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
                COUNTERS.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.unresolved.resolve(1);
                COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.request(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let result = self.request(Control::Shutdown, timeout);
        if result.is_err() {
            // Whatever is still queued or being exported will not be waited for: count it as
            // dropped now, and the batching thread will not count it again.
            let written_off = self.unresolved.0.swap(0, Ordering::AcqRel);
            COUNTERS.dropped.fetch_add(written_off, Ordering::Relaxed);
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.control.send(Control::Resource(resource.clone()));
    }
}

/// The batching thread's state.
struct Batcher {
    queue: Receiver<SpanData>,
    unresolved: Arc<Unresolved>,
    requests: Receiver<Control>,
    jobs: SyncSender<Job>,
    settings: BatchSettings,
    name: &'static str,
    /// Whether an export was given up on after the timeout and may still be running.
    abandoned: Cell<bool>,
}

impl Batcher {
    fn run(self) {
        let mut batch: Vec<SpanData> = Vec::with_capacity(self.settings.max_export_batch_size);
        let mut deadline = Instant::now() + self.settings.scheduled_delay;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.requests.recv_timeout(wait) {
                Ok(Control::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Control::Flush(reply)) => {
                    let _ = reply.send(self.drain(&mut batch));
                    continue;
                }
                Ok(Control::Shutdown(reply)) => {
                    let drained = self.drain(&mut batch);
                    let (done, answer) = mpsc::channel();
                    let job = Job::Shutdown(self.settings.export_timeout, done);
                    let handed_over = if self.abandoned.get() {
                        self.jobs.try_send(job).map_err(|_| {
                            OTelSdkError::InternalFailure(
                                "the exporter is still busy with an abandoned export".to_owned(),
                            )
                        })
                    } else {
                        self.jobs.send(job).map_err(|_| stopped())
                    };
                    let closed = handed_over.and_then(|()| {
                        answer
                            .recv_timeout(self.settings.export_timeout)
                            .unwrap_or(Err(OTelSdkError::Timeout(self.settings.export_timeout)))
                    });
                    let _ = reply.send(drained.and(closed));
                    return;
                }
                Ok(Control::Resource(resource)) => {
                    let _ = self.jobs.send(Job::Resource(resource));
                    continue;
                }
                // The processor is gone without a shutdown: send what is left and stop.
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.drain(&mut batch);
                    return;
                }
            }
            // Send every full batch waiting in the queue; keep the rest until the deadline.
            while self.fill(&mut batch) {
                let _ = self.export(&mut batch);
                deadline = Instant::now() + self.settings.scheduled_delay;
            }
            if Instant::now() >= deadline {
                if !batch.is_empty() {
                    let _ = self.export(&mut batch);
                }
                deadline = Instant::now() + self.settings.scheduled_delay;
            }
        }
    }

    /// Moves queued spans into `batch` up to the batch size; whether the batch is full.
    fn fill(&self, batch: &mut Vec<SpanData>) -> bool {
        while batch.len() < self.settings.max_export_batch_size {
            match self.queue.try_recv() {
                Ok(span) => batch.push(span),
                Err(_) => break,
            }
        }
        batch.len() >= self.settings.max_export_batch_size
    }

    /// Exports everything queued now, in batches. After a failed export the rest is dropped
    /// (and counted) instead of sent: each further attempt would wait on the same failing
    /// backend, and a flush or shutdown must not take a timeout per batch.
    fn drain(&self, batch: &mut Vec<SpanData>) -> OTelSdkResult {
        loop {
            self.fill(batch);
            if batch.is_empty() {
                return Ok(());
            }
            if let Err(error) = self.export(batch) {
                let mut rest = 0;
                while self.queue.try_recv().is_ok() {
                    rest += 1;
                }
                let rest = self.unresolved.resolve(rest);
                COUNTERS.dropped.fetch_add(rest, Ordering::Relaxed);
                return Err(error);
            }
        }
    }

    /// Hands `batch` to the export thread and waits for its answer, at most the export timeout.
    fn export(&self, batch: &mut Vec<SpanData>) -> OTelSdkResult {
        let spans = std::mem::replace(
            batch,
            Vec::with_capacity(self.settings.max_export_batch_size),
        );
        let count = spans.len() as u64;
        let (reply, answer) = mpsc::channel();
        let job = Job::Export(spans, reply);
        // Only after an abandoned export can the exporter still be busy: then this batch may
        // wait behind it in the one-slot channel, but never block the batching thread.
        let handed_over = if self.abandoned.get() {
            self.jobs.try_send(job)
        } else {
            self.jobs
                .send(job)
                .map_err(|mpsc::SendError(job)| TrySendError::Disconnected(job))
        };
        let outcome = match handed_over {
            Ok(()) => match answer.recv_timeout(self.settings.export_timeout) {
                Ok(result) => {
                    self.abandoned.set(false);
                    result
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.abandoned.set(true);
                    Err(OTelSdkError::Timeout(self.settings.export_timeout))
                }
                Err(RecvTimeoutError::Disconnected) => Err(stopped()),
            },
            Err(TrySendError::Full(_)) => Err(OTelSdkError::InternalFailure(
                "the previous export has not finished yet".to_owned(),
            )),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        };
        match &outcome {
            Ok(()) => {
                let count = self.unresolved.resolve(count);
                COUNTERS.exported.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => {
                let count = self.unresolved.resolve(count);
                let timed_out = matches!(error, OTelSdkError::Timeout(_));
                COUNTERS.export_failed(count, self.name, &error.to_string(), timed_out);
            }
        }
        outcome
    }
}

/// Spans queued and not yet counted as exported or dropped.
#[derive(Debug, Default)]
struct Unresolved(AtomicU64);

impl Unresolved {
    /// Takes `spans` off the count and returns how many of them were still on it: after a
    /// shutdown wrote the rest off as dropped, none are, and none are counted twice.
    fn resolve(&self, spans: u64) -> u64 {
        let before = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(spans))
            })
            .unwrap_or_else(|n| n);
        before.min(spans)
    }
}

/// The mask of the largest power of two not above `batch_size` (at least 1).
fn wake_mask(batch_size: usize) -> u64 {
    let batch_size = batch_size.max(1) as u64;
    (1u64 << (63 - batch_size.leading_zeros())) - 1
}

fn stopped() -> OTelSdkError {
    OTelSdkError::InternalFailure("the export thread stopped".to_owned())
}

/// The export thread: owns the exporter and runs one export at a time.
fn export_thread<E: SpanExporter>(mut exporter: E, work: Receiver<Job>) {
    for job in work {
        match job {
            Job::Export(batch, reply) => {
                let _ = reply.send(block_on(exporter.export(batch)));
            }
            Job::Resource(resource) => exporter.set_resource(&resource),
            Job::Shutdown(timeout, reply) => {
                let _ = reply.send(exporter.shutdown_with_timeout(timeout));
                return;
            }
        }
    }
}

/// Runs a future to completion on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut task = TaskContext::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        match future.as_mut().poll(&mut task) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}
