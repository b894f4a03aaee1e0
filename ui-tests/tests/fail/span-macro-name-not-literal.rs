use maestro_trace::span;

fn main() {
    let name = "validate_model";
    span!(name).in_scope(|| {});
}
