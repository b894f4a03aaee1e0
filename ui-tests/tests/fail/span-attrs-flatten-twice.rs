use maestro_trace::span_attrs;

#[span_attrs(prefix = "tenant")]
struct TenantAttrs {
    id: String,
}

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    #[span_attr(flatten)]
    #[span_attr(flatten)]
    tenant: TenantAttrs,
}

fn main() {}
