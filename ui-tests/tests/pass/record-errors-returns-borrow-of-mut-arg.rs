#![deny(warnings)]
use maestro_trace::record_errors;

#[record_errors]
fn first_feature(features: &mut Vec<f64>) -> Result<&f64, String> {
    features.push(0.0);
    features.first().ok_or_else(|| "no features".to_owned())
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let mut features = vec![1.0];
    assert_eq!(
        maestro_trace::span!("read_first_feature")
            .in_scope(|| first_feature(&mut features).copied()),
        Ok(1.0)
    );
    assert!(!capture.span("read_first_feature").is_error());
}
