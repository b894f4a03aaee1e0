//! Reading `TracingConfig` from environment variables: every variable a constant, read in one
//! place, and every invalid value an error naming the variable, the value and what is accepted.

use std::time::Duration;

use opentelemetry::KeyValue;

use crate::config::{
    check_endpoint, Exporter, ExporterChoice, JaegerRemoteSampling, OtlpProtocol, OtlpSettings,
    Propagator, Sampling, Setting, TracingConfig, DEFAULT_JAEGER_SAMPLING_ENDPOINT,
    JAEGER_AGENT_PORT, JAEGER_COLLECTOR_PORT,
};
use crate::env_vars as var;
use crate::error::InitError;

impl TracingConfig {
    /// Reads the process environment.
    ///
    /// | variable | accepted | default |
    /// |---|---|---|
    /// | `TRACING_ENABLED` | `true`, `false`, `1`, `0` | `true` |
    /// | `OTEL_SDK_DISABLED` | `true`, `false` | `false` |
    /// | `OTEL_SERVICE_NAME` | a non-empty name | `unknown_service` |
    /// | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,...` (values percent-encoded) | none |
    /// | `OTEL_TRACES_EXPORTER` | `otlp`, `jaeger`, `console`, `none` | `otlp` (see [`TracingConfig::default_exporter`]) |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT` | an `http://` URL (no TLS in this build) | `http://localhost:4317` (gRPC), `:4318` (HTTP) |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` | `grpc`, `http/protobuf` | `grpc` |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` | `key=value,...` | none |
    /// | `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` | milliseconds > 0 | `10000` |
    /// | `JAEGER_AGENT_HOST`, `JAEGER_AGENT_PORT` (or `OTEL_EXPORTER_JAEGER_AGENT_*`) | a host; a port 1-65535 | `localhost`, `6831` |
    /// | `OTEL_EXPORTER_JAEGER_ENDPOINT` | an `http://` URL | none |
    /// | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`, `jaeger_remote`, `parentbased_jaeger_remote` | `parentbased_always_on` |
    /// | `OTEL_TRACES_SAMPLER_ARG` | a ratio from 0 to 1; for Jaeger remote: `endpoint=URL,pollingIntervalMs=N,initialSamplingRate=R` | `1.0`; `http://localhost:5778/sampling`, `60000`, `0.001` |
    /// | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_EXPORT_TIMEOUT` | milliseconds > 0 | `5000`, `30000` |
    /// | `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` | spans > 0, batch ≤ queue | `2048`, `512` |
    /// | `OTEL_PROPAGATORS` | `tracecontext`, `baggage`, `jaeger`, `none` | `tracecontext,baggage` |
    /// | `OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES` | comma-separated W3C baggage keys | none |
    /// | `OTEL_SPAN_{ATTRIBUTE,EVENT,LINK}_COUNT_LIMIT`, `OTEL_{EVENT,LINK}_ATTRIBUTE_COUNT_LIMIT` | counts | `128` |
    /// | `OTEL_(SPAN_)ATTRIBUTE_VALUE_LENGTH_LIMIT` | bytes | no limit |
    ///
    /// With `OTEL_TRACES_EXPORTER` unset, setting `JAEGER_AGENT_HOST` or `JAEGER_AGENT_PORT`
    /// selects the Jaeger transport, as deployments of the Jaeger agent expect: port 14268 is the
    /// collector's Thrift over HTTP, any other port Thrift compact over UDP.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration from `lookup` instead of the process environment: what tests and
    /// embedders use to avoid mutating global state.
    ///
    /// ```
    /// use maestro_trace::TracingConfig;
    ///
    /// let config = TracingConfig::from_lookup(|name| {
    ///     (name == "TRACING_ENABLED").then(|| "false".to_string())
    /// });
    /// let guard = maestro_trace::init(config).expect("valid configuration");
    /// assert!(!guard.is_enabled());
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut env = Env {
            lookup: &lookup,
            errors: Vec::new(),
        };
        let mut config = TracingConfig::default();

        let tracing_enabled = env.bool(var::TRACING_ENABLED, &["true", "1"], &["false", "0"]);
        let sdk_disabled = env.bool(var::OTEL_SDK_DISABLED, &["true"], &["false"]);
        if tracing_enabled == Some(false) || sdk_disabled == Some(true) {
            config.enabled = Some(false);
        } else if tracing_enabled == Some(true) {
            config.enabled = Some(true);
        }

