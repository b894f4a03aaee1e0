use maestro_trace::span_attrs;

#[span_attrs(prefix = "model", prefix = "training")]
struct ModelAttrs {
    id: String,
}

fn main() {}
