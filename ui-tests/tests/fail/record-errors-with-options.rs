use maestro_trace::record_errors;

#[record_errors(level = "warn")]
fn fetch_model(id: &str) -> Result<usize, String> {
    Ok(id.len())
}

fn main() {}
