use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(model.id = id, model.id = "bert-base"))]
fn fetch_model(id: &str) -> usize {
    id.len()
}

fn main() {}
