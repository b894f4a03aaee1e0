//! `#[span_attrs]` structs: keys built at compile time, typed values, `Option` omitted, `skip`.

use maestro_trace::otel::{Array, Value};
use maestro_trace::{span, span_attrs, testing, traced, SpanAttributes};

#[span_attrs(prefix = "model")]
#[derive(Debug)]
pub struct ModelAttrs {
    pub id: String,
    #[span_attr(rename = "type")]
    pub kind: String,
    pub version: Option<String>,
    pub parameters: u64,
    pub quantized: bool,
    pub layers: Vec<i64>,
    #[span_attr(skip)]
    pub weights: Vec<u8>,
}

fn bert() -> ModelAttrs {
    ModelAttrs {
        id: "bert-base".into(),
        kind: "pytorch".into(),
        version: None,
        parameters: 110_000_000,
        quantized: false,
        layers: vec![768, 768],
        weights: vec![0; 1024],
    }
}

#[test]
fn keys_are_prefixed_renamed_and_values_typed() {
    let attributes = maestro_trace::attributes_of(&bert());
    let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "model.id",
            "model.type",
            "model.parameters",
            "model.quantized",
            "model.layers"
        ],
        "version is None (omitted), weights skipped"
    );
    assert_eq!(attributes[2].value, Value::I64(110_000_000));
    assert_eq!(attributes[3].value, Value::Bool(false));
    assert_eq!(
        attributes[4].value,
        Value::Array(Array::I64(vec![768, 768]))
    );
}

#[span_attrs]
struct Unprefixed {
    region: &'static str,
}

#[span_attrs(prefix = "gpu")]
struct Resources<T: maestro_trace::AttributeValue> {
    count: T,
}

#[test]
fn without_prefix_and_generic_structs() {
    let a = maestro_trace::attributes_of(&Unprefixed {
        region: "eu-west-1",
    });
    assert_eq!(a[0].key.as_str(), "region");
    let b = maestro_trace::attributes_of(&Resources { count: 4_u8 });
    assert_eq!(
        (b[0].key.as_str(), &b[0].value),
        ("gpu.count", &Value::I64(4))
    );
}

#[traced("deploy_model", attrs(model, deployment.replicas = replicas))]
fn deploy(model: &ModelAttrs, replicas: u32) {
    let _ = (model.weights.len(), replicas);
}

#[test]
fn a_struct_argument_records_all_of_its_attributes() {
    let capture = testing::capture();
    deploy(&bert(), 3);
    let span = capture.span("deploy_model");
    assert_eq!(span.attr_str("model.id").as_deref(), Some("bert-base"));
    assert_eq!(span.attr_str("model.type").as_deref(), Some("pytorch"));
    assert_eq!(span.attr("model.version"), None);
    assert_eq!(span.attr_i64("deployment.replicas"), Some(3));
    assert!(
        span.attr("model").is_none(),
        "a struct is recorded field by field"
    );
}

#[test]
fn record_on_the_current_span_or_on_a_handle() {
    let capture = testing::capture();
    span!("register_model").in_scope(|| {
        maestro_trace::record(&bert());
    });
    let handle = span!("evaluate_model");
    handle.record(&Unprefixed {
        region: "us-east-1",
    });
    handle.in_scope(|| ());

    assert_eq!(
        capture.span("register_model").attr_i64("model.parameters"),
        Some(110_000_000)
    );
    assert_eq!(
        capture.span("evaluate_model").attr_str("region").as_deref(),
        Some("us-east-1")
    );
}

#[test]
fn the_trait_is_implemented_for_user_code_to_call() {
    fn count<A: SpanAttributes>(group: &A) -> usize {
        maestro_trace::attributes_of(group).len()
    }
    assert_eq!(count(&bert()), 5);
}

/// A fieldless enum: recorded as its variant's name, or the `rename`d value.
#[span_attrs]
#[derive(Clone, Copy)]
enum Framework {
    #[span_attr(rename = "pytorch")]
    PyTorch,
    #[span_attr(rename = "tensorflow")]
    TensorFlow,
    Onnx,
}

#[span_attrs(prefix = "tenant")]
struct TenantAttrs {
    id: &'static str,
    tier: &'static str,
}

#[span_attrs(prefix = "training")]
struct TrainingAttrs {
    epochs: i64,
    framework: Framework,
    fallback: Option<Framework>,
    backends: Vec<Framework>,
    // Recorded with its own `tenant.` keys, not `training.tenant.*`.
    #[span_attr(flatten)]
    tenant: TenantAttrs,
    #[span_attr(flatten)]
    model: ModelAttrs,
}

fn training() -> TrainingAttrs {
    TrainingAttrs {
        epochs: 10,
        framework: Framework::PyTorch,
        fallback: Some(Framework::Onnx),
        backends: vec![Framework::PyTorch, Framework::Onnx],
        tenant: TenantAttrs {
            id: "tenant-123",
            tier: "premium",
        },
        model: bert(),
    }
}

#[test]
fn a_flattened_field_records_its_own_keys_and_an_enum_its_variant() {
    let attributes = maestro_trace::attributes_of(&training());
    let keys: Vec<&str> = attributes.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "training.epochs",
            "training.framework",
            "training.fallback",
            "training.backends",
            "tenant.id",
            "tenant.tier",
            "model.id",
            "model.type",
            "model.parameters",
            "model.quantized",
            "model.layers"
        ]
    );
    assert_eq!(attributes[0].value, Value::I64(10));
    assert_eq!(attributes[1].value, Value::from("pytorch"));
    assert_eq!(
        attributes[2].value,
        Value::from("Onnx"),
        "no rename: the variant's name"
    );
    assert_eq!(
        attributes[3].value,
        Value::Array(Array::String(vec!["pytorch".into(), "Onnx".into()]))
    );
    assert_eq!(attributes[5].value, Value::from("premium"));
    assert_eq!(attributes[8].value, Value::I64(110_000_000));
    assert_eq!(
        training().attribute_count(),
        4 + 2 + 6,
        "room for the struct's own fields and every flattened field (None included)"
    );
}

#[traced("train_model_job", attrs(job, framework, backend = framework))]
fn train(job: &TrainingAttrs, framework: Framework) -> i64 {
    job.epochs
}

#[test]
fn enums_and_flattened_structs_record_on_spans() {
    let capture = testing::capture();
    assert_eq!(train(&training(), Framework::TensorFlow), 10);
    span!("export_model", format = Framework::Onnx).in_scope(|| ());

    let span = capture.span("train_model_job");
    assert_eq!(span.attr_str("framework").as_deref(), Some("tensorflow"));
    assert_eq!(span.attr_str("backend").as_deref(), Some("tensorflow"));
    assert_eq!(
        span.attr_str("training.framework").as_deref(),
        Some("pytorch")
    );
    assert_eq!(span.attr_str("tenant.id").as_deref(), Some("tenant-123"));
    assert_eq!(span.attr_i64("model.parameters"), Some(110_000_000));
    assert_eq!(span.attr("training.tenant.id"), None);
    assert_eq!(
        capture.span("export_model").attr_str("format").as_deref(),
        Some("Onnx")
    );
}
