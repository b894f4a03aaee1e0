use maestro_trace::traced;

#[traced("consume_training_event", root, root)]
fn consume_event() {}

fn main() {}
