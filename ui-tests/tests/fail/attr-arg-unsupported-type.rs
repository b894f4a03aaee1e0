use maestro_trace::traced;

struct ModelConfig {
    layers: u32,
}

#[traced("deploy_model", attrs(config))]
fn deploy(config: ModelConfig) -> u32 {
    config.layers
}

fn main() {}
