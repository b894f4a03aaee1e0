use maestro_trace::record_errors;

#[record_errors]
fn first_model<E>(found: Result<String, E>) -> Result<String, E> {
    found
}

fn main() {}
