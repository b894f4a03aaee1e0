use maestro_trace::traced;

#[traced("score_batch", attrs(batch.shapes = shapes))]
fn score_batch(shapes: Vec<(u32, u32)>) -> usize {
    shapes.len()
}

fn main() {}
