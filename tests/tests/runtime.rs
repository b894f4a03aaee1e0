//! `init`, `TracingConfig` and the console exporter. `init` owns process-wide state, so every
//! test here takes `SERIAL` first.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use maestro_trace::export::ConsoleExporter;
use maestro_trace_tests::recording::Recorded;
use std::time::Duration;

use maestro_trace::{
    event, init, record_errors, span, traced, BatchSettings, Exporter, InitError,
    JaegerRemoteSampling, OtlpProtocol, OtlpSettings, Propagator, Sampling, TracingConfig,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
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

/// One invalid environment: the variable and value `init` must name, and a fragment of what it
/// must say is accepted.
struct InvalidCase {
    vars: Vars,
    var: &'static str,
    value: &'static str,
    accepted: &'static str,
}

const fn case(
    vars: Vars,
    var: &'static str,
    value: &'static str,
    accepted: &'static str,
) -> InvalidCase {
    InvalidCase {
        vars,
        var,
        value,
        accepted,
    }
}

/// Every variable `from_env` reads, with a value it must refuse.
const INVALID: &[InvalidCase] = &[
    case(
        &[("TRACING_ENABLED", "maybe")],
        "TRACING_ENABLED",
        "maybe",
        "`true`, `1`, `false`, `0`",
    ),
    case(
        &[("TRACING_ENABLED", "")],
        "TRACING_ENABLED",
        "",
        "`true`, `1`, `false`, `0`",
    ),
    case(
        &[("OTEL_SDK_DISABLED", "yes")],
        "OTEL_SDK_DISABLED",
        "yes",
        "`true`, `false`",
    ),
    case(
        &[("OTEL_SERVICE_NAME", "  ")],
        "OTEL_SERVICE_NAME",
        "  ",
        "a non-empty service name",
    ),
    case(
        &[("OTEL_RESOURCE_ATTRIBUTES", "region")],
        "OTEL_RESOURCE_ATTRIBUTES",
        "region",
        "`key=value` pairs",
    ),
    case(
        &[("OTEL_RESOURCE_ATTRIBUTES", "a=%zz")],
        "OTEL_RESOURCE_ATTRIBUTES",
        "a=%zz",
        "percent-encoded",
    ),
    case(
        &[("OTEL_TRACES_EXPORTER", "zipkin")],
        "OTEL_TRACES_EXPORTER",
        "zipkin",
        "`otlp`, `jaeger`, `console` or `none`",
    ),
    case(
        &[("OTEL_TRACES_EXPORTER", "otlp,console")],
        "OTEL_TRACES_EXPORTER",
        "otlp,console",
        "one exporter",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")],
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "not a url",
        "absolute `http://` URL",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317")],
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://collector:4317",
        "no TLS",
    ),
    case(
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://jaeger"),
        ],
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "ftp://jaeger",
        "absolute `http://` URL",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "http/json",
        "`grpc` or `http/protobuf`",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift")],
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "thrift",
        "`grpc` or `http/protobuf`",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_HEADERS", "authorization")],
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization",
        "`key=value` pairs",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "=x")],
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "=x",
        "`key=value` pairs",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_TIMEOUT", "-5")],
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "-5",
        "milliseconds greater than 0",
    ),
    case(
        &[("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s")],
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "10s",
        "milliseconds greater than 0",
    ),
    case(
        &[("JAEGER_AGENT_HOST", " ")],
        "JAEGER_AGENT_HOST",
        " ",
        "a host name or IP address",
    ),
    case(
        &[("JAEGER_AGENT_PORT", "70000")],
        "JAEGER_AGENT_PORT",
        "70000",
        "a port from 1 to 65535",
    ),
    case(
        &[("JAEGER_AGENT_PORT", "6832")],
        "JAEGER_AGENT_PORT",
        "6832",
        "6831 (Thrift compact over UDP) or 14268",
    ),
    case(
        &[("OTEL_EXPORTER_JAEGER_AGENT_HOST", "http://jaeger")],
        "OTEL_EXPORTER_JAEGER_AGENT_HOST",
        "http://jaeger",
        "a host name or IP address",
    ),
    case(
        &[("OTEL_EXPORTER_JAEGER_AGENT_PORT", "0")],
        "OTEL_EXPORTER_JAEGER_AGENT_PORT",
        "0",
        "a port from 1 to 65535",
    ),
    // Checked by the collector exporter's own rule, in the environment as in code.
    case(
        &[("OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger:14268")],
        "OTEL_EXPORTER_JAEGER_ENDPOINT",
        "jaeger:14268",
        "an `http://` URL with a host, e.g. `http://jaeger:14268/api/traces`",
    ),
    case(
        &[("OTEL_EXPORTER_JAEGER_ENDPOINT", "http://:14268/api/traces")],
        "OTEL_EXPORTER_JAEGER_ENDPOINT",
        "http://:14268/api/traces",
        "an `http://` URL with a host, e.g. `http://jaeger:14268/api/traces`",
    ),
    case(
        &[("OTEL_TRACES_SAMPLER", "sometimes")],
        "OTEL_TRACES_SAMPLER",
        "sometimes",
        "`parentbased_traceidratio`",
    ),
    case(
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2.0"),
        ],
        "OTEL_TRACES_SAMPLER_ARG",
        "2.0",
        "a ratio from 0.0 to 1.0",
    ),
    case(
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "ten percent"),
        ],
        "OTEL_TRACES_SAMPLER_ARG",
        "ten percent",
        "a ratio from 0.0 to 1.0",
    ),
    case(
        &[
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", "endpoint=jaeger:5778"),
        ],
        "OTEL_TRACES_SAMPLER_ARG",
        "endpoint=jaeger:5778",
        "`endpoint=http://jaeger:5778/sampling",
    ),
    case(
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", "pollingIntervalMs=0"),
        ],
        "OTEL_TRACES_SAMPLER_ARG",
        "pollingIntervalMs=0",
        "pollingIntervalMs=60000",
    ),
    case(
        &[
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
            ("OTEL_TRACES_SAMPLER_ARG", "initialSamplingRate=1.5"),
        ],
        "OTEL_TRACES_SAMPLER_ARG",
        "initialSamplingRate=1.5",
        "initialSamplingRate=0.001",
    ),
    case(
        &[("OTEL_BSP_SCHEDULE_DELAY", "0")],
        "OTEL_BSP_SCHEDULE_DELAY",
        "0",
        "milliseconds greater than 0",
    ),
    case(
        &[("OTEL_BSP_EXPORT_TIMEOUT", "soon")],
        "OTEL_BSP_EXPORT_TIMEOUT",
        "soon",
        "milliseconds greater than 0",
    ),
    case(
        &[("OTEL_BSP_MAX_QUEUE_SIZE", "-1")],
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "-1",
        "greater than 0",
    ),
    case(
        &[("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0")],
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "0",
        "greater than 0",
    ),
    case(
        &[("OTEL_PROPAGATORS", "tracecontext,b3")],
        "OTEL_PROPAGATORS",
        "tracecontext,b3",
        "`b3` is not supported",
    ),
    case(
        &[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many")],
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "many",
        "a whole number",
    ),
    case(
        &[("OTEL_SPAN_EVENT_COUNT_LIMIT", "-1")],
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "-1",
        "a whole number",
    ),
    case(
        &[("OTEL_SPAN_LINK_COUNT_LIMIT", "1e3")],
        "OTEL_SPAN_LINK_COUNT_LIMIT",
        "1e3",
        "a whole number",
    ),
    case(
        &[("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "x")],
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "x",
        "a whole number",
    ),
    case(
        &[("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "x")],
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
        "x",
        "a whole number",
    ),
    case(
        &[("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4k")],
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "4k",
        "a whole number",
    ),
    case(
        &[("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-10")],
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "-10",
        "a whole number",
    ),
];

#[test]
fn every_invalid_environment_value_is_an_error_naming_variable_value_and_accepted_values() {
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
        assert!(message.contains(case.accepted), "{}: {message}", case.var);
    }
}

#[test]
fn invalid_values_set_in_code_are_errors_too() {
    let cases = [
        (TracingConfig::default().sample_ratio(2.0), "sample ratio"),
        (
            TracingConfig::default().batch_queue_size(0),
            "batch_queue_size",
        ),
        (
            TracingConfig::default()
                .batch_queue_size(100)
                .batch_size(512),
            "batch_size",
        ),
        (
            TracingConfig::default().batch_delay(Duration::ZERO),
            "batch_delay",
        ),
        (
            TracingConfig::default().export_timeout(Duration::ZERO),
            "export_timeout",
        ),
        (
            TracingConfig::default().exporter(Exporter::otlp_grpc("localhost:4317")),
            "OTLP endpoint",
        ),
        (
            TracingConfig::default().exporter(Exporter::JaegerAgent {
                host: "jaeger".into(),
                port: 0,
            }),
            "Jaeger agent port",
        ),
        (
            TracingConfig::default().exporter(Exporter::JaegerCollector {
                endpoint: "https://j/api/traces".into(),
            }),
            "Jaeger collector endpoint",
        ),
    ];
    for (config, setting) in cases {
        let error = init(config).expect_err("invalid code value must fail init");
        assert!(
            matches!(&error, InitError::InvalidConfig { setting: s, .. } if *s == setting),
            "{setting}: {error:?}"
        );
    }
}

fn lookup(vars: Vars) -> TracingConfig {
    env(vars)
}

#[test]
fn precedence_between_code_environment_and_defaults() {
    // Code after `from_env` wins over the environment.
    let config = lookup(&[("OTEL_SERVICE_NAME", "from-env")]).service_name("from-code");
    assert_eq!(config.effective_service_name().as_deref(), Ok("from-code"));
    // OTEL_SERVICE_NAME wins over service.name inside OTEL_RESOURCE_ATTRIBUTES.
    let config = lookup(&[
        ("OTEL_SERVICE_NAME", "named"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr"),
    ]);
    assert_eq!(config.effective_service_name().as_deref(), Ok("named"));
    assert_eq!(
        lookup(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr")])
            .effective_service_name()
            .as_deref(),
        Ok("attr")
    );
    assert_eq!(
        lookup(&[]).effective_service_name().as_deref(),
        Ok("unknown_service")
    );

    // The default exporter yields to the environment, a code exporter does not.
    let env_console = &[("OTEL_TRACES_EXPORTER", "console")][..];
    assert_eq!(
        lookup(&[])
            .default_exporter(Exporter::None)
            .effective_exporter(),
        Ok(Some(Exporter::None))
    );
    assert_eq!(
        env(env_console)
            .default_exporter(Exporter::None)
            .effective_exporter(),
        Ok(Some(Exporter::Console))
    );
    assert_eq!(
        env(env_console)
            .exporter(Exporter::None)
            .effective_exporter(),
        Ok(Some(Exporter::None))
    );
    // Nothing configured: OTLP gRPC to localhost, the OpenTelemetry default.
    assert_eq!(
        lookup(&[]).effective_exporter(),
        Ok(Some(Exporter::Otlp(OtlpSettings::default())))
    );

    // The Jaeger agent variables alone select Jaeger's transports.
    assert_eq!(
        lookup(&[("JAEGER_AGENT_HOST", "jaeger-agent")]).effective_exporter(),
        Ok(Some(Exporter::JaegerAgent {
            host: "jaeger-agent".into(),
            port: 6831
        }))
    );
    assert_eq!(
        lookup(&[
            ("JAEGER_AGENT_HOST", "jaeger"),
            ("JAEGER_AGENT_PORT", "14268")
        ])
        .effective_exporter(),
        Ok(Some(Exporter::JaegerCollector {
            endpoint: "http://jaeger:14268/api/traces".into()
        }))
    );
    assert_eq!(
        lookup(&[("OTEL_TRACES_EXPORTER", "jaeger")]).effective_exporter(),
        Ok(Some(Exporter::JaegerAgent {
            host: "localhost".into(),
            port: 6831
        }))
    );

    // Signal-specific OTLP variables win over the generic ones.
    let Ok(Some(Exporter::Otlp(otlp))) = lookup(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://traces:4318/v1/traces",
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=generic"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=tenant%20123"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2500"),
    ])
    .effective_exporter() else {
        panic!("OTLP variables select OTLP");
    };
    assert_eq!(
        otlp.endpoint.as_deref(),
        Some("http://traces:4318/v1/traces")
    );
    assert_eq!(otlp.protocol, OtlpProtocol::HttpProtobuf);
    assert_eq!(
        otlp.headers,
        vec![("x-tenant".to_owned(), "tenant 123".to_owned())]
    );
    assert_eq!(otlp.timeout, Duration::from_millis(2500));

    // Sampling, batching, limits and propagators from the environment.
    let config = lookup(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "2000"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "64"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1024"),
        ("OTEL_PROPAGATORS", "tracecontext,jaeger"),
    ]);
    assert_eq!(
        config.effective_sampling(),
        Ok(Sampling::parent_based_ratio(0.1))
    );
    assert_eq!(
        config.effective_batch(),
        Ok(BatchSettings {
            max_queue_size: 4096,
            scheduled_delay: Duration::from_millis(250),
            max_export_batch_size: 256,
            export_timeout: Duration::from_millis(2000),
        })
    );
    let limits = config.effective_span_limits().expect("valid limits");
    assert_eq!(limits.max_attributes_per_span, 64);
    assert_eq!(limits.max_attribute_value_length, Some(1024));
    assert_eq!(
        config.effective_propagators(),
        Ok(vec![Propagator::TraceContext, Propagator::Jaeger])
    );
    // Jaeger remote sampling from the environment, with the OpenTelemetry defaults filled in.
    assert_eq!(
        lookup(&[
            ("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote"),
            (
                "OTEL_TRACES_SAMPLER_ARG",
                "endpoint=http://jaeger:5778/sampling,initialSamplingRate=0.25"
            ),
        ])
        .effective_sampling(),
        Ok(Sampling::ParentBased(Box::new(Sampling::JaegerRemote(
            JaegerRemoteSampling {
                endpoint: "http://jaeger:5778/sampling".into(),
                poll_interval: Duration::from_secs(60),
                initial: Box::new(Sampling::TraceIdRatio(0.25)),
            }
        ))))
    );
    assert_eq!(
        lookup(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]).effective_sampling(),
        Ok(Sampling::jaeger_remote("http://localhost:5778/sampling"))
    );

    // Defaults: the OpenTelemetry specification's batch values, parent-based always-on, W3C
    // propagation.
    let defaults = lookup(&[]);
    assert_eq!(defaults.effective_batch(), Ok(BatchSettings::default()));
    assert_eq!(BatchSettings::default().max_queue_size, 2048);
    assert_eq!(BatchSettings::default().max_export_batch_size, 512);
    assert_eq!(
        BatchSettings::default().scheduled_delay,
        Duration::from_secs(5)
    );
    assert_eq!(
        defaults.effective_propagators(),
        Ok(vec![Propagator::TraceContext, Propagator::Baggage])
    );
}

#[test]
fn effective_settings_name_an_invalid_variable_instead_of_showing_its_default() {
    let invalid = |result: Result<(), InitError>, var: &str, value: &str, accepted: &str| {
        let Err(InitError::InvalidEnv {
            var: found,
            value: found_value,
            expected,
        }) = &result
        else {
            panic!("{var}={value}: expected an InvalidEnv error, got {result:?}");
        };
        assert_eq!((*found, found_value.as_str()), (var, value));
        assert!(expected.contains(accepted), "{var}: {expected}");
    };
    let config = lookup(&[
        ("OTEL_TRACES_EXPORTER", "jaegr"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "-1"),
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_SERVICE_NAME", " "),
    ]);
    for (result, var, value, accepted) in [
        (
            config.effective_exporter().map(drop),
            "OTEL_TRACES_EXPORTER",
            "jaegr",
            "`otlp`, `jaeger`, `console` or `none`",
        ),
        (
            config.effective_sampling().map(drop),
            "OTEL_TRACES_SAMPLER",
            "sometimes",
            "`parentbased_traceidratio`",
        ),
        (
            config.effective_batch().map(drop),
            "OTEL_BSP_MAX_QUEUE_SIZE",
            "lots",
            "a whole number greater than 0",
        ),
        (
            config.effective_span_limits().map(drop),
            "OTEL_SPAN_EVENT_COUNT_LIMIT",
            "-1",
            "a whole number from 0",
        ),
        (
            config.effective_propagators().map(drop),
            "OTEL_PROPAGATORS",
            "b3",
            "`tracecontext`, `baggage`, `jaeger` or `none`",
        ),
        (
            config.effective_service_name().map(drop),
            "OTEL_SERVICE_NAME",
            " ",
            "a non-empty service name",
        ),
    ] {
        invalid(result, var, value, accepted);
    }

    // Each accessor reports the problems of its own setting only.
    let one_bad = lookup(&[("OTEL_BSP_EXPORT_TIMEOUT", "soon")]);
    assert!(one_bad.effective_batch().is_err());
    assert_eq!(
        one_bad.effective_service_name().as_deref(),
        Ok("unknown_service")
    );
    // An invalid resource attribute list may hide `service.name`: the name is not known either.
    let bad_resource = lookup(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name")]);
    invalid(
        bad_resource.effective_service_name().map(drop),
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name",
        "`key=value` pairs",
    );
    // Values set in code are checked the same way.
    let code = TracingConfig::default().sample_ratio(2.0);
    assert!(
        matches!(
            code.effective_sampling(),
            Err(InitError::InvalidConfig {
                setting: "sample ratio",
                ..
            })
        ),
        "{:?}",
        code.effective_sampling()
    );
}

#[test]
fn main_returning_the_init_error_prints_its_message_not_a_struct() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_init_from_main"))
        .env_clear()
        .env("OTEL_TRACES_SAMPLER", "sometimes")
        .output()
        .expect("the program runs");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "Error: invalid OTEL_TRACES_SAMPLER=\"sometimes\": expected `always_on`, `always_off`, \
         `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, \
         `parentbased_traceidratio`, `jaeger_remote` or `parentbased_jaeger_remote`\n"
    );
    assert!(output.stdout.is_empty(), "{output:?}");

    // The same program with a valid environment runs.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_init_from_main"))
        .env_clear()
        .env("OTEL_TRACES_EXPORTER", "none")
        .output()
        .expect("the program runs");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "tracing is set up\n"
    );
}

