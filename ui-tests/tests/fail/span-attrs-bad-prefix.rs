use maestro_trace::span_attrs;

#[span_attrs(prefix = "Model")]
struct ModelAttrs {
    id: String,
}

fn main() {}
