#![deny(warnings)]
use async_trait::async_trait;
use maestro_trace::{record_errors, traced};

#[async_trait]
trait ModelStore {
    async fn fetch(&self, id: &str) -> Result<usize, String>;
    async fn save(&self, id: &str) -> Result<(), String>;
}

struct Registry;

#[async_trait]
impl ModelStore for Registry {
    #[traced("fetch_model_from_registry", kind = client, attrs(model.id = id))]
    #[record_errors]
    async fn fetch(&self, id: &str) -> Result<usize, String> {
        if id.is_empty() {
            return Err("empty model id".to_owned());
        }
        Ok(id.len())
    }

    #[record_errors]
    #[traced("save_model_to_registry", kind = client)]
    async fn save(&self, id: &str) -> Result<(), String> {
        Err(format!("registry is read-only, cannot save {id}"))
    }
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let registry = Registry;
    assert_eq!(runtime.block_on(registry.fetch("bert")), Ok(4));
    assert!(runtime.block_on(registry.fetch("")).is_err());
    assert!(runtime.block_on(registry.save("bert")).is_err());
    let fetches = capture.spans_named("fetch_model_from_registry");
    assert_eq!(fetches.len(), 2);
    assert!(!fetches[0].is_error());
    assert!(fetches[1].is_error());
    let save = capture.span("save_model_to_registry");
    assert_eq!(save.name(), "save_model_to_registry");
    assert!(
        save.is_error(),
        "`#[record_errors]` above `#[traced]` records on its span"
    );
}
