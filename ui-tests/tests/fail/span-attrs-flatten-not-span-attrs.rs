use maestro_trace::span_attrs;

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    epochs: i64,
    #[span_attr(flatten)]
    tenant: String,
}

fn main() {}
