use maestro_trace::traced;

#[traced("TrainModel")]
fn train_model() {}

fn main() {}
