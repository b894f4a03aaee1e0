//! Shared support for the integration tests: a real Jaeger to export to and query, throwaway
//! PostgreSQL and Redis servers, an allocation-counting allocator, an exporter that records, and
//! a traced test server, and the ML API example run as a process.

pub mod counting;
pub mod jaeger;
pub mod ml_api;
pub mod postgres;
pub mod recording;
pub mod redis;
pub mod server;
pub mod serving;
