#![allow(non_snake_case)]

use maestro_trace::traced;

#[traced]
fn LoadDataset() {}

fn main() {}
