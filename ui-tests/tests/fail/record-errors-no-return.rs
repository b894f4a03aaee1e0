use maestro_trace::record_errors;

#[record_errors]
fn save_checkpoint(path: &str) {
    let _ = path;
}

fn main() {}
