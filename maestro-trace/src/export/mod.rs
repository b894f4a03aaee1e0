//! Span exporters owned by maestro-trace. The Jaeger transports join the console exporter here.

mod console;

pub use console::ConsoleExporter;
