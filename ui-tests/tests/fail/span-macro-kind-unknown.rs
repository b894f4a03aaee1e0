use maestro_trace::span;

fn main() {
    span!("fetch_model_from_registry", kind = clientside).in_scope(|| {});
}
