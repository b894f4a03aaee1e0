use maestro_trace::traced;

#[traced("compute_batch_size")]
const fn batch_size() -> usize {
    32
}

fn main() {}
