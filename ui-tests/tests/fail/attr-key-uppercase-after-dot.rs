use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(Model.Id = id))]
fn fetch_model(id: &str) -> usize {
    id.len()
}

fn main() {}