        if let Some(name) = env.get(var::OTEL_SERVICE_NAME) {
            if name.trim().is_empty() {
                env.invalid(var::OTEL_SERVICE_NAME, &name, "a non-empty service name");
            } else {
                config.service_name = Some(name);
            }
        }
        if let Some(pairs) = env.pairs(var::OTEL_RESOURCE_ATTRIBUTES) {
            config.env_resource = pairs
                .into_iter()
                .map(|(key, value)| KeyValue::new(key, value))
                .collect();
        }

        config.exporter = env.exporter().map(ExporterChoice::Builtin);
        config.sampler = env.sampler();

        if let Some(delay) = env.millis(var::OTEL_BSP_SCHEDULE_DELAY) {
            config.batch.scheduled_delay = delay;
        }
        if let Some(timeout) = env.millis(var::OTEL_BSP_EXPORT_TIMEOUT) {
            config.batch.export_timeout = timeout;
        }
        if let Some(size) = env.positive(var::OTEL_BSP_MAX_QUEUE_SIZE) {
            config.batch.max_queue_size = size;
        }
        if let Some(size) = env.positive(var::OTEL_BSP_MAX_EXPORT_BATCH_SIZE) {
            config.batch.max_export_batch_size = size;
        }

        let limits = &mut config.limits;
        for (var, slot) in [
            (
                var::OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
                &mut limits.max_attributes_per_span,
            ),
            (
                var::OTEL_SPAN_EVENT_COUNT_LIMIT,
                &mut limits.max_events_per_span,
            ),
            (
                var::OTEL_SPAN_LINK_COUNT_LIMIT,
                &mut limits.max_links_per_span,
            ),
            (
                var::OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
                &mut limits.max_attributes_per_event,
            ),
            (
                var::OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
                &mut limits.max_attributes_per_link,
            ),
        ] {
            if let Some(count) = env.count(var) {
                *slot = count;
            }
        }
        let value_length = env
            .count(var::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT)
            .or_else(|| env.count(var::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT));
        if let Some(length) = value_length {
            limits.max_attribute_value_length = Some(length as usize);
        }

        config.propagators = env.propagators();
        if let Some(keys) = env.baggage_keys() {
            config.baggage_span_attributes = keys;
        }
        config.env_errors = env.errors;
        config
    }
}

/// The environment being read, and the problems found so far.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<(Setting, InitError)>,
}

