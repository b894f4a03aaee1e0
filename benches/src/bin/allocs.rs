//! Allocations and CPU per span, for every row and variant of the criterion suite.
//!
//! ```text
//! cargo run -p maestro-trace-benches --release --bin allocs [-- --calls N] [-- --only ROW/VARIANT]
//! ```
//!
//! - Allocations: a counting global allocator counts the calling thread's allocations and the
//!   whole process's, over N calls after a warm-up; printed per call.
//! - CPU: for rows that export, the CPU time of every thread of the process (caller, batch and
//!   export threads, fastrace's collector) from `/proc/self/task/*/schedstat` (nanoseconds),
//!   measured from before the calls until the exporter has received every span; the caller's
//!   own share is read from `/proc/thread-self/schedstat`. Printed per span.
//!
//! Output: one JSON object per line (`benches/scripts/report.py` turns it into tables).
//!
//! `--prototype` measures the span-path PROTOTYPE instead (`maestro_trace_benches::span_path`,
//! issue 13, `docs/span-path.md`): the same counters for its four sync-shaped variants, with the
//! export side being its conversion to `SpanData`; row `prototype`.
//!
//! `--floor` runs, `--calls` times, only what any sampled span the raw API can see as current
//! pays (rows `floor/context` and `floor/context_ids`; see [`floor`]), to be counted under
//! callgrind against the span rows (`benches/scripts/instructions.sh`).
#![allow(unsafe_code)] // implementing `GlobalAlloc` is unsafe by definition

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use maestro_trace_benches::cpu::{caller_ns as caller_cpu_ns, process_ns as process_cpu_ns};
use maestro_trace_benches::{model, spans_per_call, Installed, Setup, VARIANTS};

struct Counting;

static PROCESS_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to the system allocator unchanged; only counts. The counters
// are a relaxed atomic and a const thread-local `Cell` (no lazy initialisation, no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        PROCESS_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        PROCESS_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged; `ptr` came from this allocator (that is, `System`).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn thread_allocations() -> u64 {
    THREAD_ALLOCATIONS.with(Cell::get)
}

/// Minor page faults of the whole process so far (`/proc/self/stat`, field 10).
fn minor_faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1.to_owned();
            after_name.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Allocations on this thread of `n` runs of `f`, per run.
fn allocations_per_run(n: u64, f: impl Fn()) -> f64 {
    let before = thread_allocations();
    for _ in 0..n {
        f();
    }
    (thread_allocations() - before) as f64 / n as f64
}

/// The counters read before a measured loop, to take the loop's share of them after it.
struct Meter {
    faults: u64,
    process_allocs: u64,
    thread_allocs: u64,
    cpu_ns: u64,
    caller_ns: u64,
    started: Instant,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            faults: minor_faults(),
            process_allocs: PROCESS_ALLOCATIONS.load(Ordering::Relaxed),
            thread_allocs: thread_allocations(),
            cpu_ns: process_cpu_ns(),
            caller_ns: caller_cpu_ns(),
            started: Instant::now(),
        }
    }

    /// Right after the loop: the calling thread's CPU time and allocations since the start.
    fn caller(&self) -> (u64, u64) {
        (
            caller_cpu_ns() - self.caller_ns,
            thread_allocations() - self.thread_allocs,
        )
    }

    /// Once the spans are exported: the whole process's CPU time, allocations and minor
    /// faults, and the wall time, since the start.
    fn process(&self) -> (u64, u64, u64, Duration) {
        (
            process_cpu_ns().saturating_sub(self.cpu_ns),
            PROCESS_ALLOCATIONS.load(Ordering::Relaxed) - self.process_allocs,
            minor_faults().saturating_sub(self.faults),
            self.started.elapsed(),
        )
    }
}

/// Runs `calls` calls of `variant` on `installed`, with fastrace's roots where needed.
fn run(installed: &Installed, rt: &tokio::runtime::Runtime, variant: &str, calls: u64) {
    let model = model();
    let chunk = installed.calls_per_root();
    if variant == "async" {
        rt.block_on(async {
            let mut i = 0;
            while i < calls {
                let _root = installed.root();
                let end = calls.min(i.saturating_add(chunk));
                while i < end {
                    black_box(installed.call_async(black_box(i)).await);
                    i += 1;
                }
            }
        });
        return;
    }
    installed.with_library(|lib| {
        let call: &dyn Fn(u64) -> u64 = match variant {
            "sync" => lib.sync,
            "nested" => lib.nested,
            "attrs3" => lib.attrs3,
            _ => &|_| (lib.with_struct)(black_box(&model)),
        };
        let mut i = 0;
        while i < calls {
            let _root = installed.root();
            let end = calls.min(i.saturating_add(chunk));
            while i < end {
                black_box(call(black_box(i)));
                i += 1;
            }
        }
    });
}

