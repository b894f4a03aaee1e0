use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
struct ModelId(String);

fn main() {}
