//! A span exporter that keeps everything it is given, through shutdown: for tests of a pipeline
//! built by `init` (whose guard shuts the exporter down before the test reads what arrived).

use std::sync::{Arc, Mutex, PoisonError};

use maestro_trace::sdk::error::OTelSdkResult;
use maestro_trace::sdk::trace::{SpanData, SpanExporter};

/// Every span exported to it, in order; clones share the record.
#[derive(Clone, Debug, Default)]
pub struct Recording(Arc<Mutex<Vec<SpanData>>>);

impl Recording {
    /// The spans exported so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl SpanExporter for Recording {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}
