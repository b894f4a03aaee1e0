use maestro_trace::span_attrs;

#[span_attrs]
struct StatusAttrs {
    otel: String,
}

fn main() {}
