use maestro_trace::event;

fn main() {
    let id = 7;
    event!("job_{id}_queued", queue = "training");
}
