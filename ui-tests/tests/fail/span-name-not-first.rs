use maestro_trace::traced;

#[traced(kind = client, "fetch_model_from_registry")]
fn fetch_model() {}

fn main() {}
