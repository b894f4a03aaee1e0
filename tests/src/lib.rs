//! Shared support for the integration tests: a real Jaeger to export to and query, an
//! allocation-counting allocator, an exporter that records, and a traced test server.

pub mod counting;
pub mod jaeger;
pub mod recording;
pub mod serving;
