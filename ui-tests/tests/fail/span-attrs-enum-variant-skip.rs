use maestro_trace::span_attrs;

#[span_attrs]
enum Framework {
    Pytorch,
    #[span_attr(skip)]
    Experimental,
}

fn main() {}
