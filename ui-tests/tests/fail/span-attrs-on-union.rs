use maestro_trace::span_attrs;

#[span_attrs]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
