//! Time per call of one instrumented function, for maestro-trace and its peers, in one run.
//!
//! Groups are pipelines ([`Setup::name`]: `maestro_sampled`, `sdk_in_span`, `tracing_otel`, ...);
//! the functions in each are the variants (`sync`, `async`, `nested`, `attrs3`, `struct`, and
//! for the `tracing` rows `event`: a span with one event inside).
//! `benches/scripts/report.py` reads the medians criterion writes under
//! `target/criterion/<group>/<variant>/new/estimates.json`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Bencher, Criterion};
use maestro_trace_benches::{
    current_thread_runtime, model, time_calls, Installed, Setup, VARIANTS,
};

/// Times `iters` calls of `call` ([`time_calls`]).
fn iter_calls(b: &mut Bencher<'_>, installed: &Installed, call: &dyn Fn(u64) -> u64) {
    b.iter_custom(|iters| time_calls(installed, call, iters));
}

/// The `async` variant: `iters` awaited calls inside one `block_on` of a current-thread runtime.
fn iter_async(b: &mut Bencher<'_>, installed: &Installed, rt: &tokio::runtime::Runtime) {
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            let mut i = 0;
            while i < iters {
                let _root = installed.root();
                let end = iters.min(i.saturating_add(installed.calls_per_root()));
                while i < end {
                    black_box(installed.call_async(black_box(i)).await);
                    i += 1;
                }
            }
            start.elapsed()
        })
    });
}

fn bench_setup(c: &mut Criterion, setup: Setup) {
    let rt = current_thread_runtime();
    let model = model();
    let installed = setup.install();
    let mut group = c.benchmark_group(setup.name());
    installed.with_library(|lib| {
        for variant in VARIANTS {
            group.bench_function(variant, |b| match variant {
                "sync" => iter_calls(b, &installed, lib.sync),
                "async" => iter_async(b, &installed, &rt),
                "nested" => iter_calls(b, &installed, lib.nested),
                "attrs3" => iter_calls(b, &installed, lib.attrs3),
                _ => iter_calls(b, &installed, &|_| (lib.with_struct)(black_box(&model))),
            });
        }
    });
    if setup.is_tracing() {
        group.bench_function("event", |b| {
            iter_calls(
                b,
                &installed,
                &maestro_trace_benches::tracing_otel::with_event,
            )
        });
    }
    group.finish();
    installed.report_exported();
}

fn all(c: &mut Criterion) {
    for setup in Setup::ALL {
        bench_setup(c, setup);
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = spans;
    config = config();
    targets = all
}
criterion_main!(spans);
