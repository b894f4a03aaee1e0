//! Shared support for the integration tests: a real Jaeger to export to and query.

pub mod jaeger;
