use maestro_trace::span_attrs;

#[span_attrs]
enum Framework {
    Pytorch,
    Custom(String),
    Remote { url: String },
}

fn main() {}
