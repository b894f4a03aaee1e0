use maestro_trace::traced;

#[traced(b"load_training_dataset")]
fn load() {}

fn main() {}
