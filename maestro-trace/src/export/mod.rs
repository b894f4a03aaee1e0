//! Span exporters owned by maestro-trace, and the OTLP exporter's construction.

mod console;
pub mod jaeger;
pub(crate) mod otlp;

pub use console::ConsoleExporter;
