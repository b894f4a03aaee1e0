#![deny(warnings)]
use maestro_trace::traced;

#[traced]
fn load_training_dataset(path: &str) -> usize {
    path.len()
}

#[traced("normalize_features")]
fn normalize(rows: usize) -> usize {
    rows * 2
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(normalize(load_training_dataset("data.csv")), 16);
    assert_eq!(
        capture.span("load_training_dataset").name(),
        "load_training_dataset"
    );
    assert_eq!(
        capture.span("normalize_features").name(),
        "normalize_features"
    );
}
