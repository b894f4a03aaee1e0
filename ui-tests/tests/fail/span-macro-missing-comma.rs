use maestro_trace::span;

fn main() {
    span!("save_to_database" table = "models").in_scope(|| {});
}
