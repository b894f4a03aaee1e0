//! Our batch span processor: a ring per thread, a bounded queue, a batching thread and an
//! export thread.
//!
//! The SDK's thread-based `BatchSpanProcessor` (0.33) neither bounds an export in time nor says
//! how many spans it dropped, and sends every span through one shared channel. Here:
//!
//! - ending a span pushes it onto its thread's own ring (`rtrb`, a wait-free single-producer
//!   queue: two plain stores), so it takes no lock, no shared counter and no system call
//!   (`docs/span-path.md`, 2.2; a per-thread lock cost 14.5% of the caller's time). Our spans
//!   go in as they were recorded ([`FinishedSpan`]) and their `SpanData` is made on the export
//!   thread, which sends their attribute buffers back through a second ring per thread; the raw
//!   SDK's come in as `SpanData`, through a ring of their own. Every
//!   64 spans a thread adds them to one shared count, and the chunk that makes the count reach
//!   an export batch wakes the batching thread: one wake-up per batch, whichever threads ended
//!   its spans;
//! - the batching thread empties every thread's ring when woken, every scheduled delay (so
//!   the spans of an idle or exited thread wait no longer than the delay), and on a flush or
//!   the shutdown; it takes them into a queue of at most `max_queue_size` spans (not yet
//!   exported), dropping (and counting) what does not fit;
//! - a span whose thread's ring is full (an eighth of the queue, at least two export batches:
//!   the batching thread is behind)
//!   goes into the queue through a shared overflow list, under a lock taken only then, if the
//!   queue has room; else it is dropped (counted). The application thread never blocks, and
//!   memory stays bounded by the queue and one ring per thread;
//! - every span is accounted for exactly once, as exported or dropped, even when a shutdown
//!   gives up on an export that is still running (the spans it could not wait for, and those
//!   still in the rings, are written off as dropped then, and not counted again if the export
//!   finishes later);
//! - the batching thread sends a batch when it is full or the delay has passed, then waits at
//!   most the export timeout for the export thread's answer; an export still running then is
//!   abandoned (its spans counted as dropped), and while it runs, at most one more batch waits
//!   behind it: the rest is dropped and counted instead of piling up;
//! - flush and shutdown drain the rings and the queue and are bounded by the caller's timeout.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;
use rtrb::{Consumer, Producer, PushError, RingBuffer};

use crate::diagnostics::COUNTERS;
use crate::finished::{Attribute, FinishedSpan};
use crate::processor::truncate_span;

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

/// The spans a thread ends between two signals to the batching thread, at most.
const CHUNK: usize = 64;

/// The spans one thread's ring holds at most (8192: 1.5 MiB of ours, 2.8 MiB of the raw SDK's).
const RING_MAX: usize = 8192;

/// The spans one thread's ring holds for a queue of `queue` spans and export batches of
/// `batch_size`: an eighth of the queue and at least two export batches, but never more than
/// [`RING_MAX`] nor the queue (1024 with the default settings). Batches larger than half of
/// [`RING_MAX`] get a ring of [`RING_MAX`]: a thread's spans past it wait in the queue.
fn ring_size(queue: usize, batch_size: usize) -> usize {
    (queue / 8)
        .max(batch_size.saturating_mul(2))
        .min(RING_MAX)
        .min(queue)
}

/// A span that found its thread's ring full, on its way to the queue: one of ours as it was
/// recorded (its `SpanData` is made on the export thread), or one of the raw SDK's.
#[derive(Debug)]
// Only the overflow path holds these, in a `Vec`: boxing the SDK's would allocate there.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Ours(FinishedSpan),
    Sdk(SpanData),
}

/// What a thread's rings carry: our spans and the raw SDK's, each kind in a ring of its own, so
/// that a slot, and each move of a span into it, is the size of its kind (192 bytes for ours,
/// 352 for the SDK's). A thread's ring of a kind is made when it first ends a span of that kind.
trait Ringed: Sized + Send + 'static {
    /// The batching thread's end of a thread's ring of this kind.
    type Reader: Reader;
    fn producer(lane: &mut Lane) -> &mut Option<Producer<Self>>;
    fn readers(shared: &Shared) -> &Mutex<Vec<Self::Reader>>;
    /// A new ring for `lane`'s thread: its writing end and its reading end.
    fn ring(lane: &mut Lane, shared: &Shared) -> (Producer<Self>, Self::Reader);
    /// After a span was pushed onto `lane`'s ring.
    fn pushed(_lane: &mut Lane) {}
    fn queued(self) -> Queued;
}

