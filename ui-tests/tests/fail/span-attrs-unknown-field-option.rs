use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    #[span_attr(flatten)]
    version: String,
}

fn main() {}
