use maestro_trace::event;

fn main() {
    event!("Job Queued", queue = "training");
}