/// The batching thread's end of one thread's ring.
trait Reader: Send {
    /// Moves the spans waiting in the ring onto `out`, ready for their `SpanData` to be made:
    /// read as one chunk, each moved once.
    fn drain_into(&mut self, out: &mut Vec<Pending>);
    /// Whether the thread has exited (dropped its end).
    fn is_abandoned(&self) -> bool;
}

/// One thread's ring of our spans, and the ring on which the export thread sends their
/// attribute buffers back to it, emptied (see `crate::finished`).
#[derive(Debug)]
struct OursReader {
    /// Which thread's ring, among this processor's (`FinishedSpan::ring` of its spans).
    id: u32,
    spans: Consumer<FinishedSpan>,
    spares: Producer<Vec<Attribute>>,
}

impl Reader for OursReader {
    fn drain_into(&mut self, out: &mut Vec<Pending>) {
        // Only this end takes spans off the ring: the slots read stay readable.
        let Ok(chunk) = self.spans.read_chunk(self.spans.slots()) else {
            return;
        };
        out.reserve(chunk.len());
        for mut span in chunk {
            span.ring = self.id;
            out.push(Pending::Ours(span));
        }
    }

    fn is_abandoned(&self) -> bool {
        self.spans.is_abandoned()
    }
}

impl Reader for Consumer<SpanData> {
    fn drain_into(&mut self, out: &mut Vec<Pending>) {
        let Ok(chunk) = self.read_chunk(self.slots()) else {
            return;
        };
        out.extend(chunk.into_iter().map(Pending::Sdk));
    }

    fn is_abandoned(&self) -> bool {
        Consumer::is_abandoned(self)
    }
}

impl Ringed for FinishedSpan {
    type Reader = OursReader;

    fn producer(lane: &mut Lane) -> &mut Option<Producer<Self>> {
        &mut lane.ours
    }

    fn readers(shared: &Shared) -> &Mutex<Vec<OursReader>> {
        &shared.ours
    }

    fn ring(lane: &mut Lane, shared: &Shared) -> (Producer<Self>, OursReader) {
        let (ring, spans) = RingBuffer::new(shared.ring);
        let (spares, returned) = RingBuffer::new(shared.ring);
        lane.spares = Some(returned);
        // 0 is no ring's (a span that went through the overflow list).
        let id = shared.next_ring.fetch_add(1, Ordering::Relaxed).max(1);
        (ring, OursReader { id, spans, spares })
    }

    /// Takes the buffers sent back as this thread's spares, when it is short of them.
    fn pushed(lane: &mut Lane) {
        if let Some(returned) = &mut lane.spares {
            crate::finished::restock(|| returned.pop().ok());
        }
    }

    fn queued(self) -> Queued {
        Queued::Ours(self)
    }
}

impl Ringed for SpanData {
    type Reader = Consumer<SpanData>;

    fn producer(lane: &mut Lane) -> &mut Option<Producer<Self>> {
        &mut lane.sdk
    }

    fn readers(shared: &Shared) -> &Mutex<Vec<Consumer<SpanData>>> {
        &shared.sdk
    }

    fn ring(_lane: &mut Lane, shared: &Shared) -> (Producer<Self>, Consumer<SpanData>) {
        RingBuffer::new(shared.ring)
    }

    fn queued(self) -> Queued {
        Queued::Sdk(self)
    }
}

/// A request to the batching thread.
enum Control {
    /// A batch's worth of spans is waiting in the threads' rings.
    Wake,
    Flush(Sender<OTelSdkResult>),
    Shutdown(Sender<OTelSdkResult>),
    Resource(Resource),
}

