#![deny(warnings)]
use maestro_trace::traced;

/// Reads the raw bytes of a checkpoint.
///
/// # Safety
/// `ptr` must point at `len` readable bytes.
#[traced("read_checkpoint_bytes")]
unsafe fn read_bytes(ptr: *const u8, len: usize) -> u8 {
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    bytes.iter().copied().max().unwrap_or(0)
}

mod registry {
    use maestro_trace::traced;

    #[traced("lookup_model_version")]
    pub(crate) fn lookup(id: &str) -> usize {
        id.len()
    }
}

/// The accuracy of the last evaluation.
#[must_use = "the accuracy is the point of evaluating"]
#[inline]
#[traced("evaluate_model")]
#[cfg_attr(debug_assertions, allow(clippy::needless_return))]
fn evaluate() -> f64 {
    #![allow(unused_variables, clippy::let_and_return)]
    let unused = 1;
    let accuracy = 0.93;
    return accuracy;
}

#[traced("score_from_c_caller")]
extern "C" fn score(rows: u32) -> u32 {
    rows * 2
}

#[traced("shutdown_trainer")]
fn shutdown() -> ! {
    std::process::exit(0)
}

#[deny(warnings)]
#[traced("checked_under_deny_warnings", attrs(rows))]
fn strict(rows: u32) -> u32 {
    rows
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let data = [1_u8, 9, 3];
    assert_eq!(unsafe { read_bytes(data.as_ptr(), data.len()) }, 9);
    assert_eq!(registry::lookup("bert"), 4);
    assert_eq!(evaluate(), 0.93);
    assert_eq!(score(21), 42);
    assert_eq!(strict(1), 1);
    assert_eq!(
        capture.span("read_checkpoint_bytes").name(),
        "read_checkpoint_bytes"
    );
    assert_eq!(
        capture.span("lookup_model_version").name(),
        "lookup_model_version"
    );
    assert_eq!(capture.span("evaluate_model").name(), "evaluate_model");
    assert_eq!(
        capture.span("score_from_c_caller").name(),
        "score_from_c_caller"
    );
    assert_eq!(
        capture.span("checked_under_deny_warnings").name(),
        "checked_under_deny_warnings"
    );
    let _ = shutdown as fn() -> !;
}
