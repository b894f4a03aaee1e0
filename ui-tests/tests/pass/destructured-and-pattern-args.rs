#![deny(warnings)]
use maestro_trace::traced;

#[traced("score_batch", attrs(batch.rows = rows, batch.cols = cols, mut_scale))]
fn score_batch((rows, cols): (i64, i64), mut mut_scale: i64, _: &str) -> i64 {
    mut_scale += 1;
    rows * cols * mut_scale
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(score_batch((2, 3), 1, "unused"), 12);
    let span = capture.span("score_batch");
    assert_eq!(span.attr_i64("batch.rows"), Some(2));
    assert_eq!(span.attr_i64("mut_scale"), Some(1));
}
