use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    #[span_attr(skip, rename = "weights")]
    weights: Vec<u8>,
}

fn main() {}
