use std::collections::HashMap;

use maestro_trace::span;

fn main() {
    let labels: HashMap<String, String> = HashMap::new();
    span!("validate_model", model.labels = labels).in_scope(|| {});
}
