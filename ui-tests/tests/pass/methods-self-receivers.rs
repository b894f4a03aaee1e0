#![deny(warnings)]
use maestro_trace::{record_errors, traced};

struct ModelRegistry {
    models: Vec<String>,
}

impl ModelRegistry {
    #[traced("open_model_registry")]
    fn new() -> Self {
        ModelRegistry { models: Vec::new() }
    }

    #[traced("register_model", attrs(model.id = id))]
    fn register(&mut self, id: &str) {
        self.models.push(id.to_owned());
    }

    #[traced("count_models")]
    fn count(&self) -> usize {
        self.models.len()
    }

    #[traced("close_model_registry", attrs(registry.size = self.models.len()))]
    fn close(self) -> Vec<String> {
        self.models
    }

    #[traced("latest_model")]
    #[record_errors]
    fn latest(&self) -> Result<&str, String> {
        self.models
            .last()
            .map(String::as_str)
            .ok_or_else(|| "registry is empty".to_owned())
    }

    #[traced("drop_boxed_registry")]
    fn drop_boxed(self: Box<Self>) -> usize {
        self.models.len()
    }
}

trait ModelStore {
    #[traced("list_stored_models")]
    fn list(&self) -> usize {
        0
    }
}

impl ModelStore for ModelRegistry {}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let mut registry = ModelRegistry::new();
    registry.register("bert-base");
    assert_eq!(registry.count(), 1);
    assert_eq!(registry.latest(), Ok("bert-base"));
    assert_eq!(registry.list(), 0);
    assert_eq!(registry.close(), vec!["bert-base".to_owned()]);
    assert_eq!(Box::new(ModelRegistry::new()).drop_boxed(), 0);
    assert_eq!(capture.spans_named("open_model_registry").len(), 2);
    assert_eq!(
        capture
            .span("register_model")
            .attr_str("model.id")
            .as_deref(),
        Some("bert-base")
    );
    assert_eq!(capture.span("count_models").name(), "count_models");
    assert!(!capture.span("latest_model").is_error());
    assert_eq!(
        capture.span("list_stored_models").name(),
        "list_stored_models"
    );
    assert_eq!(
        capture
            .span("close_model_registry")
            .attr_i64("registry.size"),
        Some(1)
    );
    assert_eq!(
        capture.span("drop_boxed_registry").name(),
        "drop_boxed_registry"
    );
}
