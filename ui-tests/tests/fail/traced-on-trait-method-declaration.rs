use maestro_trace::traced;

trait ModelStore {
    #[traced("fetch_model_from_registry")]
    fn fetch_model(&self) -> Vec<u8>;
}

fn main() {}
