use maestro_trace::traced;

#[traced("get_model_{id}")]
fn get_model(id: &str) -> usize {
    id.len()
}

fn main() {}