impl Env<'_> {
    fn get(&self, var: &str) -> Option<String> {
        (self.lookup)(var)
    }

    fn invalid(&mut self, var: &'static str, value: &str, expected: impl Into<String>) {
        self.errors.push((
            setting_of(var),
            InitError::invalid_env(var, value, expected),
        ));
    }

    fn bool(&mut self, var: &'static str, truthy: &[&str], falsy: &[&str]) -> Option<bool> {
        let raw = self.get(var)?;
        let value = raw.trim().to_ascii_lowercase();
        if truthy.contains(&value.as_str()) {
            Some(true)
        } else if falsy.contains(&value.as_str()) {
            Some(false)
        } else {
            let accepted = truthy
                .iter()
                .chain(falsy)
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ");
            self.invalid(var, &raw, format!("one of {accepted} (any case)"));
            None
        }
    }

    /// An integer from 1 up.
    fn positive(&mut self, var: &'static str) -> Option<usize> {
        let raw = self.get(var)?;
        match raw.trim().parse::<usize>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.invalid(var, &raw, "a whole number greater than 0");
                None
            }
        }
    }

    /// A count limit (0 allowed: record none).
    fn count(&mut self, var: &'static str) -> Option<u32> {
        let raw = self.get(var)?;
        match raw.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.invalid(var, &raw, "a whole number from 0 to 4294967295");
                None
            }
        }
    }

    /// A duration in milliseconds, greater than 0.
    fn millis(&mut self, var: &'static str) -> Option<Duration> {
        let raw = self.get(var)?;
        match raw.trim().parse::<u64>() {
            Ok(ms) if ms > 0 => Some(Duration::from_millis(ms)),
            _ => {
                self.invalid(var, &raw, "a whole number of milliseconds greater than 0");
                None
            }
        }
    }

    fn port(&mut self, var: &'static str) -> Option<u16> {
        let raw = self.get(var)?;
        match raw.trim().parse::<u16>() {
            Ok(port) if port > 0 => Some(port),
            _ => {
                self.invalid(var, &raw, "a port from 1 to 65535");
                None
            }
        }
    }

    /// An endpoint URL, accepted when `check` accepts it (`Err` says what is expected).
    fn endpoint(
        &mut self,
        var: &'static str,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        let raw = self.get(var)?;
        match check(raw.trim()) {
            Ok(()) => Some(raw.trim().to_owned()),
            Err(expected) => {
                self.invalid(var, &raw, expected);
                None
            }
        }
    }

    /// `key=value,key2=value2` with percent-encoded values (W3C baggage style).
    fn pairs(&mut self, var: &'static str) -> Option<Vec<(String, String)>> {
        let raw = self.get(var)?;
        let mut pairs = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed = entry.split_once('=').and_then(|(key, value)| {
                let key = key.trim();
                let value = crate::baggage::percent_decode(value.trim())?;
                (!key.is_empty()).then(|| (key.to_owned(), value))
            });
            match parsed {
                Some(pair) => pairs.push(pair),
                None => {
                    self.invalid(
                        var,
                        &raw,
                        format!(
                            "comma-separated `key=value` pairs with percent-encoded values (`{entry}` is not one)"
                        ),
                    );
                    return None;
                }
            }
        }
        Some(pairs)
    }

    fn exporter(&mut self) -> Option<Exporter> {
        let choice = match self.get(var::OTEL_TRACES_EXPORTER) {
            Some(raw) => {
                let value = raw.trim().to_ascii_lowercase();
                match value.as_str() {
                    "otlp" => Some("otlp"),
                    "jaeger" => Some("jaeger"),
                    "console" => Some("console"),
                    "none" => Some("none"),
                    _ => {
                        let expected = if value.contains(',') {
                            "one exporter: `otlp`, `jaeger`, `console` or `none`"
                        } else {
                            "`otlp`, `jaeger`, `console` or `none`"
                        };
                        self.invalid(var::OTEL_TRACES_EXPORTER, &raw, expected);
                        return None;
                    }
                }
            }
            None => None,
        };
        let jaeger = self.jaeger();
        match choice {
            Some("console") => Some(Exporter::Console),
            Some("none") => Some(Exporter::None),
            Some("otlp") => Some(self.otlp()),
            Some(_) => Some(jaeger.unwrap_or(Exporter::JaegerAgent {
                host: "localhost".to_owned(),
                port: JAEGER_AGENT_PORT,
            })),
            // Deployments of the Jaeger agent set only the agent variables.
            None => match jaeger {
                Some(jaeger) => Some(jaeger),
                None => self.otlp_if_configured(),
            },
        }
    }

    /// The Jaeger transport the Jaeger variables point at, if any is set.
    fn jaeger(&mut self) -> Option<Exporter> {
        if let Some(endpoint) = self.endpoint(
            var::OTEL_EXPORTER_JAEGER_ENDPOINT,
            crate::export::jaeger::check_collector_url,
        ) {
            return Some(Exporter::JaegerCollector { endpoint });
        }
        let host_var = [var::JAEGER_AGENT_HOST, var::OTEL_EXPORTER_JAEGER_AGENT_HOST]
            .into_iter()
            .find(|var| self.get(var).is_some());
        let port_var = [var::JAEGER_AGENT_PORT, var::OTEL_EXPORTER_JAEGER_AGENT_PORT]
            .into_iter()
            .find(|var| self.get(var).is_some());
        if host_var.is_none() && port_var.is_none() {
            return None;
        }
        let host = match host_var.and_then(|var| self.get(var).map(|h| (var, h))) {
            Some((var, host)) if host.trim().is_empty() || host.contains('/') => {
                self.invalid(var, &host, "a host name or IP address, e.g. `jaeger-agent`");
                return None;
            }
            Some((_, host)) => host.trim().to_owned(),
            None => "localhost".to_owned(),
        };
        let port = match port_var {
            Some(var) => self.port(var)?,
            None => JAEGER_AGENT_PORT,
        };
        if port == 6832 {
            let var = port_var.unwrap_or(var::JAEGER_AGENT_PORT);
            self.invalid(
                var,
                "6832",
                "6831 (Thrift compact over UDP) or 14268 (Thrift over HTTP); 6832 is Thrift binary over UDP, which maestro-trace does not send",
            );
            return None;
        }
        Some(if port == JAEGER_COLLECTOR_PORT {
            Exporter::JaegerCollector {
                endpoint: format!("http://{}/api/traces", host_port(&host, port)),
            }
        } else {
            Exporter::JaegerAgent { host, port }
        })
    }

    /// OTLP from the `OTEL_EXPORTER_OTLP_*` variables.
    fn otlp(&mut self) -> Exporter {
        let mut otlp = OtlpSettings::default();
        let protocol = self.protocol(var::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL);
        let protocol = protocol.or_else(|| self.protocol(var::OTEL_EXPORTER_OTLP_PROTOCOL));
        if let Some(protocol) = protocol {
            otlp.protocol = protocol;
        }
        let endpoint = self.endpoint(var::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, http_endpoint);
        otlp.endpoint =
            endpoint.or_else(|| self.endpoint(var::OTEL_EXPORTER_OTLP_ENDPOINT, http_endpoint));
        let headers = self.pairs(var::OTEL_EXPORTER_OTLP_TRACES_HEADERS);
        otlp.headers = headers
            .or_else(|| self.pairs(var::OTEL_EXPORTER_OTLP_HEADERS))
            .unwrap_or_default();
        let timeout = self.millis(var::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT);
        if let Some(timeout) = timeout.or_else(|| self.millis(var::OTEL_EXPORTER_OTLP_TIMEOUT)) {
            otlp.timeout = timeout;
        }
        Exporter::Otlp(otlp)
    }

    /// OTLP when any OTLP variable is set but no exporter was named.
    fn otlp_if_configured(&mut self) -> Option<Exporter> {
        let any = [
            var::OTEL_EXPORTER_OTLP_ENDPOINT,
            var::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
            var::OTEL_EXPORTER_OTLP_PROTOCOL,
            var::OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
            var::OTEL_EXPORTER_OTLP_HEADERS,
            var::OTEL_EXPORTER_OTLP_TRACES_HEADERS,
            var::OTEL_EXPORTER_OTLP_TIMEOUT,
            var::OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
        ]
        .iter()
        .any(|var| self.get(var).is_some());
        any.then(|| self.otlp())
    }

    fn protocol(&mut self, var: &'static str) -> Option<OtlpProtocol> {
        let raw = self.get(var)?;
        match raw.trim().to_ascii_lowercase().as_str() {
            "grpc" => Some(OtlpProtocol::Grpc),
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "http/json" => {
                self.invalid(
                    var,
                    &raw,
                    "`grpc` or `http/protobuf` (Jaeger receives OTLP as protobuf; `http/json` is not sent)",
                );
                None
            }
            _ => {
                self.invalid(var, &raw, "`grpc` or `http/protobuf`");
                None
            }
        }
    }

    fn sampler(&mut self) -> Option<Sampling> {
        let raw = self.get(var::OTEL_TRACES_SAMPLER)?;
        let name = raw.trim().to_ascii_lowercase();
        let ratio = |env: &mut Self| -> Option<f64> {
            match env.get(var::OTEL_TRACES_SAMPLER_ARG) {
                None => Some(1.0),
                Some(arg) => match arg.trim().parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
                    _ => {
                        env.invalid(
                            var::OTEL_TRACES_SAMPLER_ARG,
                            &arg,
                            "a ratio from 0.0 to 1.0, e.g. `0.1` to keep 10% of traces",
                        );
                        None
                    }
                },
            }
        };
        match name.as_str() {
            "always_on" => Some(Sampling::AlwaysOn),
            "always_off" => Some(Sampling::AlwaysOff),
            "traceidratio" => ratio(self).map(Sampling::TraceIdRatio),
            "parentbased_always_on" => Some(Sampling::ParentBased(Box::new(Sampling::AlwaysOn))),
            "parentbased_always_off" => Some(Sampling::ParentBased(Box::new(Sampling::AlwaysOff))),
            "parentbased_traceidratio" => ratio(self).map(Sampling::parent_based_ratio),
            "jaeger_remote" => self.jaeger_remote().map(Sampling::JaegerRemote),
            "parentbased_jaeger_remote" => self
                .jaeger_remote()
                .map(|remote| Sampling::ParentBased(Box::new(Sampling::JaegerRemote(remote)))),
            _ => {
                self.invalid(
                    var::OTEL_TRACES_SAMPLER,
                    &raw,
                    "`always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio`, `jaeger_remote` or `parentbased_jaeger_remote`",
                );
                None
            }
        }
    }

    /// `OTEL_TRACES_SAMPLER_ARG` for Jaeger remote sampling:
    /// `endpoint=URL,pollingIntervalMs=N,initialSamplingRate=R`, each optional.
    fn jaeger_remote(&mut self) -> Option<JaegerRemoteSampling> {
        let mut remote = match Sampling::jaeger_remote(DEFAULT_JAEGER_SAMPLING_ENDPOINT) {
            Sampling::JaegerRemote(remote) => remote,
            _ => return None,
        };
        let Some(raw) = self.get(var::OTEL_TRACES_SAMPLER_ARG) else {
            return Some(remote);
        };
        const EXPECTED: &str = "`endpoint=http://jaeger:5778/sampling,pollingIntervalMs=60000,initialSamplingRate=0.001` (each part optional)";
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let parsed = match part.split_once('=') {
                Some(("endpoint", url)) => check_endpoint(url.trim(), &["http"])
                    .ok()
                    .map(|()| remote.endpoint = url.trim().to_owned()),
                Some(("pollingIntervalMs", ms)) => ms
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .map(|ms| remote.poll_interval = Duration::from_millis(ms)),
                Some(("initialSamplingRate", rate)) => rate
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r))
                    .map(|r| *remote.initial = Sampling::TraceIdRatio(r)),
                _ => None,
            };
            if parsed.is_none() {
                self.invalid(var::OTEL_TRACES_SAMPLER_ARG, &raw, EXPECTED);
                return None;
            }
        }
        Some(remote)
    }

    /// Comma-separated baggage keys (blank items ignored).
    fn baggage_keys(&mut self) -> Option<Vec<String>> {
        let var = var::OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES;
        let raw = self.get(var)?;
        let keys: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = keys.iter().find(|key| !crate::baggage::is_valid_key(key)) {
            self.invalid(
                var,
                &raw,
                format!(
                    "a comma-separated list of W3C baggage keys (`{bad}` is not one: keys are visible ASCII without separators such as `()/:;<=>?@`)"
                ),
            );
            return None;
        }
        Some(keys)
    }

    fn propagators(&mut self) -> Option<Vec<Propagator>> {
        let raw = self.get(var::OTEL_PROPAGATORS)?;
        let mut propagators = Vec::new();
        for name in raw.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            match name.as_str() {
                "tracecontext" => propagators.push(Propagator::TraceContext),
                "baggage" => propagators.push(Propagator::Baggage),
                "jaeger" => propagators.push(Propagator::Jaeger),
                "none" => {}
                _ => {
                    self.invalid(
                        var::OTEL_PROPAGATORS,
                        &raw,
                        format!(
                            "a comma-separated list of `tracecontext`, `baggage`, `jaeger` or `none` (`{name}` is not supported)"
                        ),
                    );
                    return None;
                }
            }
        }
        propagators.dedup();
        Some(propagators)
    }
}

