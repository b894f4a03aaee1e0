#![deny(warnings)]
use maestro_trace::{span_attrs, traced};

/// Attributes of a tenant.
#[derive(Debug, Clone)]
#[span_attrs(prefix = "tenant")]
pub struct TenantAttrs {
    /// The tenant's id.
    pub id: String,
    #[span_attr(rename = "tier")]
    pub plan: &'static str,
}

#[span_attrs(prefix = "resource")]
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceAttrs {
    pub gpu_count: u32,
    #[span_attr(skip)]
    pub node: String,
}

#[traced("schedule_training_job", attrs(tenant, resources))]
fn schedule(tenant: TenantAttrs, resources: &ResourceAttrs) -> u32 {
    let _ = tenant.clone();
    resources.gpu_count
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let tenant = TenantAttrs {
        id: "tenant-123".into(),
        plan: "premium",
    };
    let resources = ResourceAttrs {
        gpu_count: 4,
        node: "gpu-node-1".into(),
    };
    assert_eq!(format!("{:?}", resources.clone()), format!("{resources:?}"));
    assert_eq!(schedule(tenant, &resources), 4);
    let span = capture.span("schedule_training_job");
    assert_eq!(span.attr_str("tenant.id").as_deref(), Some("tenant-123"));
    assert_eq!(span.attr_str("tenant.tier").as_deref(), Some("premium"));
    assert_eq!(span.attr_i64("resource.gpu_count"), Some(4));
    assert!(span.attr("resource.node").is_none());
}
