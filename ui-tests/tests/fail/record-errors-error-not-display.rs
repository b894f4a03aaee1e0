use maestro_trace::record_errors;

#[derive(Debug)]
struct RegistryError;

#[record_errors]
fn fetch_model(id: &str) -> Result<usize, RegistryError> {
    if id.is_empty() {
        return Err(RegistryError);
    }
    Ok(id.len())
}

fn main() {}
