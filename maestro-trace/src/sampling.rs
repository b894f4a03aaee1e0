//! Building the SDK sampler from [`Sampling`], including Jaeger remote sampling.

use std::future::Future;
use std::pin::Pin;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::trace::Sampler;

use crate::config::Sampling;
use crate::error::InitError;
use crate::runtime::IoRuntime;

/// The SDK's sampler for `sampling`; Jaeger remote sampling polls on the I/O runtime.
pub(crate) fn sampler(
    sampling: &Sampling,
    service_name: &str,
    io_runtime: &mut IoRuntime,
) -> Result<Sampler, InitError> {
    Ok(match sampling {
        Sampling::AlwaysOn => Sampler::AlwaysOn,
        Sampling::AlwaysOff => Sampler::AlwaysOff,
        Sampling::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(*ratio),
        Sampling::ParentBased(root) => {
            Sampler::ParentBased(Box::new(sampler(root, service_name, io_runtime)?))
        }
        Sampling::JaegerRemote(remote) => {
            let initial = sampler(&remote.initial, service_name, io_runtime)?;
            let runtime = io_runtime.get("Jaeger remote sampling")?;
            let _entered = runtime.enter();
            Sampler::jaeger_remote(
                opentelemetry_sdk::runtime::Tokio,
                JaegerSamplingClient(reqwest::Client::new()),
                initial,
                service_name,
            )
            .with_endpoint(remote.endpoint.clone())
            .with_update_interval(remote.poll_interval)
            .build()
            .map_err(|e| InitError::Exporter {
                exporter: "Jaeger remote sampling",
                reason: e.to_string(),
            })?
        }
    })
}

/// The HTTP client the SDK's remote sampler polls with, normalising Jaeger's answer.
///
/// Jaeger v2's sampling endpoint answers with Thrift-style JSON, where the strategy type is a
/// number (`"strategyType": 0`); the SDK only reads the protobuf-JSON spelling
/// (`"PROBABILISTIC"`), fails to parse the number, and would silently keep its initial sampler
/// forever. Numbers are rewritten to names here; any other answer passes through unchanged.
#[derive(Debug)]
struct JaegerSamplingClient(reqwest::Client);

impl HttpClient for JaegerSamplingClient {
    // `HttpClient` is an `#[async_trait]` trait: this is its desugared signature.
    fn send_bytes<'client, 'call>(
        &'client self,
        request: Request<Bytes>,
    ) -> Pin<Box<dyn Future<Output = Result<Response<Bytes>, HttpError>> + Send + 'call>>
    where
        'client: 'call,
        Self: 'call,
    {
        Box::pin(async move {
            let response = self.0.send_bytes(request).await?;
            let (parts, body) = response.into_parts();
            Ok(Response::from_parts(parts, normalize_strategy(body)))
        })
    }
}

/// Rewrites a numeric `strategyType` (Thrift JSON) to its name (protobuf JSON).
fn normalize_strategy(body: Bytes) -> Bytes {
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    let name = match json.get("strategyType").and_then(serde_json::Value::as_u64) {
        Some(0) => "PROBABILISTIC",
        Some(1) => "RATE_LIMITING",
        _ => return body,
    };
    json["strategyType"] = serde_json::Value::from(name);
    serde_json::to_vec(&json).map(Bytes::from).unwrap_or(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(json: &str) -> String {
        String::from_utf8_lossy(&normalize_strategy(Bytes::from(json.to_owned()))).into_owned()
    }

    #[test]
    fn numeric_strategy_types_become_names() {
        assert_eq!(
            normalized(r#"{"strategyType":0,"probabilisticSampling":{"samplingRate":0.5}}"#),
            r#"{"probabilisticSampling":{"samplingRate":0.5},"strategyType":"PROBABILISTIC"}"#
        );
        assert!(normalized(r#"{"strategyType":1}"#).contains(r#""RATE_LIMITING""#));
    }

    #[test]
    fn other_answers_pass_through_unchanged() {
        for body in [
            r#"{"strategyType":"PROBABILISTIC"}"#,
            "not json",
            r#"{"strategyType":7}"#,
        ] {
            assert_eq!(normalized(body), body);
        }
    }
}
