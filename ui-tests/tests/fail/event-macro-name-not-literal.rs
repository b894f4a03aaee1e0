use maestro_trace::event;

fn main() {
    let name = String::from("job_queued");
    event!(name, queue = "training");
}
