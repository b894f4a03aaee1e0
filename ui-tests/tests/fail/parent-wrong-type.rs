use maestro_trace::{span, traced};

#[traced("run_training_epoch", parent = job_id)]
fn run_epoch(job_id: u64) {}

fn main() {
    run_epoch(7);
    span!("save_checkpoint", parent = "train_model_job").in_scope(|| {});
}
