//! Shared support for the integration tests: a real Jaeger to export to and query, throwaway
//! PostgreSQL and Redis servers, an exporter that records, and an allocation-counting allocator.

pub mod counting;
pub mod jaeger;
pub mod postgres;
pub mod recording;
pub mod redis;
pub mod server;
