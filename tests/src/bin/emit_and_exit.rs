//! A program that ends spans and exits at once: `emit_and_exit COUNT` creates COUNT spans with
//! tracing configured from the environment, then returns from `main`. The shutdown test runs it
//! as a child process and counts what reached Jaeger.

use std::process::ExitCode;

use maestro_trace::{span, TracingConfig};

fn main() -> ExitCode {
    let Some(count) = std::env::args().nth(1).and_then(|n| n.parse::<i64>().ok()) else {
        eprintln!("usage: emit_and_exit COUNT");
        return ExitCode::from(2);
    };
    let guard = match maestro_trace::init(TracingConfig::from_env()) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("emit_and_exit: {error}");
            return ExitCode::from(1);
        }
    };
    for index in 0..count {
        span!("emit_before_exit", index = index).in_scope(|| ());
    }
    // Leaving `main` drops the guard, which must flush everything still queued.
    drop(guard);
    ExitCode::SUCCESS
}
