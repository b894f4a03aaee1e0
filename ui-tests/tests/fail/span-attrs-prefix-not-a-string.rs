use maestro_trace::span_attrs;

#[span_attrs(prefix = 42)]
struct ModelAttrs {
    id: String,
}

fn main() {}
