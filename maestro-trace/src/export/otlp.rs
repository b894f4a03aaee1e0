//! OTLP to Jaeger (or any OTLP backend) over gRPC or HTTP/protobuf, via `opentelemetry-otlp`.

use std::collections::HashMap;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};

use crate::config::{OtlpProtocol, OtlpSettings};
use crate::error::InitError;
use crate::runtime::IoRuntime;

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

/// Builds the OTLP exporter; `io_runtime` provides the Tokio runtime a gRPC connection needs
/// (created on first use and owned by the guard).
pub(crate) fn build(
    settings: &OtlpSettings,
    io_runtime: &mut IoRuntime,
) -> Result<opentelemetry_otlp::SpanExporter, InitError> {
    let endpoint = endpoint(settings);
    match settings.protocol {
        OtlpProtocol::Grpc => {
            let failed = |reason: String| InitError::Exporter {
                exporter: "OTLP gRPC",
                reason,
            };
            let mut headers = http::HeaderMap::new();
            for (key, value) in &settings.headers {
                let name = http::HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())
                    .map_err(|_| failed(format!("`{key}` is not a valid header name")))?;
                let value = http::HeaderValue::from_str(value)
                    .map_err(|_| failed(format!("the value of header `{key}` is not valid")))?;
                headers.insert(name, value);
            }
            let runtime = io_runtime.get("OTLP gRPC")?;
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(settings.timeout)
                .with_metadata(
                    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers),
                )
                .build()
                .map_err(|e| failed(e.to_string()))
        }
        OtlpProtocol::HttpProtobuf => {
            let headers: HashMap<String, String> = settings.headers.iter().cloned().collect();
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(endpoint)
                .with_timeout(settings.timeout)
                .with_headers(headers)
                .build()
                .map_err(|e| InitError::Exporter {
                    exporter: "OTLP HTTP",
                    reason: e.to_string(),
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
