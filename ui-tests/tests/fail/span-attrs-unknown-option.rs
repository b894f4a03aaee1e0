use maestro_trace::span_attrs;

#[span_attrs(namespace = "model")]
struct ModelAttrs {
    id: String,
}

fn main() {}
