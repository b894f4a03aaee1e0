use maestro_trace::span_attrs;

#[span_attrs]
enum Framework {
    #[span_attr(rename = "torch")]
    Pytorch,
    #[span_attr(rename = "torch")]
    PytorchLightning,
}

fn main() {}
