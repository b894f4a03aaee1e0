//! An exporter that keeps every span it receives, for tests of pipelines built by `init`.

use std::sync::{Arc, Mutex, PoisonError};

use maestro_trace::sdk::error::OTelSdkResult;
use maestro_trace::sdk::trace::{SpanData, SpanExporter};

/// Keeps what it is handed, even after the pipeline shuts down; clones share one record.
#[derive(Clone, Debug, Default)]
pub struct Recorded(Arc<Mutex<Vec<SpanData>>>);

impl Recorded {
    /// Every span exported so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The names of every span exported so far, in order of export.
    pub fn names(&self) -> Vec<String> {
        self.spans()
            .iter()
            .map(|span| span.name.to_string())
            .collect()
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
