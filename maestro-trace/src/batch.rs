//! Our batch span processor: per-thread batches, a bounded queue, a batching thread and an
//! export thread.
//!
//! The SDK's thread-based `BatchSpanProcessor` (0.33) neither bounds an export in time nor says
//! how many spans it dropped, and sends every span through one shared channel. Here:
//!
//! - `on_end` pushes the span onto its thread's own open batch (a lock only that thread takes,
//!   but for the batching thread once per scheduled delay): no channel, no shared counter and no
//!   wake-up per span (`docs/span-path.md`, 2.2);
//! - an open batch that fills (64 spans, or the export batch size if smaller) is handed to the
//!   batching thread in one message, if the queue (`max_queue_size` spans handed over and not
//!   yet exported) has room for it; else its spans are dropped (counted). The application
//!   thread never blocks, and memory stays bounded by the queue plus one open batch per thread.
//!   The batching thread gathers them into export batches and gives the emptied ones back for
//!   reuse, so a thread's batches are recycled memory, not fresh pages;
//! - every scheduled delay the batching thread takes the partial batches of every thread (of an
//!   idle or exited thread too), so no span waits longer than the delay; a flush and the
//!   shutdown take them first, from the thread that asks, so "every span ended before the
//!   shutdown" holds without waiting on the batching thread; a span ending after the shutdown
//!   is dropped (counted);
//! - every queued span is accounted for exactly once, as exported or dropped, even when a
//!   shutdown gives up on an export that is still running (the spans it could not wait for are
//!   written off as dropped then, and not counted again if the export finishes later);
//! - the batching thread sends a batch when it is full or the delay has passed, then waits at
//!   most the export timeout for the export thread's answer; an export still running then is
//!   abandoned (its spans counted as dropped), and while it runs, at most one more batch waits
//!   behind it: the rest is dropped and counted instead of piling up;
//! - flush and shutdown drain the queue and are bounded by the caller's timeout.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
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

/// The spans a thread hands over at a time, at most (see [`Shared::chunk`]).
const CHUNK: usize = 64;

/// A request to the batching thread.
enum Control {
    /// A batch's worth of spans is ready.
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
    shared: Arc<Shared>,
    control: Sender<Control>,
    shut_down: AtomicBool,
}

/// What the processor, the threads that end spans and the batching thread share.
#[derive(Debug)]
struct Shared {
    /// Tells this processor's buffers from another's in a thread's list.
    id: u64,
    /// Spans per export at most (`max_export_batch_size`).
    batch_size: usize,
    /// The spans a thread's open batch holds before it is handed over: a chunk of an export
    /// batch, small enough (64 spans, 22 KiB) to come from the allocator's reused memory, not
    /// from fresh pages the kernel must zero (a 512-span batch is 180 KiB, over glibc's mmap
    /// threshold: handing those over cost the caller a page fault every few spans).
    chunk: usize,
    /// Emptied chunks the batching thread gives back, for threads to fill again.
    spare: Mutex<Vec<Vec<SpanData>>>,
    /// Chunks handed over and not yet taken by the batching thread.
    ready: Mutex<Ready>,
    /// Spans handed over and not yet exported or dropped at most (`max_queue_size`).
    capacity: u64,
    /// Spans handed over and not yet exported or dropped.
    unresolved: Unresolved,
    /// Every thread's open batch, for the scheduled delay, a flush and the shutdown to take.
    buffers: Mutex<Vec<Arc<Buffer>>>,
}

/// One thread's open batch of one processor. Its lock is only ever contended when the batching
/// thread takes a partial batch (once per scheduled delay), never by another span.
#[derive(Debug)]
struct Buffer(Mutex<Open>);

#[derive(Debug)]
struct Open {
    spans: Vec<SpanData>,
    /// Set when the processor shut down: a span ending later is dropped (and counted).
    closed: bool,
}

/// A thread's open batch refused a span: its processor has shut down.
struct Closed;

