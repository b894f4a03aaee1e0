use maestro_trace::span_attrs;

#[span_attrs]
enum Framework {
    #[span_attr(rename = "")]
    Pytorch,
}

fn main() {}
