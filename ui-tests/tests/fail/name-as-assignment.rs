use maestro_trace::traced;

#[traced(name = "fetch_model_from_registry")]
fn fetch_model() {}

fn main() {}
