use maestro_trace::span;

fn main() {
    span!("do_work").in_scope(|| {});
}
