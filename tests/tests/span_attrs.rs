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
