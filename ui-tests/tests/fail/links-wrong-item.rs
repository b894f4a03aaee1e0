use maestro_trace::{span, traced};

#[traced("run_training_job", links = [job_id])]
fn run_job(job_id: u64) {}

fn main() {
    run_job(7);
    span!("merge_training_batches", links = "submit_training_job").in_scope(|| {});
}