/// Waits until `target` spans have reached the exporter, or `limit` passes.
fn wait_exported(installed: &Installed, target: u64, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    loop {
        installed.flush();
        let exported = installed.exported();
        if exported >= target || Instant::now() >= deadline {
            return exported;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The prototype's variants: caller allocations, process allocations and CPU per span, until
/// the export side has converted all but the last partial hand-off.
fn prototype(calls: u64) {
    use maestro_trace_benches::span_path::{self, variants, HANDOFF};
    let model = model();
    let converted = || span_path::sink().converted.load(Ordering::Relaxed);
    {
        use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
        use opentelemetry::Context;
        let sc = SpanContext::new(
            opentelemetry::trace::TraceId::from(1_u128),
            opentelemetry::trace::SpanId::from(1_u64),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let attach = allocations_per_run(10_000, || drop(black_box(Context::current().attach())));
        let remote = allocations_per_run(10_000, || {
            let cx = Context::current().with_remote_span_context(sc.clone());
            drop(black_box(cx.attach()));
        });
        let handle = allocations_per_run(10_000, || {
            let cx = Context::current().with_span(span_path::Handle::new(sc.clone()));
            drop(black_box(cx.attach()));
        });
        println!(
            "{{\"row\":\"prototype_context\",\"variant\":\"allocs\",\"attach_current\":{attach:.2},\
             \"with_remote_span_context\":{remote:.2},\"with_span_handle\":{handle:.2}}}"
        );
    }
    println!(
        "{{\"row\":\"prototype_sizes\",\"variant\":\"bytes\",\"sizes\":{{\"sdk_span\":{},\"span_data\":{},\"compact_span\":{},\"key_value\":{},\
         \"compact_attr\":{}}}}}",
        std::mem::size_of::<opentelemetry_sdk::trace::Span>(),
        std::mem::size_of::<opentelemetry_sdk::trace::SpanData>(),
        std::mem::size_of::<span_path::CompactSpan>(),
        std::mem::size_of::<opentelemetry::KeyValue>(),
        std::mem::size_of::<span_path::CompactAttr>(),
    );
    for variant in ["sync", "sync_recycled", "nested", "attrs3", "struct"] {
        // Recycled hand-off buffers (the design's choice) for all but the plain `sync` row.
        span_path::set_recycling(variant != "sync");
        let call = |x: u64| match variant {
            "sync" | "sync_recycled" => variants::sync(x),
            "nested" => variants::nested(x),
            "attrs3" => variants::attrs3(x),
            _ => variants::with_struct(black_box(&model)),
        };
        for i in 0..2_000 {
            black_box(call(black_box(i)));
        }
        let converted_before = converted();
        let dropped_before = span_path::sink().dropped.load(Ordering::Relaxed);
        let meter = Meter::start();
        for i in 0..calls {
            black_box(call(black_box(i)));
        }
        let (caller_ns, thread_allocs) = meter.caller();
        let spans = calls * spans_per_call(variant);
        let deadline = Instant::now() + Duration::from_secs(30);
        let dropped = || span_path::sink().dropped.load(Ordering::Relaxed) - dropped_before;
        while converted() + dropped() + HANDOFF as u64 <= converted_before + spans
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let exported = converted() - converted_before;
        let dropped = dropped();
        let (total_ns, process_allocs, faults, wall) = meter.process();
        println!(
            "{{\"row\":\"prototype\",\"variant\":\"{variant}\",\"calls\":{calls},\"spans\":{spans},\
             \"caller_allocs_per_call\":{:.2},\"process_allocs_per_call\":{:.2},\
             \"exported\":{exported},\"dropped\":{dropped},\"caller_cpu_ns_per_span\":{:.1},\
             \"total_cpu_ns_per_span\":{:.1},\"minor_faults_per_1000_spans\":{:.2},\"wall_ms\":{}}}",
            thread_allocs as f64 / calls as f64,
            process_allocs as f64 / calls as f64,
            caller_ns as f64 / spans as f64,
            total_ns as f64 / spans as f64,
            faults as f64 * 1000.0 / spans as f64,
            wall.as_millis(),
        );
    }
}

/// `--floor`: what every sampled span the raw API can see as current pays whatever it does,
/// `calls` times: a span value of our recording span's size put into a new context, attached,
/// ended through the current context, its guard and context dropped (`floor/context`, the
/// `span_path` bench's `context/with_span_sized_attach_end`), and the same with a trace and
/// span id from the SDK's generator (`floor/context_ids`). No exporter, no other thread: run
/// under callgrind twice with two counts, the difference is its instructions per span.
fn floor(calls: u64, only: Option<String>) {
    use maestro_trace_benches::span_path::SizedHandle;
    use opentelemetry::trace::TraceState;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId};
    use opentelemetry::Context;
    use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
    use std::time::SystemTime;
    let ids = RandomIdGenerator::default();
    let life = |trace_id: TraceId, span_id: SpanId| {
        let sc = SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let cx = Context::current().with_span(SizedHandle::sized(sc));
        let guard = cx.attach();
        Context::map_current(|cx| cx.span().end_with_timestamp(SystemTime::UNIX_EPOCH));
        drop(black_box(guard));
    };
    for variant in ["context", "context_ids"] {
        if only
            .as_ref()
            .is_some_and(|o| *o != format!("floor/{variant}"))
        {
            continue;
        }
        for _ in 0..calls {
            match variant {
                "context" => life(
                    black_box(TraceId::from(0x0123_4567_89ab_cdef_u128)),
                    black_box(SpanId::from(0x1234_u64)),
                ),
                _ => life(ids.new_trace_id(), ids.new_span_id()),
            }
        }
        println!("{{\"row\":\"floor\",\"variant\":\"{variant}\",\"calls\":{calls}}}");
    }
}

fn main() {
    let mut calls: u64 = 20_000;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    // The value after `flag` (the modes below take their options in any order).
    let value_of = |flag: &str| std::env::args().skip_while(|arg| arg != flag).nth(1);
    let has = |flag: &str| std::env::args().any(|arg| arg == flag);
    if has("--prototype") || has("--floor") {
        let calls = value_of("--calls")
            .and_then(|n| n.parse().ok())
            .unwrap_or(calls);
        return if has("--floor") {
            floor(calls, value_of("--only"))
        } else {
            prototype(calls)
        };
    }
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--calls", Some(n)) => match n.parse() {
                Ok(n) => calls = n,
                Err(_) => return eprintln!("--calls takes a number, not {n:?}"),
            },
            ("--only", Some(row)) => only = Some(row),
            _ => {
                return eprintln!(
                    "usage: allocs [--calls N] [--only ROW/VARIANT] [--prototype | --floor]"
                )
            }
        }
    }
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => return eprintln!("no Tokio runtime: {e}"),
    };
    for setup in Setup::ALL {
        for variant in VARIANTS {
            let id = format!("{}/{variant}", setup.name());
            if only.as_ref().is_some_and(|o| *o != id) {
                continue;
            }
            let installed = setup.install();
            // Warm-up: lazily initialised state (thread locals, channels, the reporter thread).
            run(&installed, &rt, variant, 2_000);
            let warm_spans = wait_exported(
                &installed,
                if setup.exports() {
                    2_000 * spans_per_call(variant)
                } else {
                    0
                },
                Duration::from_secs(10),
            );

            let dropped_before = maestro_trace::diagnostics().spans_dropped;
            let meter = Meter::start();
            run(&installed, &rt, variant, calls);
            let (caller_ns, thread_allocs) = meter.caller();
            let spans = calls * spans_per_call(variant);
            let exported = if setup.exports() {
                wait_exported(&installed, warm_spans + spans, Duration::from_secs(30)) - warm_spans
            } else {
                0
            };
            let (total_ns, process_allocs, faults, wall) = meter.process();
            // What maestro-trace's pipeline counted as dropped (0 for rows on other pipelines),
            // so that a row short of its spans says whether they were dropped or are late.
            let maestro_dropped = maestro_trace::diagnostics().spans_dropped - dropped_before;
            println!(
                "{{\"row\":\"{}\",\"variant\":\"{variant}\",\"calls\":{calls},\"spans\":{spans},\
                 \"caller_allocs_per_call\":{:.2},\"process_allocs_per_call\":{:.2},\
                 \"exported\":{exported},\"maestro_dropped\":{maestro_dropped},\"caller_cpu_ns_per_span\":{:.1},\
                 \"total_cpu_ns_per_span\":{:.1},\"minor_faults_per_1000_spans\":{:.2},\
                 \"wall_ms\":{}}}",
                setup.name(),
                thread_allocs as f64 / calls as f64,
                process_allocs as f64 / calls as f64,
                caller_ns as f64 / spans as f64,
                if setup.exports() {
                    total_ns as f64 / spans as f64
                } else {
                    0.0
                },
                faults as f64 * 1000.0 / spans as f64,
                wall.as_millis(),
            );
            drop(installed);
        }
    }
}
