//! `init`, `TracingConfig` and the console exporter. `init` owns process-wide state, so every
//! test here takes `SERIAL` first.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use maestro_trace::export::ConsoleExporter;
use maestro_trace::sdk::error::OTelSdkResult;
use maestro_trace::sdk::trace::{SpanData, SpanExporter};
use maestro_trace::{event, init, record_errors, span, traced, InitError, TracingConfig};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An exporter that keeps what it receives, even after the pipeline shuts down.
#[derive(Clone, Debug, Default)]
struct Recorded(Arc<Mutex<Vec<SpanData>>>);

impl Recorded {
    fn get_finished_spans(&self) -> Result<Vec<SpanData>, std::convert::Infallible> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
}

impl SpanExporter for Recorded {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

fn kept_on_shutdown() -> Recorded {
    Recorded::default()
}

/// Environment variables for one case, as `(name, value)` pairs.
type Vars = &'static [(&'static str, &'static str)];

fn env(vars: Vars) -> TracingConfig {
    TracingConfig::from_lookup(move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

/// One invalid environment: the variable and value `init` must name, and what it must accept.
struct InvalidCase {
    vars: Vars,
    var: &'static str,
    value: &'static str,
    accepted: &'static str,
}

const INVALID: &[InvalidCase] = &[
    InvalidCase {
        vars: &[("TRACING_ENABLED", "maybe")],
        var: "TRACING_ENABLED",
        value: "maybe",
        accepted: "`true`, `1`, `false`, `0`",
    },
    InvalidCase {
        vars: &[("TRACING_ENABLED", "")],
        var: "TRACING_ENABLED",
        value: "",
        accepted: "`true`, `1`, `false`, `0`",
    },
    InvalidCase {
        vars: &[("OTEL_SDK_DISABLED", "yes")],
        var: "OTEL_SDK_DISABLED",
        value: "yes",
        accepted: "`true`, `false`",
    },
    InvalidCase {
        vars: &[("OTEL_SERVICE_NAME", "  ")],
        var: "OTEL_SERVICE_NAME",
        value: "  ",
        accepted: "a non-empty service name",
    },
    InvalidCase {
        vars: &[("OTEL_TRACES_EXPORTER", "zipkin")],
        var: "OTEL_TRACES_EXPORTER",
        value: "zipkin",
        accepted: "`console` or `none`",
    },
    InvalidCase {
        vars: &[("OTEL_TRACES_EXPORTER", "otlp")],
        var: "OTEL_TRACES_EXPORTER",
        value: "otlp",
        accepted: "not available in this version",
    },
];

#[test]
fn every_invalid_environment_value_is_an_error_naming_variable_value_and_accepted_values() {
    let _serial = serial();
    for case in INVALID {
        let error = init(env(case.vars)).expect_err("invalid value must fail init");
        match &error {
            InitError::InvalidEnv { var, value, .. } => {
                assert_eq!((*var, value.as_str()), (case.var, case.value));
            }
            other => panic!("unexpected error for {}: {other:?}", case.var),
        }
        let message = error.to_string();
        assert!(message.contains(case.var), "{message}");
        assert!(message.contains(&format!("{:?}", case.value)), "{message}");
        assert!(message.contains(case.accepted), "{message}");
    }
}

#[test]
fn several_invalid_variables_are_all_reported() {
    let _serial = serial();
    let error = init(env(&[
        ("TRACING_ENABLED", "maybe"),
        ("OTEL_TRACES_EXPORTER", "jaegr"),
    ]))
    .expect_err("two invalid values");
    let InitError::Several(errors) = &error else {
        panic!("expected both errors, got {error:?}");
    };
    assert_eq!(errors.len(), 2);
    let message = error.to_string();
    assert!(message.contains("TRACING_ENABLED") && message.contains("OTEL_TRACES_EXPORTER"));
}

#[traced("load_training_dataset")]
fn load() -> usize {
    event!("dataset_loaded", rows = 3);
    3
}

#[test]
fn disabled_from_the_environment_exports_nothing_and_code_overrides_the_environment() {
    let _serial = serial();
    let exporter = kept_on_shutdown();
    for vars in [
        &[("TRACING_ENABLED", "false")][..],
        &[("OTEL_SDK_DISABLED", "TRUE")][..],
    ] {
        let vars: &'static [(&'static str, &'static str)] =
            Box::leak(vars.to_vec().into_boxed_slice());
        let guard = init(env(vars).span_exporter(exporter.clone())).expect("valid");
        assert!(!guard.is_enabled());
        assert_eq!(load(), 3, "the function behaves as without tracing");
        guard.shutdown().expect("shutdown");
        assert!(exporter.get_finished_spans().unwrap_or_default().is_empty());
    }

    // A builder call after `from_env` wins over the environment.
    let guard = init(
        env(&[("TRACING_ENABLED", "false")])
            .enabled(true)
            .span_exporter(exporter.clone()),
    )
    .expect("valid");
    assert!(guard.is_enabled());
    load();
    guard.shutdown().expect("shutdown");
    let spans = exporter.get_finished_spans().unwrap_or_default();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "load_training_dataset");
}

#[test]
fn init_twice_is_an_error_until_the_first_guard_is_gone() {
    let _serial = serial();
    let first = init(TracingConfig::default().no_exporter()).expect("first init");
    assert_eq!(
        init(TracingConfig::default().no_exporter()).err(),
        Some(InitError::AlreadyInitialized)
    );
    drop(first);
    let again = init(TracingConfig::default().no_exporter()).expect("init after the guard dropped");
    drop(again);
}

#[test]
fn dropping_the_guard_flushes_every_batched_span() {
    let _serial = serial();
    let exporter = kept_on_shutdown();
    let guard = init(
        TracingConfig::default()
            .service_name("maestro-ml-api")
            .span_exporter(exporter.clone()),
    )
    .expect("init");
    for _ in 0..100 {
        load();
    }
    drop(guard);
    assert_eq!(exporter.get_finished_spans().unwrap_or_default().len(), 100);
    assert!(exporter.get_finished_spans().unwrap_or_default()[0]
        .events
        .iter()
        .any(|e| e.name == "dataset_loaded"));
}

/// A `Write` whose bytes a test can read back.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[traced("model_evaluation")]
#[record_errors]
fn evaluate() -> Result<f64, String> {
    Err("accuracy below threshold".into())
}

#[traced("ml_training_pipeline", attrs(model.name = "churn"))]
fn pipeline() {
    span!("data_preprocessing", rows = 10).in_scope(load);
    let _ = evaluate();
}

#[test]
fn console_exporter_prints_each_trace_as_an_indented_tree_with_durations_and_errors() {
    let _serial = serial();
    let out = SharedBuffer::default();
    let guard = init(TracingConfig::default().span_exporter(ConsoleExporter::new(out.clone())))
        .expect("init");
    pipeline();
    guard.shutdown().expect("flush");

    let text = out.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("── trace "), "{text}");
    assert!(lines[1].starts_with("ml_training_pipeline ("), "{text}");
    assert!(lines[1].ends_with("{model.name=\"churn\"}"), "{text}");
    assert!(lines[2].starts_with("├─ data_preprocessing ("), "{text}");
    assert!(
        lines[3].starts_with("│  └─ load_training_dataset ("),
        "{text}"
    );
    assert!(lines[4].contains("• dataset_loaded {rows=3}"), "{text}");
    assert!(lines[5].starts_with("└─ model_evaluation ("), "{text}");
    assert!(
        lines[5].contains("✗ ERROR: accuracy below threshold"),
        "{text}"
    );
    assert!(lines[6].contains("• exception"), "{text}");
    let has_unit = |l: &str| l.contains(" µs)") || l.contains(" ms)") || l.contains(" s)");
    assert!(
        lines[1..=3].iter().all(|l| has_unit(l)),
        "durations shown:\n{text}"
    );
}
