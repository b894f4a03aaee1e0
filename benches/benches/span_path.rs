//! PROTOTYPE measurements for the span-path design (issue 13, `docs/span-path.md`): each group
//! puts the design's candidates next to the peers they must beat, in one run.
//!
//! - `clock`: one reading of each clock a span could take its start and end from;
//! - `context`: making a span current for the raw `opentelemetry` API, three ways;
//! - `ids`: the trace and span id a root span takes from the SDK's generator;
//! - `record`: one sampled span on the caller (the prototype of `maestro_trace_benches::
//!   span_path` against `#[traced]`, the raw SDK and fastrace);
//! - `convert`: building the SDK's `SpanData` from compact records, one batch of 512 at a time;
//! - `disabled_async`: a `#[traced]` `async fn` with no pipeline, against the bare `async fn`
//!   and the bare one awaiting its body as a nested `async` block (what the expansion adds with
//!   tracing off, without its check).
//!
//! ```text
//! cargo bench -p maestro-trace-benches --bench span_path -- --noplot
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{criterion_group, criterion_main, BatchSize, Bencher, Criterion};
use maestro_trace_benches::{
    current_thread_runtime, model, span_path, time_calls, Installed, Setup,
};
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
};
use opentelemetry::{Context, InstrumentationScope};

fn clocks(c: &mut Criterion) {
    let mut group = c.benchmark_group("clock");
    group.bench_function("system_time_now", |b| b.iter(SystemTime::now));
    group.bench_function("instant_now", |b| b.iter(Instant::now));
    let quanta = quanta::Clock::new();
    group.bench_function("quanta_now", |b| b.iter(|| quanta.now()));
    group.bench_function("quanta_raw", |b| b.iter(|| quanta.raw()));
    group.bench_function("fastant_now", |b| b.iter(fastant::Instant::now));
    let anchor = fastant::Anchor::new();
    group.bench_function("fastant_to_unix_nanos", |b| {
        let at = fastant::Instant::now();
        b.iter(|| black_box(at).as_unix_nanos(&anchor))
    });
    group.finish();
}

fn contexts(c: &mut Criterion) {
    let mut group = c.benchmark_group("context");
    let span_context = SpanContext::new(
        TraceId::from(0x0123_4567_89ab_cdef_u128),
        SpanId::from(0x1234_u64),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    group.bench_function("attach_current", |b| {
        b.iter(|| drop(black_box(Context::current().attach())))
    });
    group.bench_function("with_remote_span_context_attach", |b| {
        b.iter(|| {
            let cx = Context::current().with_remote_span_context(span_context.clone());
            drop(black_box(cx.attach()))
        })
    });
    group.bench_function("with_span_handle_attach", |b| {
        b.iter(|| {
            let cx = Context::current().with_span(span_path::Handle::new(span_context.clone()));
            drop(black_box(cx.attach()))
        })
    });
    // The whole life of a span of ours in the raw API's context, without the span work: made
    // current (boxed, 272 bytes, in a new `Arc`) and attached, ended through the current
    // context (its mutex), its record moved out, the guard, the context and the box dropped:
    // what `#[traced]` on a sync function does around its own work.
    group.bench_function("with_span_sized_attach_end", |b| {
        b.iter(|| {
            let cx =
                Context::current().with_span(span_path::SizedHandle::sized(span_context.clone()));
            let guard = cx.attach();
            Context::map_current(|cx| cx.span().end_with_timestamp(SystemTime::UNIX_EPOCH));
            drop(black_box(guard));
        })
    });
    group.finish();
}

/// The trace id and span id of a root span, from the SDK's `RandomIdGenerator` (what our
/// `Sink` takes them from): with `clock` and `context`, the parts of a sampled span that any span
/// the raw API can see as current pays, whatever else it does.
fn ids(c: &mut Criterion) {
    use opentelemetry_sdk::trace::IdGenerator as _;
    let mut group = c.benchmark_group("ids");
    let ids = opentelemetry_sdk::trace::RandomIdGenerator::default();
    group.bench_function("trace_and_span_id", |b| {
        b.iter(|| (black_box(ids.new_trace_id()), black_box(ids.new_span_id())))
    });
    group.finish();
}

/// The functions of `disabled_async`: the same body three ways.
mod disabled {
    use std::hint::black_box;

    /// The bare `async fn`.
    #[inline(never)]
    pub(crate) async fn bare(x: u64) -> u64 {
        black_box(x)
    }

    /// The bare `async fn`, its body awaited as a nested `async move` block.
    #[inline(never)]
    pub(crate) async fn nested(x: u64) -> u64 {
        async move { black_box(x) }.await
    }

    /// `#[traced]`: with no pipeline installed, the check and then the body awaited as above.
    #[maestro_trace::traced("score_request")]
    #[inline(never)]
    pub(crate) async fn traced(x: u64) -> u64 {
        black_box(x)
    }
}

/// `iters` awaited calls of `call` inside one `block_on`, as the `async` rows of `spans` run.
fn iter_awaited<F: std::future::Future<Output = u64>>(
    b: &mut Bencher<'_>,
    rt: &tokio::runtime::Runtime,
    call: fn(u64) -> F,
) {
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..iters {
                black_box(call(black_box(i)).await);
            }
            start.elapsed()
        })
    });
}

