//! The I/O runtime: a one-thread Tokio runtime of our own for what needs one (tonic's gRPC
//! connection, the remote sampler's polling).

use crate::error::InitError;

/// A one-thread Tokio runtime, created when something first needs one. Using the application's
/// runtime would tie export to it (a current-thread runtime blocked in shutdown could never
/// flush), and `init` may be called outside any runtime.
#[derive(Debug, Default)]
pub(crate) struct IoRuntime(Option<tokio::runtime::Runtime>);

impl IoRuntime {
    /// The runtime, started on first use; `user` names what needs it in the error.
    pub(crate) fn get(
        &mut self,
        user: &'static str,
    ) -> Result<&tokio::runtime::Runtime, InitError> {
        let runtime = match self.0.take() {
            Some(runtime) => runtime,
            None => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("maestro-trace-io")
                .enable_all()
                .build()
                .map_err(|e| InitError::Exporter {
                    exporter: user,
                    reason: format!("no runtime thread for its connection: {e}"),
                })?,
        };
        Ok(self.0.insert(runtime))
    }

    /// Stops the runtime without blocking, so dropping the guard inside an async context is fine.
    pub(crate) fn shut_down(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
