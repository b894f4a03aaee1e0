#![deny(deprecated)]

use maestro_trace::span_attrs;

#[span_attrs(prefix = "http")]
struct RequestAttrs {
    #[span_attr(rename = "status_code")]
    status: i64,
}

fn main() {}
