//! OTLP to Jaeger (or any OTLP backend) over gRPC or HTTP/protobuf, via `opentelemetry-otlp`.

use std::collections::HashMap;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use crate::config::{OtlpProtocol, OtlpSettings};
use crate::error::InitError;

/// A built OTLP exporter and, for gRPC, the runtime its connection lives on.
pub(crate) struct OtlpExporter {
    pub(crate) exporter: opentelemetry_otlp::SpanExporter,
    /// gRPC only: a dedicated one-thread Tokio runtime. tonic needs a runtime for its
    /// connection, and using the application's would tie export to it (a current-thread runtime
    /// blocked in shutdown could never flush).
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
}

/// The endpoint to send to: the configured one or the protocol's default; for HTTP,
/// `/v1/traces` is appended to a URL without a path.
pub(crate) fn endpoint(settings: &OtlpSettings) -> String {
    let endpoint = settings
        .endpoint
        .clone()
        .unwrap_or_else(|| settings.protocol.default_endpoint());
    match settings.protocol {
        OtlpProtocol::Grpc => endpoint,
        OtlpProtocol::HttpProtobuf => match reqwest::Url::parse(&endpoint) {
            Ok(url) if url.path() == "/" || url.path().is_empty() => {
                format!("{}/v1/traces", endpoint.trim_end_matches('/'))
            }
            _ => endpoint,
        },
    }
}

pub(crate) fn build(settings: &OtlpSettings) -> Result<OtlpExporter, InitError> {
    let endpoint = endpoint(settings);
    match settings.protocol {
        OtlpProtocol::Grpc => {
            let failed = |reason: String| InitError::Exporter {
                exporter: "OTLP gRPC",
                reason,
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("maestro-trace-otlp")
                .enable_all()
                .build()
                .map_err(|e| failed(format!("no runtime thread for the gRPC connection: {e}")))?;
            let mut headers = http::HeaderMap::new();
            for (key, value) in &settings.headers {
                let name = http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
                    .map_err(|_| failed(format!("`{key}` is not a valid header name")))?;
                let value = http::HeaderValue::from_str(value)
                    .map_err(|_| failed(format!("the value of header `{key}` is not valid")))?;
                headers.insert(name, value);
            }
            let exporter = {
                let _entered = runtime.enter();
                opentelemetry_otlp::SpanExporter::builder()
                    .with_tonic()
                    .with_endpoint(endpoint)
                    .with_timeout(settings.timeout)
                    .with_metadata(
                        opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(
                            headers,
                        ),
                    )
                    .build()
                    .map_err(|e| failed(e.to_string()))?
            };
            Ok(OtlpExporter {
                exporter,
                runtime: Some(runtime),
            })
        }
        OtlpProtocol::HttpProtobuf => {
            let headers: HashMap<String, String> = settings.headers.iter().cloned().collect();
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(endpoint)
                .with_timeout(settings.timeout)
                .with_headers(headers)
                .build()
                .map_err(|e| InitError::Exporter {
                    exporter: "OTLP HTTP",
                    reason: e.to_string(),
                })?;
            Ok(OtlpExporter {
                exporter,
                runtime: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(endpoint: Option<&str>) -> String {
        super::endpoint(&OtlpSettings {
            protocol: OtlpProtocol::HttpProtobuf,
            endpoint: endpoint.map(str::to_owned),
            ..OtlpSettings::default()
        })
    }

    #[test]
    fn http_endpoints_get_the_traces_path_unless_they_have_one() {
        assert_eq!(http(None), "http://localhost:4318/v1/traces");
        assert_eq!(
            http(Some("http://jaeger:4318")),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            http(Some("http://jaeger:4318/")),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            http(Some("http://gw/otlp/v1/traces")),
            "http://gw/otlp/v1/traces"
        );
    }
}
