use maestro_trace::span_attrs;

#[span_attrs(prefix = "otel")]
struct StatusAttrs {
    status_code: String,
}

fn main() {}
