use std::collections::HashMap;

use maestro_trace::span_attrs;

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    labels: HashMap<String, String>,
}

fn main() {}
