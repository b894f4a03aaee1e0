use maestro_trace::traced;

struct ModelRegistry;

#[traced]
impl ModelRegistry {
    fn fetch_model(&self) {}
}

fn main() {}