/// A span on its way to the exporter: one of ours as it was recorded (its `SpanData` is made
/// on the export thread), or one of the raw SDK's.
#[derive(Debug)]
// Held in the batch being filled only; boxing either kind would allocate per span.
#[allow(clippy::large_enum_variant)]
enum Pending {
    Ours(FinishedSpan),
    Sdk(SpanData),
}

/// Work for the export thread.
enum Job {
    Export(Vec<Pending>, Sender<OTelSdkResult>),
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
    /// Tells this processor's rings from another's in a thread's list.
    id: u64,
    /// Spans per export at most (`max_export_batch_size`).
    batch_size: usize,
    /// Spans that found their thread's ring full (the batching thread is behind), admitted to
    /// the queue one by one while it has room; beyond it they are dropped (counted). Its lock
    /// is only taken then.
    overflow: Mutex<Vec<Queued>>,
    /// The spans one thread's ring holds ([`ring_size`]). A span ending while its thread's ring
    /// is full goes to [`Shared::overflow`].
    ring: usize,
    /// The spans a thread ends between two signals (see [`BatchProcessor::signal`]).
    chunk: usize,
    /// Spans signalled since the batching thread last emptied the rings.
    signalled: AtomicUsize,
    /// Spans taken from the rings and not yet exported or dropped at most (`max_queue_size`).
    capacity: u64,
    /// Spans taken from the rings and not yet exported or dropped.
    unresolved: Unresolved,
    /// The reading end of every thread's ring of our spans.
    ours: Mutex<Vec<OursReader>>,
    /// The id the next thread's ring of our spans gets.
    next_ring: AtomicU32,
    /// The reading end of every thread's ring of the raw SDK's spans.
    sdk: Mutex<Vec<Consumer<SpanData>>>,
    /// The instrumentation scope of our spans, added to each as its `SpanData` is made.
    scope: InstrumentationScope,
    /// The configured attribute value length limit; `usize::MAX` for none.
    max_value_length: AtomicUsize,
}

/// One thread's rings of one processor: the writing ends, which only this thread uses.
struct Lane {
    id: u64,
    ours: Option<Producer<FinishedSpan>>,
    /// Where the export thread sends this thread's attribute buffers back.
    spares: Option<Consumer<Vec<Attribute>>>,
    sdk: Option<Producer<SpanData>>,
    /// Spans pushed since this thread last signalled.
    unsignalled: usize,
}

impl Lane {
    /// Whether the processor is gone (it drops the reading ends of both rings at once).
    fn is_abandoned(&self) -> bool {
        self.ours.as_ref().is_some_and(Producer::is_abandoned)
            || self.sdk.as_ref().is_some_and(Producer::is_abandoned)
    }
}

thread_local! {
    /// This thread's rings, one per live processor.
    static LANES: RefCell<Vec<Lane>> = const { RefCell::new(Vec::new()) };
}

/// What became of a span handed to its thread's ring.
enum Pushed {
    /// In the ring; `true` when the thread owes the batching thread a signal.
    Queued(bool),
    /// The ring was full: the span is handed back in the caller's slot.
    Full,
}

impl Shared {
    /// Pushes `span` onto this thread's ring of this processor (made on first use). A push is
    /// a store to the ring and to its tail index: no lock, no shared counter, no system call.
    /// `None` while the thread is being torn down (the span is handed back in `span`).
    fn push<T: Ringed>(&self, span: &mut Option<T>) -> Option<Pushed> {
        LANES
            .try_with(|lanes| {
                let mut lanes = lanes.try_borrow_mut().ok()?;
                let index = match lanes.iter().position(|lane| lane.id == self.id) {
                    Some(index) => index,
                    None => {
                        // Rings of processors gone since are of no further use.
                        lanes.retain(|lane| !lane.is_abandoned());
                        lanes.push(Lane {
                            id: self.id,
                            ours: None,
                            spares: None,
                            sdk: None,
                            unsignalled: 0,
                        });
                        lanes.len() - 1
                    }
                };
                let lane = &mut lanes[index];
                if T::producer(lane).is_none() {
                    let (ring, reader) = T::ring(lane, self);
                    lock(T::readers(self)).push(reader);
                    *T::producer(lane) = Some(ring);
                }
                let ring = T::producer(lane).as_mut()?;
                let taken = span.take()?;
                let pushed = ring.push(taken);
                Some(match pushed {
                    Ok(()) => {
                        T::pushed(lane);
                        lane.unsignalled += 1;
                        let signal = lane.unsignalled >= self.chunk;
                        if signal {
                            lane.unsignalled = 0;
                        }
                        Pushed::Queued(signal)
                    }
                    Err(PushError::Full(returned)) => {
                        *span = Some(returned);
                        Pushed::Full
                    }
                })
            })
            .ok()
            .flatten()
    }

