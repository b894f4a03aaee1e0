use maestro_trace::traced;

#[traced("score_batch", attrs(batch))]
fn score_batch<T: Clone>(batch: T) -> T {
    batch
}

fn main() {}