thread_local! {
    /// This thread's open batches, one per live processor, keyed by [`Shared::id`].
    static BUFFERS: RefCell<Vec<(u64, Arc<Buffer>)>> = const { RefCell::new(Vec::new()) };
}

/// Threads' chunks handed over, waiting for the batching thread.
#[derive(Debug, Default)]
struct Ready {
    chunks: Vec<Vec<SpanData>>,
    spans: usize,
}

impl Drop for Shared {
    /// Chunks handed over after the batching thread stopped are counted as dropped: no span is
    /// lost without a count.
    fn drop(&mut self) {
        let ready = self.take_ready();
        let lost = ready.iter().map(|chunk| chunk.len() as u64).sum();
        let lost = self.unresolved.resolve(lost);
        COUNTERS.dropped.fetch_add(lost, Ordering::Relaxed);
    }
}

impl Shared {
    /// Runs `push` on this thread's open batch of this processor (registering one on first
    /// use); `None` while the thread is being torn down.
    fn with_buffer<R>(&self, push: impl FnOnce(&mut Open) -> R) -> Option<R> {
        BUFFERS
            .try_with(|buffers| {
                let mut buffers = buffers.try_borrow_mut().ok()?;
                let index = match buffers.iter().position(|(id, _)| *id == self.id) {
                    Some(index) => index,
                    None => {
                        // Buffers of processors shut down since are of no further use.
                        buffers.retain(|(_, buffer)| !lock(&buffer.0).closed);
                        let buffer = Arc::new(Buffer(Mutex::new(Open {
                            spans: self.spare_chunk(),
                            closed: false,
                        })));
                        lock(&self.buffers).push(Arc::clone(&buffer));
                        buffers.push((self.id, buffer));
                        buffers.len() - 1
                    }
                };
                let pushed = push(&mut lock(&buffers[index].1 .0));
                Some(pushed)
            })
            .ok()
            .flatten()
    }

    /// Takes every thread's partial batch (and with `close`, refuses every later span).
    /// Buffers of threads that have exited are forgotten once emptied.
    fn take_partial(&self, close: bool) -> Vec<Vec<SpanData>> {
        let mut taken = Vec::new();
        lock(&self.buffers).retain(|buffer| {
            let mut open = lock(&buffer.0);
            if !open.spans.is_empty() {
                // The thread's next span grows a new chunk (or none follows: an idle thread).
                taken.push(std::mem::take(&mut open.spans));
            }
            open.closed |= close;
            // Only this list still holds the buffer of a thread that has exited.
            !close && Arc::strong_count(buffer) > 1
        });
        taken
    }

    /// An empty chunk: a spare one, else a new one.
    fn spare_chunk(&self) -> Vec<SpanData> {
        lock(&self.spare)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(self.chunk))
    }

    /// Keeps an emptied chunk for reuse (up to a queue's worth of them).
    fn give_back(&self, chunk: Vec<SpanData>) {
        if chunk.capacity() == self.chunk {
            let mut spare = lock(&self.spare);
            if spare.len() * self.chunk < self.capacity as usize {
                spare.push(chunk);
            }
        }
    }

    /// Counts `spans` as queued if the queue has room for them, else as dropped: one atomic
    /// operation per chunk, not per span.
    fn admit(&self, spans: Vec<SpanData>) -> Option<Vec<SpanData>> {
        let count = spans.len() as u64;
        let admitted = self
            .unresolved
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held + count <= self.capacity).then_some(held + count)
            })
            .is_ok();
        if admitted {
            COUNTERS.queued.fetch_add(count, Ordering::Relaxed);
            Some(spans)
        } else {
            COUNTERS.dropped.fetch_add(count, Ordering::Relaxed);
            COUNTERS
                .dropped_queue_full
                .fetch_add(count, Ordering::Relaxed);
            None
        }
    }

    /// Hands a chunk to the batching thread if the queue has room for it; whether a batch's
    /// worth is ready now, so that the batching thread needs waking. Only that chunk wakes it:
    /// one wake-up per export batch, not per chunk (a wake-up per 64 spans cost the caller 6%
    /// of its time in the kernel's `try_to_wake_up`).
    fn hand_over(&self, spans: Vec<SpanData>) -> bool {
        let Some(spans) = self.admit(spans) else {
            return false;
        };
        let mut ready = lock(&self.ready);
        let before = ready.spans;
        ready.spans += spans.len();
        ready.chunks.push(spans);
        before < self.batch_size && ready.spans >= self.batch_size
    }

    /// The chunks handed over since the last call.
    fn take_ready(&self) -> Vec<Vec<SpanData>> {
        let mut ready = lock(&self.ready);
        ready.spans = 0;
        std::mem::take(&mut ready.chunks)
    }
}

