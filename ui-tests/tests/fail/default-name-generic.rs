use maestro_trace::traced;

#[traced]
fn process_data() {}

fn main() {}
