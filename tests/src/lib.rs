//! Shared support for the integration tests: a real Jaeger to export to and query, and an
//! allocation-counting allocator.

pub mod counting;
pub mod jaeger;
