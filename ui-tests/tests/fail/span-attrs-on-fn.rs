use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
fn model_attrs() {}

fn main() {}
