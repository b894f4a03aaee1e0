//! A global allocator that counts allocations, for the tests that prove a path allocates
//! nothing. A test binary installs it with
//! `#[global_allocator] static GLOBAL: Counting = Counting;` and reads [`thread_allocations`]
//! (the calling thread's: what a path costs its caller) or [`allocations`] (the whole process,
//! the test harness's own thread included).
#![allow(unsafe_code)] // implementing `GlobalAlloc` is unsafe by definition

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context as TaskContext, Poll};

/// The system allocator, counting every allocation of the process.
#[derive(Debug)]
pub struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations since the process started (when [`Counting`] is the global allocator).
pub fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::SeqCst)
}

/// Allocations this thread made since it started (when [`Counting`] is the global allocator):
/// what a path costs its caller, whatever other threads allocate meanwhile. The tests that
/// assert "allocates nothing" read this, not [`allocations`]: the test harness's own thread
/// allocates now and then while a test runs (2 to 4 times inside a 1,000-call loop on a
/// loaded machine, which failed CI once).
pub fn thread_allocations() -> usize {
    THREAD_ALLOCATIONS.try_with(Cell::get).unwrap_or(0)
}

// SAFETY: delegates every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // A const thread-local `Cell`: no lazy initialisation, so no allocation of its own.
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// The fewest allocations one call of `first` and one call of `second` made, over `rounds`
/// alternating rounds: for comparing two paths through a client whose own background work
/// (another thread, a driver task) allocates now and then in either one. Between calls the
/// task yields a few times, so that work finishes outside the next measurement.
pub async fn fewest_allocations<A, B>(
    rounds: usize,
    mut first: impl FnMut() -> A,
    mut second: impl FnMut() -> B,
) -> (usize, usize)
where
    A: Future<Output = ()>,
    B: Future<Output = ()>,
{
    let (mut fewest_first, mut fewest_second) = (usize::MAX, usize::MAX);
    for _ in 0..rounds {
        let before = allocations();
        first().await;
        fewest_first = fewest_first.min(allocations() - before);
        settle().await;
        let before = allocations();
        second().await;
        fewest_second = fewest_second.min(allocations() - before);
        settle().await;
    }
    (fewest_first, fewest_second)
}

/// Yields to the executor a few times.
async fn settle() {
    for _ in 0..4 {
        YieldOnce(false).await;
    }
}

/// Pending once (waking itself), then ready.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            task.waker().wake_by_ref();
            Poll::Pending
        }
    }
}
