use maestro_trace::{span, traced, Span};

#[traced("run_training_epoch", root, parent = job)]
fn run_epoch(job: &Span) -> bool {
    job.is_recording()
}

fn main() {
    let job = span!("train_model_job");
    run_epoch(&job);
    span!("save_checkpoint", parent = &job, root).in_scope(|| {});
}
