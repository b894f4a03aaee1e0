#![deny(warnings)]
use maestro_trace::{record_errors, traced};

struct ModelRegistry {
    models: Vec<String>,
}

impl ModelRegistry {
    #[traced("latest_model_mut")]
    #[record_errors]
    fn latest_mut(&mut self) -> Result<&mut String, String> {
        self.models
            .last_mut()
            .ok_or_else(|| "registry is empty".to_owned())
    }
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let mut registry = ModelRegistry {
        models: vec!["bert".into()],
    };
    registry.latest_mut().unwrap().push_str("-v2");
    assert_eq!(registry.models[0], "bert-v2");
    assert!(!capture.span("latest_model_mut").is_error());
}