/// Runs before any group installs a pipeline: tracing is off for all three.
fn disabled_async(c: &mut Criterion) {
    let rt = current_thread_runtime();
    let mut group = c.benchmark_group("disabled_async");
    // Interleaved twice, so a drift of the machine shows as a difference between the rounds.
    for round in ["", "_again"] {
        group.bench_function(format!("bare{round}"), |b| {
            iter_awaited(b, &rt, disabled::bare)
        });
        group.bench_function(format!("nested{round}"), |b| {
            iter_awaited(b, &rt, disabled::nested)
        });
        group.bench_function(format!("traced{round}"), |b| {
            iter_awaited(b, &rt, disabled::traced)
        });
    }
    group.finish();
}

/// Times `iters` calls of `call` ([`time_calls`]).
fn iter_calls(b: &mut Bencher<'_>, installed: &Installed, call: &dyn Fn(u64) -> u64) {
    b.iter_custom(|iters| time_calls(installed, call, iters));
}

fn records(c: &mut Criterion) {
    let model = model();
    let mut group = c.benchmark_group("record");
    // The prototype first: a peer's export side (fastrace's collector above all) may still be
    // working through its backlog after its own rows, on a 2-core machine.
    let none = Setup::Bare.install();
    span_path::set_recycling(false);
    group.bench_function("prototype/sync", |b| {
        iter_calls(b, &none, &span_path::variants::sync)
    });
    span_path::set_recycling(true);
    group.bench_function("prototype/sync_recycled", |b| {
        iter_calls(b, &none, &span_path::variants::sync)
    });
    group.bench_function("prototype/sync_locked", |b| {
        iter_calls(b, &none, &span_path::variants::sync_locked)
    });
    group.bench_function("prototype/attrs3", |b| {
        iter_calls(b, &none, &span_path::variants::attrs3)
    });
    group.bench_function("prototype/struct", |b| {
        iter_calls(b, &none, &|_| {
            span_path::variants::with_struct(black_box(&model))
        })
    });
    group.bench_function("prototype/nested", |b| {
        iter_calls(b, &none, &span_path::variants::nested)
    });
    span_path::set_recycling(false);
    group.bench_function("prototype/sync_again", |b| {
        iter_calls(b, &none, &span_path::variants::sync)
    });
    drop(none);
    let sink = span_path::sink();
    eprintln!(
        "prototype: {} spans converted, {} dropped (export side behind by {} batches)",
        sink.converted.load(std::sync::atomic::Ordering::Relaxed),
        sink.dropped.load(std::sync::atomic::Ordering::Relaxed),
        span_path::IN_FLIGHT,
    );
    for setup in [
        Setup::MaestroSampled,
        Setup::SdkInSpan,
        Setup::SdkStartEnd,
        Setup::Fastrace,
    ] {
        let installed = setup.install();
        installed.with_library(|lib| {
            group.bench_function(format!("{}/sync", setup.name()), |b| {
                iter_calls(b, &installed, lib.sync)
            });
            group.bench_function(format!("{}/struct", setup.name()), |b| {
                iter_calls(b, &installed, &|_| (lib.with_struct)(black_box(&model)))
            });
        });
        drop(installed);
    }
    group.finish();
}

fn converts(c: &mut Criterion) {
    let mut group = c.benchmark_group("convert");
    let anchor = fastant::Anchor::new();
    let scope = InstrumentationScope::builder("maestro-trace").build();
    for attrs in [0, 5] {
        group.bench_function(format!("batch512_attrs{attrs}"), |b| {
            b.iter_batched(
                || span_path::sample_batch(span_path::HANDOFF, attrs),
                |batch| span_path::to_span_data(&batch, &anchor, &scope),
                BatchSize::LargeInput,
            )
        });
    }
    // The SDK's own per-span work for comparison: a span built and ended into a processor
    // that drops it, on the caller.
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(Drop512)
        .build();
    let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
    group.bench_function("sdk_start_end_no_export", |b| {
        b.iter(|| {
            let mut span = tracer.start(maestro_trace_benches::NAME);
            opentelemetry::trace::Span::end(&mut span);
        })
    });
    group.finish();
    let _ = provider.shutdown();
}

/// A processor that drops every span on the spot.
#[derive(Debug)]
struct Drop512;

impl opentelemetry_sdk::trace::SpanProcessor for Drop512 {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}
    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        drop(black_box(span));
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = span_path;
    config = config();
    targets = disabled_async, clocks, contexts, ids, records, converts
}
criterion_main!(span_path);
