#![deny(warnings)]
use maestro_trace::{span, span_attrs, traced};

#[span_attrs]
#[derive(Clone, Copy, Debug, PartialEq)]
enum Framework {
    #[span_attr(rename = "pytorch")]
    PyTorch,
    Onnx,
}

#[span_attrs(prefix = "tenant")]
struct TenantAttrs {
    id: &'static str,
}

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    framework: Framework,
    #[span_attr(flatten)]
    tenant: TenantAttrs,
}

#[traced("train_model_job", attrs(job, framework))]
fn train(job: &TrainingAttrs, framework: Framework) -> Framework {
    if job.framework == framework {
        job.framework
    } else {
        framework
    }
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let job = TrainingAttrs {
        framework: Framework::Onnx,
        tenant: TenantAttrs { id: "tenant-123" },
    };
    assert_eq!(train(&job, Framework::PyTorch), Framework::PyTorch);
    span!("export_model", format = Framework::Onnx).in_scope(|| ());
    let span = capture.span("train_model_job");
    assert_eq!(span.attr_str("framework").as_deref(), Some("pytorch"));
    assert_eq!(span.attr_str("training.framework").as_deref(), Some("Onnx"));
    assert_eq!(span.attr_str("tenant.id").as_deref(), Some("tenant-123"));
    assert_eq!(
        capture.span("export_model").attr_str("format").as_deref(),
        Some("Onnx")
    );
}
