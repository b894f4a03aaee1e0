use maestro_trace::traced;

#[traced("")]
fn load_training_dataset() {}

fn main() {}
