use maestro_trace::traced;

#[traced("load training dataset")]
fn load_training_dataset() {}

fn main() {}
