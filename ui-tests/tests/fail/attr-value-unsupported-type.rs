use std::collections::HashMap;

use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(model.labels = labels))]
fn fetch_model(labels: &HashMap<String, String>) -> usize {
    labels.len()
}

fn main() {}
