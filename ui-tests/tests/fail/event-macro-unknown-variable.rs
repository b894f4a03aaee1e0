use maestro_trace::event;

fn main() {
    event!("job_queued", queue);
}
