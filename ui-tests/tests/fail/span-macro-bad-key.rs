use maestro_trace::span;

fn main() {
    let kind = "pytorch";
    span!("validate_model", modelType = kind).in_scope(|| {});
}
