#![deny(warnings)]
use std::fmt::Display;

use maestro_trace::traced;

#[traced("pick_longest_name")]
fn longest<'a, 'b: 'a>(left: &'a str, right: &'b str) -> &'a str {
    if left.len() >= right.len() {
        left
    } else {
        right
    }
}

#[traced("describe_batch", attrs(batch.size = items.len()))]
fn describe<T, const N: usize>(items: [T; N]) -> String
where
    T: Display,
{
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[traced("sum_features", attrs(features.count = features.clone().into_iter().count()))]
fn sum(features: impl IntoIterator<Item = f64> + Clone, scale: impl Into<f64>) -> f64 {
    let features: Vec<f64> = features.into_iter().collect();
    features.iter().sum::<f64>() * scale.into()
}

struct Batch<T> {
    rows: Vec<T>,
}

impl<T: Clone> Batch<T> {
    #[traced("split_batch")]
    fn split<'s>(&'s self, at: usize) -> (&'s [T], &'s [T])
    where
        T: 's,
    {
        self.rows.split_at(at)
    }
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(longest("bert", "gpt"), "bert");
    assert_eq!(describe([1, 2, 3]), "1,2,3");
    assert_eq!(sum(vec![1.0, 2.0], 2.0_f32), 6.0);
    let batch = Batch {
        rows: vec![1, 2, 3],
    };
    assert_eq!(batch.split(1).0, &[1]);
    assert_eq!(
        capture.span("pick_longest_name").name(),
        "pick_longest_name"
    );
    assert_eq!(
        capture.span("describe_batch").attr_i64("batch.size"),
        Some(3)
    );
    assert_eq!(
        capture.span("sum_features").attr_i64("features.count"),
        Some(2)
    );
    assert_eq!(capture.span("split_batch").name(), "split_batch");
}
