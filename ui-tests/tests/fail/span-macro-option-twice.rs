use maestro_trace::span;

fn main() {
    span!("consume_training_event", kind = consumer, root, kind = server).in_scope(|| {});
}
