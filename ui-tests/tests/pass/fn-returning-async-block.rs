#![deny(warnings)]
use std::future::Future;

use maestro_trace::traced;

#[traced("fetch_model_from_registry", attrs(model.id = id))]
fn fetch_model(id: String) -> impl Future<Output = usize> {
    let prefix = "models/";
    async move {
        tokio::task::yield_now().await;
        prefix.len() + id.len() - 7
    }
}

#[traced("warm_model_cache")]
fn warm_cache() -> impl Future<Output = ()> + Send {
    async move {}
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(fetch_model("bert-base".to_owned())), 9);
    runtime.block_on(warm_cache());
    let span = capture.span("fetch_model_from_registry");
    assert_eq!(span.name(), "fetch_model_from_registry");
    assert_eq!(span.attr_str("model.id").as_deref(), Some("bert-base"));
    assert_eq!(capture.span("warm_model_cache").name(), "warm_model_cache");
}
