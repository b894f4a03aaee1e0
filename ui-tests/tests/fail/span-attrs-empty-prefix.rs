use maestro_trace::span_attrs;

#[span_attrs(prefix = "")]
struct ModelAttrs {
    id: String,
}

fn main() {}
