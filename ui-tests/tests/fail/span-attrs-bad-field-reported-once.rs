// One bad field is one error: the struct still implements its traits, so naming it in
// `attrs(...)` or passing it to `record` adds nothing on top.
use maestro_trace::{span_attrs, traced};

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    #[span_attr(rename = "Type")]
    kind: String,
}

#[traced("deploy_model", attrs(model))]
fn deploy(model: &ModelAttrs) -> usize {
    model.id.len() + model.kind.len()
}

fn main() {
    let model = ModelAttrs {
        id: "bert".into(),
        kind: "pytorch".into(),
    };
    maestro_trace::record(&model);
    deploy(&model);
}
