use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    #[span_attr(rename = "type", rename = "kind")]
    kind: String,
}

fn main() {}
