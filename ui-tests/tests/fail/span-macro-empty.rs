use maestro_trace::span;

fn main() {
    span!().in_scope(|| {});
}
