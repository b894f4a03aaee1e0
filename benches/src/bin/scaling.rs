//! Sampled, exported spans per second from 1 and from 2 threads at once, for `#[traced]`, the
//! raw SDK's `in_span` and fastrace's `#[trace]` (the `sync` variant of the span rows): whether
//! a span path keeps scaling when threads start spans side by side (a lock or a shared counter
//! written per span would not).
//!
//! ```sh
//! cargo run -p maestro-trace-benches --release --bin scaling [-- --spans N] [-- --rounds R]
//! ```
//!
//! Each round runs every row with 1 and with 2 threads, in an order rotated from round to round;
//! each thread ends `N` spans (default 200,000) as fast as it can, and the row's rate is all
//! threads' spans over the time from the first thread's start to the last thread's end. After each
//! measurement the row's spans are waited for at the exporter (not timed), so a row is never
//! measured while the previous one's export still runs. One JSON line per row and thread count:
//! the median rate over the rounds, and the median of each round's 2-thread ÷ 1-thread ratio.
//!
//! The machine's core count bounds what 2 threads can show: with 2 cores, the batching and
//! export threads compete with the 2 callers, so the ideal is below 2.0 for every row alike.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use maestro_trace_benches::{fastrace_trace, maestro, sdk_in_span, Installed, Setup};

/// The rows measured: ours and the two peers.
const ROWS: [Setup; 3] = [Setup::MaestroSampled, Setup::SdkInSpan, Setup::Fastrace];

fn main() {
    let mut spans: u64 = 200_000;
    let mut rounds: usize = 7;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().map(|v| v.parse::<u64>());
        match (flag.as_str(), value) {
            ("--spans", Some(Ok(n))) if n > 0 => spans = n,
            ("--rounds", Some(Ok(n))) if n > 0 => rounds = n as usize,
            _ => return eprintln!("usage: scaling [--spans N] [--rounds R] (both above 0)"),
        }
    }
    // rates[row][threads - 1][round], in spans per second.
    let mut rates = vec![[Vec::new(), Vec::new()]; ROWS.len()];
    let mut dropped = vec![0u64; ROWS.len()];
    for round in 0..rounds {
        for k in 0..ROWS.len() {
            let row = (round + k) % ROWS.len();
            let installed = ROWS[row].install();
            for threads in [1, 2] {
                let (rate, lost) = measure(&installed, ROWS[row], threads, spans);
                rates[row][threads - 1].push(rate);
                dropped[row] += lost;
            }
        }
    }
    for (row, setup) in ROWS.iter().enumerate() {
        let ratios: Vec<f64> = rates[row][1]
            .iter()
            .zip(&rates[row][0])
            .map(|(two, one)| two / one)
            .collect();
        for threads in [1, 2] {
            println!(
                "{{\"row\":\"{}\",\"threads\":{threads},\"spans_per_thread\":{spans},\
                 \"rounds\":{rounds},\"spans_per_sec\":{:.0},\"two_over_one\":{:.3},\
                 \"not_exported\":{}}}",
                setup.name(),
                median(rates[row][threads - 1].clone()),
                median(ratios.clone()),
                dropped[row],
            );
        }
    }
}

/// Spans per second of `threads` threads ending `spans` spans each on the row `setup`
/// (installed as `installed`), and how many of them did not reach the exporter.
fn measure(installed: &Installed, setup: Setup, threads: usize, spans: u64) -> (f64, u64) {
    let before = installed.exported();
    let tracer = (setup == Setup::SdkInSpan).then(|| installed.tracer().clone());
    let start = Barrier::new(threads + 1);
    let elapsed = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let start = &start;
                let tracer = tracer.clone();
                scope.spawn(move || {
                    start.wait();
                    let started = Instant::now();
                    match setup {
                        Setup::SdkInSpan => {
                            if let Some(tracer) = &tracer {
                                run(spans, |x| sdk_in_span::sync(tracer, x));
                            }
                        }
                        Setup::Fastrace => {
                            let mut i = 0;
                            while i < spans {
                                let _root = fastrace_trace::root();
                                let end = spans.min(i + fastrace_trace::CALLS_PER_ROOT);
                                run(end - i, fastrace_trace::sync);
                                i = end;
                            }
                        }
                        _ => run(spans, maestro::sync),
                    }
                    (started, Instant::now())
                })
            })
            .collect();
        start.wait();
        let times: Vec<(Instant, Instant)> = workers
            .into_iter()
            .filter_map(|worker| worker.join().ok())
            .collect();
        // From the first thread's start to the last one's end.
        let first = times.iter().map(|(started, _)| *started).min();
        let last = times.iter().map(|(_, ended)| *ended).max();
        match (first, last) {
            (Some(first), Some(last)) => last - first,
            _ => Duration::ZERO,
        }
    });
    let expected = before + threads as u64 * spans;
    installed.flush();
    let deadline = Instant::now() + Duration::from_secs(10);
    while installed.exported() < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let rate = (threads as u64 * spans) as f64 / elapsed.as_secs_f64();
    (rate, expected.saturating_sub(installed.exported()))
}

fn run(calls: u64, call: impl Fn(u64) -> u64) {
    for i in 0..calls {
        std::hint::black_box(call(std::hint::black_box(i)));
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
