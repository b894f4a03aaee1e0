#![deny(warnings)]
use maestro_trace::{span, span_attrs, traced};

#[traced("register_model_type", attrs(model.r#type = r#type, r#type, r#match = true))]
fn register(r#type: &str) -> usize {
    r#type.len()
}

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    r#type: String,
}

#[traced("deploy_model", attrs(model))]
fn deploy(model: &ModelAttrs) -> usize {
    model.r#type.len()
}

#[traced]
fn r#load_training_dataset() {}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(register("pytorch"), 7);
    deploy(&ModelAttrs {
        r#type: "onnx".into(),
    });
    load_training_dataset();
    let kind = "gguf";
    span!("convert_model", model.r#type = kind).in_scope(|| {});

    let span = capture.span("register_model_type");
    assert_eq!(span.attr_str("model.type").as_deref(), Some("pytorch"));
    assert_eq!(span.attr_str("type").as_deref(), Some("pytorch"));
    assert_eq!(span.attr_bool("match"), Some(true));
    assert_eq!(
        capture
            .span("deploy_model")
            .attr_str("model.type")
            .as_deref(),
        Some("onnx")
    );
    assert_eq!(
        capture.span("load_training_dataset").name(),
        "load_training_dataset"
    );
    assert_eq!(
        capture
            .span("convert_model")
            .attr_str("model.type")
            .as_deref(),
        Some("gguf")
    );
}
