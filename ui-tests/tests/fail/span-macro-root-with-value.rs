use maestro_trace::span;

fn main() {
    span!("consume_training_event", root = true).in_scope(|| {});
}
