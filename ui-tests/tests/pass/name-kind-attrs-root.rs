#![deny(warnings)]
use maestro_trace::otel::trace::SpanKind;
use maestro_trace::traced;

#[traced(
    "deploy_model",
    kind = client,
    attrs(model.id = id, model.replicas = replicas * 2, config, tenant, gpu = true),
    root
)]
fn deploy(id: &str, replicas: i64, config: Vec<String>, tenant: Option<&str>) -> usize {
    id.len() + config.len() + tenant.map_or(0, str::len) + replicas as usize
}

#[traced("consume_training_event", kind = consumer)]
fn consume() {}

#[traced("serve_prediction", kind = server)]
fn serve() {}

#[traced("publish_training_event", kind = producer)]
fn publish() {}

#[traced("score_locally", kind = internal)]
fn score() {}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    deploy("bert-base", 3, vec!["fp16".to_owned()], None);
    consume();
    serve();
    publish();
    score();
    let span = capture.span("deploy_model");
    assert_eq!(span.name(), "deploy_model");
    assert_eq!(span.kind(), SpanKind::Client);
    assert!(span.is_root());
    assert_eq!(span.attr_str("model.id").as_deref(), Some("bert-base"));
    assert_eq!(span.attr_i64("model.replicas"), Some(6));
    assert_eq!(span.attr_bool("gpu"), Some(true));
    assert!(span.attr("config").is_some());
    assert!(span.attr("tenant").is_none(), "None is omitted");
    assert_eq!(
        capture.span("consume_training_event").kind(),
        SpanKind::Consumer
    );
    assert_eq!(capture.span("serve_prediction").kind(), SpanKind::Server);
    assert_eq!(
        capture.span("publish_training_event").kind(),
        SpanKind::Producer
    );
    assert_eq!(capture.span("score_locally").kind(), SpanKind::Internal);
}
