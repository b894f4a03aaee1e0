#![deny(deprecated)]

use maestro_trace::traced;

#[traced("handle_prediction", kind = server, attrs(http.method = method))]
fn handle_prediction(method: &str) -> usize {
    method.len()
}

fn main() {}
