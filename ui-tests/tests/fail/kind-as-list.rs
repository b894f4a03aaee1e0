use maestro_trace::traced;

#[traced("fetch_model_from_registry", kind(client))]
fn fetch_model() {}

fn main() {}
