use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(otel.status_code = "ERROR"))]
fn fetch_model() {}

fn main() {}
