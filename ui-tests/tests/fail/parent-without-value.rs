use maestro_trace::traced;

#[traced("run_training_epoch", parent)]
fn run_epoch() {}

#[traced("merge_training_batches", links)]
fn merge() {}

fn main() {}
