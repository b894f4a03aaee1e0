use maestro_trace::traced;

#[traced("consume_training_event", root = true)]
fn consume_event() {}

fn main() {}
