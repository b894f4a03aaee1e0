//! `#[traced]` on synchronous functions: names, kinds, attributes, nesting, exits and panics.

use std::sync::atomic::{AtomicUsize, Ordering};

use maestro_trace::otel::trace::{SpanKind, Status, TraceContextExt, Tracer};
use maestro_trace::otel::{global, Array, Value};
use maestro_trace::sdk::trace::Sampler;
use maestro_trace::{testing, traced};

#[traced]
fn load_training_dataset() -> usize {
    normalize_features()
}

#[traced("normalize_features")]
fn normalize_features() -> usize {
    10_000
}

#[test]
fn default_name_is_the_function_name_and_children_nest() {
    let capture = testing::capture();
    assert_eq!(load_training_dataset(), 10_000);

    let outer = capture.span("load_training_dataset");
    let inner = capture.span("normalize_features");
    assert!(outer.is_root());
    assert!(inner.is_child_of(&outer));
    assert_eq!(outer.kind(), SpanKind::Internal);
    assert_eq!(outer.status(), Status::Unset);
}

#[traced("call_model_registry", kind = client)]
fn call_registry() {}

#[traced("consume_training_event", kind = consumer, root)]
fn consume_event() {}

#[test]
fn kind_and_root_are_honoured() {
    let capture = testing::capture();
    let tracer = global::tracer("test");
    tracer.in_span("handle_request_outer", |_| {
        call_registry();
        consume_event();
    });
    let outer = capture.span("handle_request_outer");
    let client = capture.span("call_model_registry");
    let consumer = capture.span("consume_training_event");
    assert_eq!(client.kind(), SpanKind::Client);
    assert!(client.is_child_of(&outer), "{}", capture.tree());
    assert_eq!(consumer.kind(), SpanKind::Consumer);
    assert!(consumer.is_root(), "`root` starts a new trace");
    assert_ne!(consumer.trace_id(), outer.trace_id());
}

#[traced("score_batch", attrs(model.id = model_id, batch.size = rows.len(), threshold, tags, gpu = true, note))]
fn score_batch(
    model_id: &str,
    rows: &[f64],
    threshold: f64,
    tags: Vec<&str>,
    note: Option<String>,
) -> usize {
    let _ = (threshold, &tags, &note);
    rows.len()
}

#[test]
fn attributes_keep_their_types_and_arguments_are_only_recorded_when_named() {
    let capture = testing::capture();
    score_batch(
        "resnet-50",
        &[0.1, 0.2, 0.3],
        0.75,
        vec!["prod", "eu"],
        None,
    );

    let span = capture.span("score_batch");
    assert_eq!(span.attr_str("model.id").as_deref(), Some("resnet-50"));
    assert_eq!(span.attr_i64("batch.size"), Some(3));
    assert_eq!(span.attr_f64("threshold"), Some(0.75));
    assert_eq!(span.attr_bool("gpu"), Some(true));
    assert_eq!(
        span.attr("tags"),
        Some(Value::Array(Array::String(vec![
            "prod".into(),
            "eu".into()
        ])))
    );
    assert_eq!(span.attr("note"), None, "None is omitted");
    assert_eq!(
        span.attributes().len(),
        5,
        "only the named attributes: {:?}",
        span.attributes()
    );
}

#[traced("count_tokens", attrs(tokens, checksum, shard.sizes = shard_sizes))]
fn count_tokens(tokens: u64, checksum: u128, shard_sizes: &[usize]) {
    let _ = (tokens, checksum, shard_sizes);
}

#[test]
fn an_attribute_keeps_the_type_of_its_rust_type_whatever_the_value() {
    let capture = testing::capture();
    let past_max = i64::MAX.unsigned_abs() + 1;
    count_tokens(12, 7, &[1, 2]);
    count_tokens(past_max, u128::MAX, &[1, usize::MAX]);

    let spans = capture.spans_named("count_tokens");
    let [small, large] = spans.as_slice() else {
        panic!("two spans expected: {}", capture.tree());
    };
    // u64 is an Int for every value (clamped at i64::MAX), u128 a decimal string even when small,
    // and one large element does not change an array's type.
    assert_eq!(small.attr("tokens"), Some(Value::I64(12)));
    assert_eq!(large.attr("tokens"), Some(Value::I64(i64::MAX)));
    assert_eq!(small.attr("checksum"), Some(Value::from("7")));
    assert_eq!(
        large.attr("checksum"),
        Some(Value::from(u128::MAX.to_string()))
    );
    assert_eq!(
        small.attr("shard.sizes"),
        Some(Value::Array(Array::I64(vec![1, 2])))
    );
    assert_eq!(
        large.attr("shard.sizes"),
        Some(Value::Array(Array::I64(vec![1, i64::MAX])))
    );
}

#[traced("parse_config")]
fn parse_config(raw: &str) -> Result<u32, std::num::ParseIntError> {
    let value: u32 = raw.parse()?;
    Ok(value * 2)
}

#[test]
fn span_ends_on_early_exit_through_question_mark() {
    let capture = testing::capture();
    assert!(parse_config("not a number").is_err());
    assert_eq!(parse_config("21"), Ok(42));
    assert_eq!(capture.spans_named("parse_config").len(), 2);
}

#[traced("explode_on_bad_shape")]
fn explode(rows: usize) -> usize {
    if rows == 0 {
        panic!("tensor shape mismatch: expected 3 dims");
    }
    rows
}

