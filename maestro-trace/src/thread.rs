//! OS threads that stay in the caller's trace: the `std::thread` counterpart of
//! [`spawn`](crate::spawn) and [`in_current_span`](crate::TraceFutureExt::in_current_span).
//!
//! A thread starts with an empty OpenTelemetry context, so a span started on it would begin a
//! new trace. These helpers capture the current context where the thread is spawned and make it
//! current for the thread's closure.

use opentelemetry::Context;

/// `std::thread::spawn` that keeps the thread in the caller's trace: spans started on it are
/// children of the span current where it was spawned.
///
/// ```
/// use maestro_trace::{span, testing};
///
/// let capture = testing::capture();
/// span!("train_model_job").in_scope(|| {
///     let worker = maestro_trace::thread::spawn(|| span!("load_training_shard").in_scope(|| 7));
///     assert_eq!(worker.join().ok(), Some(7));
/// });
/// assert!(capture.span("load_training_shard").is_child_of(&capture.span("train_model_job")));
/// ```
pub fn spawn<F, T>(f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(in_current_context(f))
}

/// `f`, made to run in the context current now: for `std::thread::Builder`,
/// `std::thread::scope`, thread pools, or any closure run on another thread.
///
/// ```
/// use maestro_trace::{span, testing};
///
/// let capture = testing::capture();
/// span!("train_model_job").in_scope(|| {
///     std::thread::scope(|scope| {
///         scope.spawn(maestro_trace::thread::in_current_context(|| {
///             span!("load_training_shard").in_scope(|| ())
///         }));
///     });
///     let named = std::thread::Builder::new()
///         .name("evaluator".into())
///         .spawn(maestro_trace::thread::in_current_context(|| {
///             span!("evaluate_model").in_scope(|| ())
///         }));
///     assert!(named.is_ok_and(|handle| handle.join().is_ok()));
/// });
/// let job = capture.span("train_model_job");
/// assert!(capture.span("load_training_shard").is_child_of(&job));
/// assert!(capture.span("evaluate_model").is_child_of(&job));
/// ```
pub fn in_current_context<F, T>(f: F) -> impl FnOnce() -> T
where
    F: FnOnce() -> T,
{
    let cx = Context::current();
    move || {
        let _attached = cx.attach();
        f()
    }
}
