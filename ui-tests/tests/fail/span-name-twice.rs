use maestro_trace::traced;

#[traced("fetch_model_from_registry", "load_model")]
fn fetch_model() {}

fn main() {}
