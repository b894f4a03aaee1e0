use maestro_trace::traced;

#[traced("fetch_model_from_registry", sampled)]
fn fetch_model() {}

fn main() {}
