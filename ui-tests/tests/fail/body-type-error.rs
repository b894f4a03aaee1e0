use maestro_trace::traced;

#[traced("load_training_dataset")]
fn load_training_dataset(path: &str) -> usize {
    let rows: usize = path;
    rows
}

fn main() {}