    /// Moves every span waiting in the threads' rings into `taken`; forgets the rings of
    /// threads that have exited once they are empty. Returns how many it moved. (The overflow's
    /// spans are taken apart: they are in the queue already.)
    fn take_rings(&self, taken: &mut Vec<Pending>) -> usize {
        self.signalled.store(0, Ordering::Relaxed);
        drain_rings(&self.ours, taken) + drain_rings(&self.sdk, taken)
    }

    /// Cuts `span`'s values to the length limit, in place.
    fn truncate(&self, span: &mut SpanData) {
        let max_len = self.max_value_length.load(Ordering::Relaxed);
        if max_len != usize::MAX {
            truncate_span(span, max_len);
        }
    }

    /// The `SpanData` of `batch`, made on the export thread, values cut to the length limit.
    /// Our spans' attributes are copied out, so the vectors and strings the exporter frees are
    /// the export thread's own, and their buffers are sent back to the threads that recorded
    /// them (see `crate::finished`).
    fn span_data(&self, batch: Vec<Pending>) -> Vec<SpanData> {
        let mut returned = Vec::new();
        let data = batch
            .into_iter()
            .map(|span| match span {
                Pending::Ours(mut span) => {
                    let (mut data, buffer) = span.detach_span_data(&self.scope);
                    if let Some(buffer) = buffer {
                        returned.push((span.ring, buffer));
                    }
                    self.truncate(&mut data);
                    data
                }
                Pending::Sdk(mut span) => {
                    self.truncate(&mut span);
                    span
                }
            })
            .collect();
        if !returned.is_empty() {
            let mut rings = lock(&self.ours);
            for (id, buffer) in returned {
                if let Some(ring) = rings.iter_mut().find(|ring| ring.id == id) {
                    // A full ring: the thread has not used the spares sent before; this one
                    // is freed.
                    let _ = ring.spares.push(buffer);
                }
            }
        }
        data
    }

    /// Takes `count` spans off the rings into the queue if it has room for them, else as many
    /// as fit: one atomic operation per call, not per span. The rest are counted as dropped.
    /// Returns how many were taken.
    fn admit(&self, count: usize) -> usize {
        let count = count as u64;
        let mut admitted = 0;
        let _ = self
            .unresolved
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                admitted = count.min(self.capacity.saturating_sub(held));
                Some(held + admitted)
            });
        COUNTERS.queued.fetch_add(admitted, Ordering::Relaxed);
        let refused = count - admitted;
        if refused > 0 {
            COUNTERS.dropped.fetch_add(refused, Ordering::Relaxed);
            COUNTERS
                .dropped_queue_full
                .fetch_add(refused, Ordering::Relaxed);
        }
        admitted as usize
    }
}