#[test]
fn init_errors_keep_a_structured_debug_form() {
    let error = InitError::InvalidEnv {
        var: "OTEL_BSP_MAX_QUEUE_SIZE",
        value: "lots".into(),
        expected: "a whole number greater than 0".into(),
    };
    assert_eq!(format!("{error:?}"), error.to_string());
    assert_eq!(
        format!("{error:#?}"),
        "InvalidEnv {\n    var: \"OTEL_BSP_MAX_QUEUE_SIZE\",\n    value: \"lots\",\n    \
         expected: \"a whole number greater than 0\",\n}"
    );
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
    let exporter = Recorded::default();
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
        assert!(exporter.spans().is_empty());
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
    let spans = exporter.spans();
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
    let exporter = Recorded::default();
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
    assert_eq!(exporter.spans().len(), 100);
    assert!(exporter.spans()[0]
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

/// A pipeline exporting into a recorder, with `limits`.
fn init_with_limits(limits: maestro_trace::SpanLimits) -> (Recorded, maestro_trace::TracingGuard) {
    let exporter = Recorded::default();
    let guard = init(
        TracingConfig::default()
            .span_exporter(exporter.clone())
            .span_limits(limits),
    )
    .expect("init");
    (exporter, guard)
}

#[test]
fn span_limits_cap_attributes_and_events_and_truncate_long_values() {
    let _serial = serial();
    let (exporter, guard) = init_with_limits(maestro_trace::SpanLimits {
        max_attributes_per_span: 3,
        max_events_per_span: 2,
        max_attribute_value_length: Some(8),
        ..maestro_trace::SpanLimits::default()
    });
    span!(
        "generate_completion",
        prompt = "tell me everything about tracing",
        tags = vec!["observability-first", "ok"],
        tokens = 4096,
        model = "llama",
        temperature = 0.7
    )
    .in_scope(|| {
        for step in 0..5 {
            event!(
                "token_batch",
                step = step,
                text = "a long generated passage"
            );
        }
    });
    guard.shutdown().expect("flush");

    let spans = exporter.spans();
    let span = &spans[0];
    assert_eq!(
        span.attributes.len(),
        3,
        "capped at 3: {:?}",
        span.attributes
    );
    assert_eq!(span.dropped_attributes_count, 2);
    assert_eq!(
        span.attributes[0].value,
        "tell me ".into(),
        "truncated, not rejected"
    );
    assert_eq!(
        span.attributes[1].value,
        maestro_trace::otel::Value::Array(maestro_trace::otel::Array::String(vec![
            "observab".into(),
            "ok".into()
        ]))
    );
    assert_eq!(
        span.attributes[2].value,
        4096_i64.into(),
        "numbers untouched"
    );
    assert_eq!(span.events.len(), 2, "events capped at 2");
    assert_eq!(span.events.dropped_count, 3);
    assert_eq!(span.events[0].attributes[1].value, "a long g".into());
}

/// How many of `spans` sibling spans reach the exporter through `config`, counted after the
/// shutdown; `init` and the shutdown must succeed (`case` names the settings if not).
fn exported_of(config: TracingConfig, spans: usize, case: &str) -> usize {
    let exporter = Recorded::default();
    let guard = init(config.span_exporter(exporter.clone()))
        .unwrap_or_else(|e| panic!("{case}: init: {e}"));
    for _ in 0..spans {
        span!("sibling").in_scope(|| {});
    }
    guard
        .shutdown()
        .unwrap_or_else(|e| panic!("{case}: shutdown: {e}"));
    exporter.spans().len()
}

/// Export batches larger than a thread's ring (8,192 spans) are valid settings: `init` takes
/// them, and every span still reaches the exporter (it panicked for batches above 4,096), with
/// memory for the spans that come, not for the batch size (2^40 spans would not fit).
#[test]
fn batches_larger_than_a_threads_ring_are_accepted_and_deliver_every_span() {
    let _serial = serial();
    let huge = 1 << 40;
    for (queue, batch) in [
        (16_384, 8_192),
        (100_000, 100_000),
        (9_000, 4_097),
        (huge, huge),
    ] {
        let case = format!("queue {queue}, batch {batch}");
        let config = TracingConfig::default()
            .batch_queue_size(queue)
            .batch_size(batch);
        assert_eq!(exported_of(config, 10_000, &case), 10_000, "{case}");
    }
}

/// The server span of one request through `TracingMiddleware` under `limits`.
fn server_span_under(limits: maestro_trace::SpanLimits) -> maestro_trace::sdk::trace::SpanData {
    use actix_web::{test, web, App, HttpResponse};
    let (exporter, guard) = init_with_limits(limits);
    actix_web::rt::System::new().block_on(async {
        let app = App::new()
            .wrap(maestro_trace::TracingMiddleware::default())
            .route("/models/{id}", web::get().to(HttpResponse::Ok));
        let service = test::init_service(app).await;
        let request = test::TestRequest::get()
            .uri("/models/bert?version=2")
            .insert_header(("user-agent", "maestro-client/1.0"))
            .peer_addr("10.1.2.3:5555".parse().expect("addr"))
            .to_request();
        test::call_and_read_body(&service, request).await;
    });
    guard.shutdown().expect("flush");
    let mut spans = exporter.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans.remove(0)
}

#[test]
fn the_middlewares_attributes_count_against_the_span_limit_in_their_order() {
    let _serial = serial();
    let all = server_span_under(maestro_trace::SpanLimits::default());
    assert_eq!(all.dropped_attributes_count, 0);
    assert!(all.attributes.len() > 3, "{:?}", all.attributes);
    let capped = server_span_under(maestro_trace::SpanLimits {
        max_attributes_per_span: 3,
        ..maestro_trace::SpanLimits::default()
    });
    // The first three as they were recorded (the request's, at the start), the rest (the
    // request's others, the route and the status, set later) counted as dropped.
    assert_eq!(capped.attributes, all.attributes[..3]);
    assert_eq!(
        capped.dropped_attributes_count as usize,
        all.attributes.len() - 3
    );
    assert_eq!(capped.name, all.name);
}

#[test]
fn spans_of_the_raw_api_are_truncated_by_the_same_limit() {
    use maestro_trace::otel::trace::{Span as _, Tracer as _};
    let _serial = serial();
    let (exporter, guard) = init_with_limits(maestro_trace::SpanLimits {
        max_attribute_value_length: Some(8),
        ..maestro_trace::SpanLimits::default()
    });
    let tracer = maestro_trace::otel::global::tracer("raw");
    let mut raw = tracer.start("raw_call");
    raw.set_attribute(maestro_trace::otel::KeyValue::new(
        "prompt",
        "tell me everything about tracing",
    ));
    raw.add_event(
        "chunk",
        vec![maestro_trace::otel::KeyValue::new(
            "text",
            "a long generated passage",
        )],
    );
    raw.end();
    guard.shutdown().expect("flush");

    let spans = exporter.spans();
    let raw = spans
        .iter()
        .find(|s| s.name == "raw_call")
        .expect("the raw span");
    assert_eq!(
        raw.instrumentation_scope.name(),
        "raw",
        "the raw tracer's scope, kept"
    );
    assert_eq!(raw.attributes[0].value, "tell me ".into());
    assert_eq!(raw.events[0].attributes[0].value, "a long g".into());
}

/// The headers the global propagator writes for the current span.
fn injected_headers() -> std::collections::HashMap<String, String> {
    let mut headers = std::collections::HashMap::new();
    maestro_trace::otel::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&maestro_trace::otel::Context::current(), &mut headers);
    });
    headers
}

