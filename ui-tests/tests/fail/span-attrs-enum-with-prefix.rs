use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
enum ModelKind {
    Pytorch,
    Tensorflow,
}

fn main() {}