/// Moves the spans of every ring in `rings` into `out`, forgetting the rings of threads that
/// have exited once they are empty; returns how many it moved.
fn drain_rings<R: Reader>(rings: &Mutex<Vec<R>>, out: &mut Vec<Pending>) -> usize {
    let before = out.len();
    lock(rings).retain_mut(|ring| {
        // Abandoned first: a thread that exits after this loop pushed its last spans before,
        // and the ring is kept until a later call has emptied it.
        let abandoned = ring.is_abandoned();
        ring.drain_into(out);
        !abandoned
    });
    out.len() - before
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
        let queue = settings.max_queue_size.max(1);
        let batch_size = settings.max_export_batch_size.clamp(1, queue);
        let (control, requests) = mpsc::channel();
        // Capacity 1: one batch may wait behind a running export, no more.
        let (jobs, work) = mpsc::sync_channel(1);
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            batch_size,
            ring: ring_size(queue, batch_size),
            chunk: batch_size.min(CHUNK),
            signalled: AtomicUsize::new(0),
            capacity: queue as u64,
            unresolved: Unresolved::default(),
            ours: Mutex::new(Vec::new()),
            next_ring: AtomicU32::new(1),
            sdk: Mutex::new(Vec::new()),
            overflow: Mutex::new(Vec::new()),
            scope: crate::finished::scope(),
            max_value_length: AtomicUsize::new(usize::MAX),
        });
        thread::Builder::new()
            .name("maestro-trace-export".to_owned())
            .spawn({
                let shared = Arc::clone(&shared);
                move || export_thread(exporter, work, &shared)
            })?;
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

    /// Cuts string attribute values (of spans and their events) to `max_len` bytes as the
    /// spans' `SpanData` is made (`SpanLimits::max_attribute_value_length`).
    pub(crate) fn limit_value_length(&self, max_len: usize) {
        self.shared
            .max_value_length
            .store(max_len, Ordering::Relaxed);
    }

    /// Takes one of our spans as it ended, out of `span` (where its span held it: moved from
    /// there straight onto the ring); its `SpanData` is made on the export thread.
    pub(crate) fn end_ours(&self, span: &mut Option<FinishedSpan>) {
        if span.as_ref().is_some_and(FinishedSpan::is_sampled) {
            self.enqueue(span);
        } else {
            *span = None;
        }
    }

    /// Pushes the span out of `span` onto this thread's ring, or past a full one into the
    /// queue, unless the processor is shut down (then it is dropped, counted).
    fn enqueue<T: Ringed>(&self, span: &mut Option<T>) {
        if self.shut_down.load(Ordering::Relaxed) {
            if span.take().is_some() {
                COUNTERS.dropped.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        match self.shared.push(span) {
            Some(Pushed::Queued(false)) => {}
            Some(Pushed::Queued(true)) => self.signal(),
            // A full ring, or a thread being torn down (no ring to push to).
            Some(Pushed::Full) | None => {
                if let Some(span) = span.take() {
                    self.overflow(span.queued());
                }
            }
        }
    }

    /// A thread ended another chunk of spans: wakes the batching thread when that makes a
    /// batch's worth, once (one atomic operation per chunk, one wake-up per batch).
    fn signal(&self) {
        let shared = &self.shared;
        let before = shared.signalled.fetch_add(shared.chunk, Ordering::Relaxed);
        if before < shared.batch_size && before + shared.chunk >= shared.batch_size {
            // A closed channel: the batching thread is gone, nothing to wake.
            let _ = self.control.send(Control::Wake);
        }
    }

    /// Queues a span its thread's ring had no room for, if the queue has room (else it is
    /// dropped, counted), and wakes the batching thread for the first of them.
    fn overflow(&self, span: Queued) {
        if self.shared.admit(1) == 0 {
            return;
        }
        let first = {
            let mut overflow = lock(&self.shared.overflow);
            overflow.push(span);
            overflow.len() == 1
        };
        if first {
            let _ = self.control.send(Control::Wake);
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
        if span.span_context.is_sampled() {
            self.enqueue(&mut Some(span));
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
            let written_off = self.shared.unresolved.0.swap(0, Ordering::AcqRel);
            COUNTERS.dropped.fetch_add(written_off, Ordering::Relaxed);
        }
        // Spans the batching thread could not take in time, or that ended while it shut down,
        // are dropped, counted (queued: they had ended before the shutdown).
        let in_rings = self.shared.take_rings(&mut Vec::new()) as u64;
        COUNTERS.queued.fetch_add(in_rings, Ordering::Relaxed);
        let overflowed = std::mem::take(&mut *lock(&self.shared.overflow));
        let overflowed = self.shared.unresolved.resolve(overflowed.len() as u64);
        COUNTERS
            .dropped
            .fetch_add(in_rings + overflowed, Ordering::Relaxed);
        result
    }

    fn set_resource(&mut self, resource: &Resource) {
        let _ = self.control.send(Control::Resource(resource.clone()));
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
        // Spans taken from the rings, sent when a batch's worth is together or the delay passed.
        let mut pending: Vec<Pending> = Vec::new();
        // The rings' spans on their way to `pending`, ours first (kept between wake-ups, so
        // its memory is reused).
        let mut taken: Vec<Pending> = Vec::new();
        let mut deadline = self.next_deadline();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.requests.recv_timeout(wait) {
                Ok(Control::Wake) => {
                    self.collect(&mut taken, &mut pending);
                    // Wake-ups may keep coming: the delay still sends the partial batch.
                    if Instant::now() >= deadline {
                        deadline = self.send_partial(&mut taken, &mut pending);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    deadline = self.send_partial(&mut taken, &mut pending);
                }
                Ok(Control::Flush(reply)) => {
                    self.collect(&mut taken, &mut pending);
                    let _ = reply.send(self.drain(&mut pending));
                }
                Ok(Control::Shutdown(reply)) => {
                    self.collect(&mut taken, &mut pending);
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
                    return;
                }
                Ok(Control::Resource(resource)) => {
                    let _ = self.jobs.send(Job::Resource(resource));
                }
                // The processor is gone without a shutdown: send what is left and stop.
                Err(RecvTimeoutError::Disconnected) => {
                    self.collect(&mut taken, &mut pending);
                    let _ = self.drain(&mut pending);
                    return;
                }
            }
        }
    }

    /// Takes every thread's waiting spans into the queue (as far as it has room), exporting
    /// each batch's worth.
    ///
    /// The rings are read into `taken` first, not into `pending`: the vector `pending` grows
    /// into is the one handed to the exporter, and must keep its batch's capacity (read
    /// straight into it, a wake-up's spans past that capacity grew it, 180 KiB moved each time:
    /// 3,390 → 4,885 instructions per exported span in all threads).
    fn collect(&self, taken: &mut Vec<Pending>, pending: &mut Vec<Pending>) {
        let shared = &self.shared;
        let count = shared.take_rings(taken);
        taken.truncate(shared.admit(count));
        let overflowed = std::mem::take(&mut *lock(&shared.overflow));
        let mut add = |span: Pending| {
            if pending.capacity() == 0 {
                // Room for a batch, up to a ring's worth: a batch size of millions is valid
                // and grows the vector only as far as spans actually come.
                pending.reserve_exact(shared.batch_size.min(RING_MAX));
            }
            pending.push(span);
            if pending.len() >= shared.batch_size {
                let _ = self.export(std::mem::take(pending));
            }
        };
        for span in taken.drain(..) {
            add(span);
        }
        for span in overflowed {
            add(match span {
                Queued::Ours(span) => Pending::Ours(span),
                Queued::Sdk(span) => Pending::Sdk(span),
            });
        }
    }

    /// The scheduled delay has passed: exports every span waiting, and returns the next
    /// deadline.
    fn send_partial(&self, taken: &mut Vec<Pending>, pending: &mut Vec<Pending>) -> Instant {
        self.collect(taken, pending);
        if !pending.is_empty() {
            let _ = self.export(std::mem::take(pending));
        }
        self.next_deadline()
    }

    /// When the scheduled delay from now is up; a delay past what an `Instant` holds
    /// (`Duration::MAX`) is a century: never, for a process.
    fn next_deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.settings.scheduled_delay)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
    }

    /// Exports the pending spans, in batches. After a failed export the rest is dropped (and
    /// counted) instead of sent: each further attempt would wait on the same failing backend,
    /// and a flush or shutdown must not take a timeout per batch.
    fn drain(&self, pending: &mut Vec<Pending>) -> OTelSdkResult {
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
    fn export(&self, spans: Vec<Pending>) -> OTelSdkResult {
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
fn export_thread<E: SpanExporter>(mut exporter: E, work: Receiver<Job>, shared: &Shared) {
    for job in work {
        match job {
            Job::Export(batch, reply) => {
                let batch = shared.span_data(batch);
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
