use maestro_trace::traced;

#[traced]
struct ModelRegistry {
    url: String,
}

fn main() {}
