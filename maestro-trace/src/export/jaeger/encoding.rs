//! What both transports share: spans encoded one by one and grouped into frames of a bounded
//! size, the process encoded once per resource, and one error for everything an export hit.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use super::model;
use super::thrift::{Frame, TooLong};

/// The process of `resource`, encoded once per resource rather than once per export.
pub(super) fn encode_process<F: Frame>(resource: &Resource) -> Result<Vec<u8>, String> {
    F::encode(&model::process(resource))
        .map_err(|e| format!("the resource cannot be sent as a jaeger process: {e}"))
}

/// Spans encoded one by one, to be spliced into frames of a bounded size.
pub(super) struct EncodedSpans {
    pub(super) spans: Vec<Vec<u8>>,
    /// Spans left out because even alone they do not fit: (name, encoded size).
    pub(super) too_large: Vec<(String, Option<usize>)>,
}

impl EncodedSpans {
    /// Encodes each span; one larger than `budget` is left out when `drop_oversized`, else it
    /// is kept to travel alone.
    pub(super) fn new<F: Frame>(batch: &[SpanData], budget: usize, drop_oversized: bool) -> Self {
        let mut spans = Vec::with_capacity(batch.len());
        let mut too_large = Vec::new();
        for data in batch {
            match F::encode(&model::span(data)) {
                Ok(bytes) if bytes.len() <= budget || !drop_oversized => spans.push(bytes),
                Ok(bytes) => too_large.push((data.name.to_string(), Some(bytes.len()))),
                Err(TooLong) => too_large.push((data.name.to_string(), None)),
            }
        }
        EncodedSpans { spans, too_large }
    }

    /// Consecutive runs of spans whose sizes add up to at most `budget` (a span larger than
    /// the budget makes a run of its own).
    pub(super) fn groups(&self, budget: usize) -> Vec<Vec<&[u8]>> {
        let mut groups = Vec::new();
        let mut current: Vec<&[u8]> = Vec::new();
        let mut size = 0;
        for span in &self.spans {
            if !current.is_empty() && size + span.len() > budget {
                groups.push(std::mem::take(&mut current));
                size = 0;
            }
            size += span.len();
            current.push(span);
        }
        if !current.is_empty() {
            groups.push(current);
        }
        groups
    }
}

/// Collects what went wrong in one export into a single `InternalFailure`.
#[derive(Default)]
pub(super) struct ExportProblems(Vec<String>);

impl ExportProblems {
    pub(super) fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    pub(super) fn into_result(self) -> OTelSdkResult {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(self.0.join("; ")))
        }
    }
}

/// Whether an exporter has been shut down: exports after that are refused.
#[derive(Debug, Default)]
pub(super) struct ShutDown(AtomicBool);

impl ShutDown {
    /// `Err(AlreadyShutdown)` once [`ShutDown::set`] has been called.
    pub(super) fn check(&self) -> OTelSdkResult {
        if self.0.load(Ordering::Acquire) {
            Err(OTelSdkError::AlreadyShutdown)
        } else {
            Ok(())
        }
    }

    pub(super) fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
pub(in crate::export::jaeger) mod tests {
    use opentelemetry::KeyValue;

    use super::*;

    pub(in crate::export::jaeger) fn span_named(
        name: &'static str,
        attributes: Vec<KeyValue>,
    ) -> SpanData {
        let mut span = model::tests::span_data();
        span.name = name.into();
        span.attributes = attributes;
        span
    }

    /// Runs an exporter's future, which completes on its first poll (the exporters never wait
    /// on anything but the calling thread), outside any async runtime.
    pub(in crate::export::jaeger) fn block_on(
        future: impl std::future::Future<Output = OTelSdkResult>,
    ) -> OTelSdkResult {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("the exporter's future did not complete"),
        }
    }

    #[test]
    fn groups_fill_up_to_the_budget_in_order() {
        let encoded = EncodedSpans {
            spans: vec![vec![0; 3], vec![1; 4], vec![2; 10], vec![3; 1], vec![4; 6]],
            too_large: Vec::new(),
        };
        let sizes: Vec<Vec<usize>> = encoded
            .groups(7)
            .iter()
            .map(|g| g.iter().map(|s| s.len()).collect())
            .collect();
        assert_eq!(sizes, [vec![3, 4], vec![10], vec![1, 6]]);
        let none = EncodedSpans {
            spans: Vec::new(),
            too_large: Vec::new(),
        };
        assert!(none.groups(7).is_empty());
    }
}
