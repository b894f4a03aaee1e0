//! Every supported shape of the macros in one module that `cargo clippy --workspace
//! --all-targets -- -D warnings` lints with `clippy::pedantic` denied: generated code must not
//! make a user's crate warn under the strictest lint set a user is likely to turn on. The test
//! at the bottom runs each shape, so none of it is dead code.
#![deny(warnings, clippy::pedantic)]

use std::future::Future;

use maestro_trace::{event, record_errors, span, span_attrs, traced, TraceFutureExt};

#[span_attrs(prefix = "model")]
struct ModelAttrs {
    id: String,
    #[span_attr(rename = "type")]
    kind: &'static str,
    version: Option<String>,
    #[span_attr(skip)]
    weights: Vec<u8>,
}

#[span_attrs]
struct Region<T: maestro_trace::AttributeValue> {
    region: T,
}

#[span_attrs]
#[derive(Clone, Copy)]
enum Framework {
    #[span_attr(rename = "pytorch")]
    PyTorch,
    Onnx,
}

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    framework: Framework,
    #[span_attr(flatten)]
    model: ModelAttrs,
}

#[traced("train_model_job", attrs(job, framework))]
fn train(job: &TrainingAttrs, framework: Framework) -> usize {
    job.model.id.len() + usize::from(matches!(framework, Framework::Onnx))
}

// One line on purpose: a one-line block body is where `unused_braces` looks.
#[rustfmt::skip]
#[traced]
fn lookup() -> u8 { 4 }

#[traced("deploy_model", kind = client, attrs(model, deployment.replicas = replicas), root)]
fn deploy(model: &ModelAttrs, replicas: u32) -> usize {
    model.weights.len() + usize::try_from(replicas).unwrap_or(0)
}

#[traced("parse_model_config")]
#[record_errors]
fn parse_config(text: &str) -> Result<u32, std::num::ParseIntError> {
    let layers: u32 = text.parse()?;
    Ok(layers)
}

#[record_errors]
#[traced("read_model_manifest")]
fn read_manifest(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[record_errors]
fn checked_alone(ok: bool) -> anyhow::Result<u8> {
    anyhow::ensure!(ok, "not ok");
    Ok(1)
}

#[traced("pick_largest_model", attrs(count = items.len()))]
fn largest<'a, T>(items: &'a [T]) -> Option<&'a T>
where
    T: Ord,
{
    items.iter().max()
}

#[traced("load_training_dataset", attrs(path))]
async fn load_dataset(path: &str) -> usize {
    tokio::task::yield_now().await;
    path.len()
}

#[traced("fetch_model_from_registry", attrs(model.id = id))]
#[record_errors]
async fn fetch(id: &str) -> Result<usize, String> {
    if id.is_empty() {
        return Err("empty model id".to_owned());
    }
    Ok(id.len())
}

#[traced("warm_model_cache")]
fn warm_cache(id: String) -> impl Future<Output = usize> {
    let prefix = "models/";
    async move { prefix.len() + id.len() }
}

#[traced("prefetch_model")]
fn prefetch() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {})
}

struct Registry {
    models: Vec<String>,
}

impl Registry {
    #[traced("open_model_registry")]
    fn new() -> Self {
        Registry { models: Vec::new() }
    }

    #[traced("register_model", attrs(model.id = id))]
    fn register(&mut self, id: &str) {
        self.models.push(id.to_owned());
    }

    #[traced("count_models")]
    fn count(&self) -> usize {
        self.models.len()
    }

    #[traced("latest_model")]
    #[record_errors]
    fn latest(&self) -> Result<&str, String> {
        self.models
            .last()
            .map(String::as_str)
            .ok_or_else(|| "no model".to_owned())
    }

    #[traced("close_model_registry", attrs(registry.size = self.models.len()))]
    fn close(self) -> Vec<String> {
        self.models
    }
}

#[async_trait::async_trait]
trait ModelStore {
    async fn save(&self, id: &str) -> Result<(), String>;
}

#[async_trait::async_trait]
impl ModelStore for Registry {
    #[traced("save_model_to_registry", kind = client)]
    #[record_errors]
    async fn save(&self, id: &str) -> Result<(), String> {
        Err(format!("registry is read-only, cannot save {id}"))
    }
}

fn macros(kind: &str) -> u8 {
    event!("job_queued", queue = "training", position = 3);
    span!("validate_model", model_type = kind).in_scope(|| 7)
}

// A deprecated key allowed where it is written: its warning's expansion must be lint-clean too.
#[allow(deprecated)]
fn legacy_request(method: &str) {
    span!("legacy_request", http.method = method).in_scope(|| {});
}

#[test]
fn every_shape_runs_and_records_its_span() {
    let capture = maestro_trace::testing::capture();
    let model = ModelAttrs {
        id: "bert".into(),
        kind: "pytorch",
        version: None,
        weights: vec![],
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(lookup(), 4);
    assert_eq!(deploy(&model, 2), 2);
    assert_eq!(parse_config("12"), Ok(12));
    assert!(read_manifest("/nonexistent/manifest").is_err());
    assert!(checked_alone(false).is_err());
    assert_eq!(largest(&[1, 3, 2]), Some(&3));
    assert_eq!(runtime.block_on(load_dataset("data")), 4);
    assert_eq!(runtime.block_on(fetch("bert")), Ok(4));
    assert_eq!(runtime.block_on(warm_cache("m".to_owned())), 8);
    runtime.block_on(prefetch());
    let mut registry = Registry::new();
    registry.register("bert");
    assert_eq!(registry.count(), 1);
    assert_eq!(registry.latest(), Ok("bert"));
    assert!(runtime.block_on(registry.save("bert")).is_err());
    assert_eq!(registry.close(), ["bert"]);
    assert_eq!(
        runtime.block_on(async { macros("pytorch") }.in_span(span!("run_model_checks"))),
        7
    );
    maestro_trace::record(&Region {
        region: "eu-west-1",
    });
    legacy_request("GET");
    let job = TrainingAttrs {
        framework: Framework::PyTorch,
        model: ModelAttrs {
            id: "bert".into(),
            kind: "pytorch",
            version: None,
            weights: vec![],
        },
    };
    assert_eq!(train(&job, Framework::Onnx), 5);
    assert_eq!(
        capture
            .span("train_model_job")
            .attr_str("model.id")
            .as_deref(),
        Some("bert")
    );
    assert_eq!(model.version, None);
    assert_eq!(
        capture
            .span("deploy_model")
            .attr_str("model.type")
            .as_deref(),
        Some("pytorch")
    );
    for name in [
        "lookup",
        "parse_model_config",
        "read_model_manifest",
        "pick_largest_model",
        "load_training_dataset",
        "fetch_model_from_registry",
        "warm_model_cache",
        "prefetch_model",
        "open_model_registry",
        "register_model",
        "count_models",
        "latest_model",
        "save_model_to_registry",
        "close_model_registry",
        "validate_model",
        "legacy_request",
    ] {
        assert_eq!(capture.span(name).name(), name);
    }
}
