#![deny(warnings)]
use maestro_trace::{span_attrs, traced};

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    #[span_attr(rename = "type")]
    kind: &'static str,
    version: Option<String>,
    #[span_attr(skip)]
    weights: Vec<u8>,
}

#[span_attrs(prefix = "training.batch")]
struct BatchAttrs<'a, T: maestro_trace::AttributeValue> {
    size: T,
    columns: &'a [&'a str],
}

#[span_attrs]
struct TenantAttrs {
    tenant_id: String,
}

#[traced("deploy_model", attrs(model, batch, tenant))]
fn deploy(model: &ModelAttrs, batch: BatchAttrs<'_, i64>, tenant: Option<TenantAttrs>) -> usize {
    model.weights.len() + batch.columns.len() + usize::from(tenant.is_some())
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let model = ModelAttrs {
        id: "bert-base".into(),
        kind: "pytorch",
        version: None,
        weights: vec![0; 4],
    };
    let batch = BatchAttrs {
        size: 32_i64,
        columns: &["text", "label"],
    };
    let tenant = TenantAttrs {
        tenant_id: "tenant-123".into(),
    };
    assert_eq!(deploy(&model, batch, Some(tenant)), 7);
    maestro_trace::span!("record_model_group").in_scope(|| maestro_trace::record(&model));

    let span = capture.span("deploy_model");
    assert_eq!(span.name(), "deploy_model");
    assert_eq!(span.attr_str("model.id").as_deref(), Some("bert-base"));
    assert_eq!(span.attr_str("model.type").as_deref(), Some("pytorch"));
    assert!(span.attr("model.version").is_none(), "None is omitted");
    assert!(span.attr("model.weights").is_none(), "skipped");
    assert_eq!(span.attr_i64("training.batch.size"), Some(32));
    assert!(span.attr("training.batch.columns").is_some());
    assert_eq!(span.attr_str("tenant_id").as_deref(), Some("tenant-123"));
    let group = capture.span("record_model_group");
    assert_eq!(group.attr_str("model.type").as_deref(), Some("pytorch"));
}