#[test]
fn panic_ends_the_span_with_error_and_the_panic_continues() {
    let capture = testing::capture();
    let outcome = std::panic::catch_unwind(|| explode(0));
    assert!(outcome.is_err(), "the panic must propagate");

    let span = capture.span("explode_on_bad_shape");
    assert!(span.is_error());
    let event = span.event("exception");
    assert_eq!(event.attr_str("exception.type").as_deref(), Some("panic"));
    assert_eq!(
        event.attr_str("exception.message").as_deref(),
        Some("tensor shape mismatch: expected 3 dims")
    );
    // The thread's context is restored after the unwind: a new span is a root again.
    assert_eq!(explode(2), 2);
    let spans = capture.spans_named("explode_on_bad_shape");
    assert!(spans[1].is_root());
}

struct Trainer {
    epochs: u32,
    history: Vec<f64>,
}

impl Trainer {
    #[traced("trainer_summary", attrs(training.epochs = self.epochs))]
    fn summary(&self) -> u32 {
        self.epochs
    }

    #[traced("record_epoch_loss", attrs(loss))]
    fn record(&mut self, loss: f64) {
        self.history.push(loss);
    }

    #[traced("finish_training")]
    fn finish(self) -> Vec<f64> {
        self.history
    }
}

#[test]
fn methods_with_every_receiver() {
    let capture = testing::capture();
    let mut trainer = Trainer {
        epochs: 3,
        history: Vec::new(),
    };
    assert_eq!(trainer.summary(), 3);
    trainer.record(0.25);
    assert_eq!(trainer.finish(), vec![0.25]);

    assert_eq!(
        capture.span("trainer_summary").attr_i64("training.epochs"),
        Some(3)
    );
    assert_eq!(
        capture.span("record_epoch_loss").attr_f64("loss"),
        Some(0.25)
    );
    capture.span("finish_training");
}

#[traced("longest_feature_name")]
fn longest<'a, T>(left: &'a T, right: &'a T) -> &'a T
where
    T: AsRef<str> + ?Sized,
{
    if left.as_ref().len() >= right.as_ref().len() {
        left
    } else {
        right
    }
}

#[traced("sum_feature_values")]
fn sum_all<I: IntoIterator<Item = u64>>(values: I, extra: impl Into<u64>) -> u64 {
    values.into_iter().sum::<u64>() + extra.into()
}

#[test]
fn generics_lifetimes_and_where_clauses() {
    let capture = testing::capture();
    assert_eq!(longest("ab", "abc"), "abc");
    assert_eq!(sum_all(vec![1, 2], 3_u8), 6);
    capture.span("longest_feature_name");
    capture.span("sum_feature_values");
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn expensive_label() -> String {
    EVALUATED.fetch_add(1, Ordering::SeqCst);
    "computed".to_owned()
}

#[traced("rank_candidates", attrs(label = expensive_label()))]
fn rank() {}

#[test]
fn attribute_expressions_run_only_when_sampled() {
    {
        let _capture = testing::capture_with_sampler(Sampler::AlwaysOff);
        EVALUATED.store(0, Ordering::SeqCst);
        for _ in 0..5 {
            rank();
        }
        assert_eq!(
            EVALUATED.load(Ordering::SeqCst),
            0,
            "unsampled: never evaluated"
        );
    }
    let capture = testing::capture();
    rank();
    assert_eq!(
        EVALUATED.load(Ordering::SeqCst),
        1,
        "sampled: evaluated once"
    );
    assert_eq!(
        capture.span("rank_candidates").attr_str("label").as_deref(),
        Some("computed")
    );
}

#[test]
fn children_of_an_unsampled_parent_are_not_sampled() {
    let capture = testing::capture_with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let unsampled_parent = maestro_trace::otel::trace::SpanContext::new(
        maestro_trace::otel::trace::TraceId::from(7_u128),
        maestro_trace::otel::trace::SpanId::from(9_u64),
        maestro_trace::otel::trace::TraceFlags::default(),
        true,
        Default::default(),
    );
    let cx = maestro_trace::otel::Context::new().with_remote_span_context(unsampled_parent);
    let _attached = cx.attach();
    EVALUATED.store(0, Ordering::SeqCst);
    rank();
    assert_eq!(EVALUATED.load(Ordering::SeqCst), 0);
    assert!(capture.spans().is_empty(), "{:?}", capture.names());
}

#[test]
fn raw_opentelemetry_spans_and_macros_share_one_context() {
    let capture = testing::capture();
    let tracer = global::tracer("raw");
    tracer.in_span("raw_outer_request", |cx| {
        assert!(cx.span().span_context().is_valid());
        load_training_dataset();
    });
    let outer = capture.span("raw_outer_request");
    let traced = capture.span("load_training_dataset");
    assert!(traced.is_child_of(&outer));
    assert!(capture.span("normalize_features").is_child_of(&traced));

    // And the other way: a raw span opened inside a traced function is its child.
    #[traced("traced_with_raw_child")]
    fn traced_with_raw_child() {
        global::tracer("raw").in_span("raw_child_step_query", |_| {});
    }
    traced_with_raw_child();
    assert!(capture
        .span("raw_child_step_query")
        .is_child_of(&capture.span("traced_with_raw_child")));
}
