use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(version, version = "v2"))]
fn fetch_model(version: &str) -> usize {
    version.len()
}

fn main() {}
