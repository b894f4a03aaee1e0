use maestro_trace::traced;

#[traced("Fetch Model", kind = rpc, attrs(otel.id = id, tenant), sampled)]
fn fetch_model(id: &str) -> usize {
    id.len()
}

fn main() {}
