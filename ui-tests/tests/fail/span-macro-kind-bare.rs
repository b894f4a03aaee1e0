use maestro_trace::span;

fn main() {
    let kind = "nightly";
    span!("run_training_job", kind).in_scope(|| {});
}
