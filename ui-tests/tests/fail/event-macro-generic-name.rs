use maestro_trace::event;

fn main() {
    event!("step2");
}