/// Locks `mutex`, going on past a panic of another holder (spans are plain data).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BatchProcessor {
    /// Starts the batching and export threads for `exporter`. `name` says which exporter in
    /// error reports.
    pub(crate) fn new<E: SpanExporter + 'static>(
        exporter: E,
        settings: BatchSettings,
        name: &'static str,
    ) -> std::io::Result<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let batch_size = settings
            .max_export_batch_size
            .clamp(1, settings.max_queue_size.max(1));
        let (control, requests) = mpsc::channel();
        // Capacity 1: one batch may wait behind a running export, no more.
        let (jobs, work) = mpsc::sync_channel(1);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            batch_size,
            chunk: batch_size.min(CHUNK),
            spare: Mutex::new(Vec::new()),
            ready: Mutex::new(Ready::default()),
            capacity: settings.max_queue_size as u64,
            unresolved: Unresolved::default(),
            buffers: Mutex::new(Vec::new()),
        });
        thread::Builder::new()
            .name("maestro-trace-export".to_owned())
            .spawn(move || export_thread(exporter, work))?;
        let batcher = Batcher {
            shared: Arc::clone(&shared),
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
            shared,
            control,
            shut_down: AtomicBool::new(false),
        })
    }

    /// Hands `spans` to the batching thread, if the queue has room for them.
    fn hand_over(&self, spans: Vec<SpanData>) {
        if self.shared.hand_over(spans) {
            // A closed channel: the batching thread is gone, and the dropped `Shared` counts
            // what it left.
            let _ = self.control.send(Control::Wake);
        }
    }

    /// Hands every thread's partial batch to the batching thread, ahead of a request (which
    /// wakes it).
    fn hand_over_partial(&self, close: bool) {
        for spans in self.shared.take_partial(close) {
            self.shared.hand_over(spans);
        }
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
        let chunk = self.shared.chunk;
        let mut span = Some(span);
        let pushed = self.shared.with_buffer(|open| {
            if open.closed {
                return Err(Closed);
            }
            open.spans.extend(span.take());
            Ok((open.spans.len() >= chunk)
                .then(|| std::mem::replace(&mut open.spans, self.shared.spare_chunk())))
        });
        match (pushed, span) {
            (Some(Ok(Some(full))), _) => self.hand_over(full),
            (Some(Ok(None)), _) | (None, None) => {}
            // The processor shut down since the check above.
            (Some(Err(Closed)), _) => {
                COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // The thread is being torn down: no buffer, a batch of one.
            (None, Some(span)) => self.hand_over(vec![span]),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.hand_over_partial(false);
        self.request(Control::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.hand_over_partial(true);
        let result = self.request(Control::Shutdown, timeout);
        if result.is_err() {
            // Whatever is still queued or being exported will not be waited for: count it as
            // dropped now, and the batching thread will not count it again.
            let written_off = self.shared.unresolved.0.swap(0, Ordering::AcqRel);
            COUNTERS.dropped.fetch_add(written_off, Ordering::Relaxed);
        }
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.control.send(Control::Resource(resource.clone()));
    }
}

impl Drop for BatchProcessor {
    /// Dropped without a shutdown (the provider always shuts it down first): the spans still in
    /// threads' batches go to the batching thread, which exports them and stops.
    fn drop(&mut self) {
        if !self.shut_down.load(Ordering::Acquire) {
            self.hand_over_partial(true);
        }
    }
}

/// The batching thread's state.
struct Batcher {
    shared: Arc<Shared>,
    requests: Receiver<Control>,
    jobs: SyncSender<Job>,
    settings: BatchSettings,
    name: &'static str,
    /// Whether an export was given up on after the timeout and may still be running.
    abandoned: Cell<bool>,
}

impl Batcher {
    fn run(self) {
        // Spans of partial batches, sent when a batch's worth is together or the delay passed.
        let mut pending: Vec<SpanData> = Vec::new();
        let mut deadline = Instant::now() + self.settings.scheduled_delay;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.requests.recv_timeout(wait) {
                Ok(Control::Wake) => {
                    self.add_ready(&mut pending);
                    // Batches may keep coming: the delay still sends the partial ones.
                    if Instant::now() >= deadline {
                        deadline = self.send_partial(&mut pending);
                    }
                }
                Err(RecvTimeoutError::Timeout) => deadline = self.send_partial(&mut pending),
                Ok(Control::Flush(reply)) => {
                    self.add_ready(&mut pending);
                    let _ = reply.send(self.drain(&mut pending));
                }
                Ok(Control::Shutdown(reply)) => {
                    self.add_ready(&mut pending);
                    let drained = self.drain(&mut pending);
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
                    // Chunks handed over after this are counted when `Shared` drops.
                    return;
                }
                Ok(Control::Resource(resource)) => {
                    let _ = self.jobs.send(Job::Resource(resource));
                }
                // The processor is gone without a shutdown: send what is left and stop.
                Err(RecvTimeoutError::Disconnected) => {
                    self.add_ready(&mut pending);
                    let _ = self.drain(&mut pending);
                    return;
                }
            }
        }
    }

    /// The scheduled delay has passed: exports every thread's partial batch with the pending
    /// spans, and returns the next deadline.
    fn send_partial(&self, pending: &mut Vec<SpanData>) -> Instant {
        self.add_ready(pending);
        for spans in self.shared.take_partial(false) {
            if let Some(spans) = self.shared.admit(spans) {
                self.add(spans, pending);
            }
        }
        if !pending.is_empty() {
            let _ = self.export(std::mem::take(pending));
        }
        Instant::now() + self.settings.scheduled_delay
    }

    /// Adds every chunk handed over so far.
    fn add_ready(&self, pending: &mut Vec<SpanData>) {
        for chunk in self.shared.take_ready() {
            self.add(chunk, pending);
        }
    }

    /// Moves a chunk's spans to the pending ones, exporting each batch's worth, and gives the
    /// emptied chunk back for reuse.
    fn add(&self, mut chunk: Vec<SpanData>, pending: &mut Vec<SpanData>) {
        let batch_size = self.shared.batch_size;
        for span in chunk.drain(..) {
            if pending.capacity() == 0 {
                pending.reserve_exact(batch_size);
            }
            pending.push(span);
            if pending.len() >= batch_size {
                let _ = self.export(std::mem::take(pending));
            }
        }
        self.shared.give_back(chunk);
    }

    /// Exports the pending spans, in batches. After a failed export the rest is dropped (and
    /// counted) instead of sent: each further attempt would wait on the same failing backend,
    /// and a flush or shutdown must not take a timeout per batch.
    fn drain(&self, pending: &mut Vec<SpanData>) -> OTelSdkResult {
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(self.shared.batch_size));
            let batch = std::mem::replace(pending, rest);
            if let Err(error) = self.export(batch) {
                let rest = self.shared.unresolved.resolve(pending.len() as u64);
                pending.clear();
                COUNTERS.dropped.fetch_add(rest, Ordering::Relaxed);
                return Err(error);
            }
        }
        Ok(())
    }

    /// Hands `spans` to the export thread and waits for its answer, at most the export timeout.
    fn export(&self, spans: Vec<SpanData>) -> OTelSdkResult {
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
        let count = self.shared.unresolved.resolve(count);
        match &outcome {
            Ok(()) => {
                COUNTERS.exported.fetch_add(count, Ordering::Relaxed);
            }
            Err(error) => {
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
