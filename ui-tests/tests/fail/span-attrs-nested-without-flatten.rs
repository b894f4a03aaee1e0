// A `#[span_attrs]` struct held by another one: the note says to flatten it, not to add
// `#[span_attrs]` to a type that already has it.
use maestro_trace::span_attrs;

#[span_attrs(prefix = "tenant")]
struct TenantAttrs {
    id: String,
}

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    epochs: i64,
    tenant: TenantAttrs,
}

fn main() {}
