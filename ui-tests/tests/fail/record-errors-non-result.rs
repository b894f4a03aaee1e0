use maestro_trace::record_errors;

#[record_errors]
fn find_model(id: &str) -> Option<usize> {
    Some(id.len())
}

fn main() {}
