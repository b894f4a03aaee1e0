use maestro_trace::traced;

#[traced]
trait ModelStore {
    fn fetch_model(&self) -> Vec<u8>;
}

fn main() {}
