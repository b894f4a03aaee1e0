//! The clock of span start, end and event times.
//!
//! `SystemTime::now` is a vDSO `clock_gettime`: about 23 ns on the machine BENCHMARKS.md was
//! measured on, twice per span (`docs/span-path.md`, 2.4). The CPU's time stamp counter
//! (`quanta`) reads in about 10 ns. Each thread keeps an anchor, a counter reading and the
//! wall-clock time taken with it, and turns a reading into wall-clock time as the anchor's time
//! plus the counter's elapsed time since. The anchor is taken again every [`REANCHOR`] (one
//! `SystemTime::now`), so times never drift from the wall clock by more than the counter's
//! calibration error over that interval (well under a microsecond), and a wall-clock step (NTP)
//! shows within it. Where no usable counter exists, quanta reads the monotonic clock instead:
//! the times stay right, only slower to take.
//!
//! The counter is calibrated once per process, when a pipeline is installed ([`calibrate`]):
//! a process that never traces never pays for it.

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// How long a thread's anchor is used before it is taken again.
pub(crate) const REANCHOR: Duration = Duration::from_millis(10);

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

thread_local! {
    static ANCHOR: Cell<Option<(quanta::Instant, SystemTime)>> = const { Cell::new(None) };
}

/// Calibrates the counter (a few milliseconds, once per process), so that no span pays for it.
pub(crate) fn calibrate() {
    CLOCK.get_or_init(quanta::Clock::new);
}

/// The wall-clock time now, for span and event timestamps.
#[inline]
pub(crate) fn now() -> SystemTime {
    let reading = CLOCK.get_or_init(quanta::Clock::new).now();
    ANCHOR
        .try_with(|anchor| {
            if let Some((at, wall)) = anchor.get() {
                if let Some(elapsed) = reading.checked_duration_since(at) {
                    if elapsed < REANCHOR {
                        return wall + elapsed;
                    }
                }
            }
            let wall = SystemTime::now();
            anchor.set(Some((reading, wall)));
            wall
        })
        // The thread is being torn down: no anchor to keep.
        .unwrap_or_else(|_| SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How far a reading may lie outside a `SystemTime` window around it: the counter's
    /// calibration error over one anchor interval is microseconds, far below this.
    const SLACK: Duration = Duration::from_millis(1);

    #[test]
    fn readings_follow_the_wall_clock_in_order() {
        for pause in [Duration::ZERO, Duration::from_millis(3), REANCHOR * 2] {
            let before = SystemTime::now();
            let first = now();
            std::thread::sleep(pause);
            let second = now();
            let after = SystemTime::now();
            assert!(first <= second, "{first:?} then {second:?}");
            assert!(first + SLACK >= before, "{first:?} before {before:?}");
            assert!(second <= after + SLACK, "{second:?} after {after:?}");
            let measured = second.duration_since(first).unwrap_or_default();
            assert!(
                measured + SLACK >= pause,
                "{pause:?} measured as {measured:?}"
            );
        }
    }

    #[test]
    fn a_new_thread_takes_its_own_anchor() {
        let before = SystemTime::now();
        let reading = std::thread::spawn(now)
            .join()
            .expect("the thread reads the clock");
        let after = SystemTime::now();
        assert!(reading + SLACK >= before && reading <= after + SLACK);
    }
}
