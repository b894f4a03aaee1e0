use maestro_trace::span_attrs;

#[span_attrs(prefix = "tenant")]
struct TenantAttrs {
    id: String,
}

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    epochs: i64,
    #[span_attr(skip, flatten)]
    tenant: TenantAttrs,
}

fn main() {}
