use maestro_trace::traced;

#[traced("score_batch", attrs(_threshold))]
fn score_batch(_threshold: f64) {}

fn main() {}
