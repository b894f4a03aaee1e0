use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    #[span_attr(redact)]
    version: String,
}

fn main() {}