/// The part of the configuration `var` sets.
fn setting_of(var: &str) -> Setting {
    match var {
        var::TRACING_ENABLED | var::OTEL_SDK_DISABLED => Setting::Enabled,
        var::OTEL_SERVICE_NAME => Setting::ServiceName,
        var::OTEL_RESOURCE_ATTRIBUTES => Setting::Resource,
        var::OTEL_TRACES_SAMPLER | var::OTEL_TRACES_SAMPLER_ARG => Setting::Sampling,
        var::OTEL_BSP_SCHEDULE_DELAY
        | var::OTEL_BSP_EXPORT_TIMEOUT
        | var::OTEL_BSP_MAX_QUEUE_SIZE
        | var::OTEL_BSP_MAX_EXPORT_BATCH_SIZE => Setting::Batch,
        var::OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT
        | var::OTEL_SPAN_EVENT_COUNT_LIMIT
        | var::OTEL_SPAN_LINK_COUNT_LIMIT
        | var::OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT
        | var::OTEL_LINK_ATTRIBUTE_COUNT_LIMIT
        | var::OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT
        | var::OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT => Setting::Limits,
        var::OTEL_PROPAGATORS => Setting::Propagators,
        var::OTEL_RUST_BAGGAGE_SPAN_ATTRIBUTES => Setting::BaggageSpanAttributes,
        // `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_*`, `JAEGER_AGENT_*`.
        _ => Setting::Exporter,
    }
}

/// `host:port`, bracketing IPv6 literals.
/// An `http://` endpoint (OTLP; the scheme says TLS or not).
fn http_endpoint(endpoint: &str) -> Result<(), String> {
    check_endpoint(endpoint, &["http"])
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_are_bracketed() {
        assert_eq!(host_port("::1", 14268), "[::1]:14268");
        assert_eq!(host_port("jaeger", 14268), "jaeger:14268");
    }
}
