use maestro_trace::traced;

#[traced("step1")]
fn load_training_dataset() {}

fn main() {}
