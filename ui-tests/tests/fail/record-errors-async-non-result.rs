use maestro_trace::{record_errors, traced};

#[traced("fetch_model_from_registry")]
#[record_errors]
async fn fetch_model(id: &str) -> usize {
    id.len()
}

fn main() {}
