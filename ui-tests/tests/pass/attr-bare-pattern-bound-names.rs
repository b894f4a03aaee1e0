#![deny(warnings)]
use maestro_trace::traced;

#[traced("score_batch", attrs(rows, cols))]
fn score_batch((rows, cols): (usize, usize)) -> usize {
    rows * cols
}

struct Shape {
    height: i64,
}

#[traced("resize_image", attrs(height))]
fn resize(Shape { height }: Shape) -> i64 {
    height
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(score_batch((2, 3)), 6);
    assert_eq!(resize(Shape { height: 7 }), 7);
    let span = capture.span("score_batch");
    assert_eq!(span.attr_i64("rows"), Some(2));
    assert_eq!(span.attr_i64("cols"), Some(3));
    assert_eq!(capture.span("resize_image").attr_i64("height"), Some(7));
}
