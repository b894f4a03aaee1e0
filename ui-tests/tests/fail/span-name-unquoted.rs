use maestro_trace::traced;

#[traced(load_training_dataset)]
fn load() {}

fn main() {}
