use maestro_trace::span;

struct Model {
    id: String,
}

fn main() {
    let model = Model { id: "bert-base".into() };
    span!("validate_model", model.id).in_scope(|| {});
}
