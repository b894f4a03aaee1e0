use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(model.modelVersion = version))]
fn fetch_model(version: &str) -> usize {
    version.len()
}

fn main() {}