#[test]
fn init_installs_the_configured_propagators_globally() {
    let _serial = serial();
    let guard = init(TracingConfig::default().no_exporter()).expect("init");
    let headers = span!("call_model_registry").in_scope(injected_headers);
    assert!(
        headers.contains_key("traceparent"),
        "W3C by default: {headers:?}"
    );
    assert!(!headers.contains_key("uber-trace-id"));
    drop(guard);

    let guard = init(
        TracingConfig::default()
            .no_exporter()
            .propagators([maestro_trace::Propagator::Jaeger]),
    )
    .expect("init");
    let headers = span!("call_model_registry").in_scope(injected_headers);
    assert!(headers.contains_key("uber-trace-id"), "{headers:?}");
    assert!(
        !headers.contains_key("traceparent"),
        "only what was asked for"
    );
    drop(guard);
}

#[test]
fn baggage_attributes_count_against_the_span_limit_after_the_spans_own() {
    let _serial = serial();
    let exporter = Recorded::default();
    let guard = init(
        TracingConfig::default()
            .span_exporter(exporter.clone())
            .span_limits(maestro_trace::SpanLimits {
                max_attributes_per_span: 2,
                ..maestro_trace::SpanLimits::default()
            })
            .baggage_span_attributes(["tenant.id"]),
    )
    .expect("init");
    maestro_trace::baggage::with(&[("tenant.id", "tenant-123")], || {
        span!("fits", model = "bert").in_scope(|| {});
        span!("full", model = "bert", version = 3).in_scope(|| {});
    })
    .expect("valid baggage");
    guard.shutdown().expect("flush");

    let spans = exporter.spans();
    let span = |name: &str| match spans.iter().find(|s| s.name == name) {
        Some(span) => span,
        None => panic!("no span {name} in {spans:?}"),
    };
    let keys = |name: &str| -> Vec<String> {
        span(name)
            .attributes
            .iter()
            .map(|kv| kv.key.to_string())
            .collect()
    };
    // The span's own attributes first, then the baggage entry while there is room.
    assert_eq!(keys("fits"), ["model", "tenant.id"]);
    assert_eq!(span("fits").dropped_attributes_count, 0);
    // No room left: the baggage entry is the one dropped, and counted.
    assert_eq!(keys("full"), ["model", "version"]);
    assert_eq!(span("full").dropped_attributes_count, 1);
}

/// A delay or a timeout too long for the clock (`Duration::MAX`) means "never": the spans are
/// still delivered at shutdown (the batching thread died on such a delay, losing them all).
#[test]
fn durations_past_the_clocks_range_mean_never_and_lose_nothing() {
    let _serial = serial();
    for (delay, timeout) in [
        (Duration::MAX, Duration::from_secs(30)),
        (Duration::from_secs(5), Duration::MAX),
        (Duration::MAX, Duration::MAX),
    ] {
        let case = format!("delay {delay:?}, timeout {timeout:?}");
        let config = TracingConfig::default()
            .batch_delay(delay)
            .export_timeout(timeout);
        assert_eq!(exported_of(config, 600, &case), 600, "{case}");
    }
}
