//! Jaeger's legacy Thrift transports: the agent protocol over UDP and the collector's Thrift
//! over HTTP.
//!
//! Jaeger's native ingestion is OTLP; these exporters exist for deployments that still point
//! `JAEGER_AGENT_HOST` / `JAEGER_AGENT_PORT` at UDP 6831, or post to the collector's
//! `http://host:14268/api/traces`. Jaeger v2 has no agent any more, but its collector still
//! receives both (receiver `jaeger`, protocols `thrift_compact` and `thrift_http`).
//!
//! | exporter | wire | default Jaeger port |
//! |---|---|---|
//! | [`JaegerAgentExporter`] | Thrift compact `Agent.emitBatch` in UDP datagrams | 6831 |
//! | [`JaegerCollectorExporter`] | Thrift binary `Batch` in `POST /api/traces` | 14268 |
//!
//! Spans are translated as the OpenTelemetry specification's Jaeger mapping says: `span.kind`,
//! `otel.status_code` / `otel.status_description` / `error`, `otel.scope.name` /
//! `otel.scope.version` tags, events as logs named by their `event` field, links as
//! `FOLLOWS_FROM` references, the resource as the process. Jaeger shows such a span as it shows
//! the same span received over OTLP, except that internal spans carry no `span.kind` tag (the
//! specification says not to translate that kind) and non-zero `otel.dropped_*_count` tags are
//! kept (Jaeger drops them from OTLP spans).

mod agent;
mod collector;
mod encoding;
mod model;
mod thrift;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

pub use self::agent::{
    JaegerAgentExporter, DEFAULT_MAX_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE,
};
pub(crate) use self::collector::check_collector_url;
pub use self::collector::{JaegerCollectorExporter, COLLECTOR_PATH, DEFAULT_COLLECTOR_TIMEOUT};

/// Why a Jaeger exporter could not be built from its settings.
#[derive(Debug)]
#[non_exhaustive]
pub enum JaegerExportError {
    /// The agent address is not a `host:port`, or does not resolve.
    InvalidAgentAddress {
        /// The address given, as written (`Debug`-formatted).
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No local UDP socket could be opened towards the agent.
    AgentSocket {
        /// The agent address the socket was for.
        address: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// The max packet size is outside [`MIN_PACKET_SIZE`]`..=`[`MAX_PACKET_SIZE`].
    InvalidMaxPacketSize {
        /// The size given, in bytes.
        size: usize,
    },
    /// The collector URL does not parse, or is not an `http://` URL with a host.
    InvalidCollectorUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The collector URL is `https://`, which this build cannot send (there is no TLS).
    CollectorTlsUnsupported {
        /// The URL given.
        url: String,
    },
    /// The collector timeout is zero.
    InvalidTimeout {
        /// The timeout given.
        timeout: Duration,
    },
}

impl fmt::Display for JaegerExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JaegerExportError::InvalidAgentAddress { address, reason } => {
                write!(f, "invalid jaeger agent address {address}: {reason}")
            }
            JaegerExportError::AgentSocket { address, source } => write!(
                f,
                "could not open a udp socket to the jaeger agent at {address}: {source}"
            ),
            JaegerExportError::InvalidMaxPacketSize { size } => write!(
                f,
                "invalid jaeger agent max packet size {size}: expected {MIN_PACKET_SIZE} to \
                 {MAX_PACKET_SIZE} bytes (jaeger's receivers accept {DEFAULT_MAX_PACKET_SIZE} by default)"
            ),
            JaegerExportError::InvalidCollectorUrl { url, reason } => {
                write!(f, "invalid jaeger collector url {url:?}: {reason}")
            }
            JaegerExportError::CollectorTlsUnsupported { url } => write!(
                f,
                "jaeger collector url {url:?} uses https, which this build cannot send (no tls): \
                 use an http:// url, or export over otlp for tls"
            ),
            JaegerExportError::InvalidTimeout { timeout } => write!(
                f,
                "invalid jaeger collector timeout {timeout:?}: expected a duration above zero"
            ),
        }
    }
}

impl std::error::Error for JaegerExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JaegerExportError::AgentSocket { source, .. } => Some(source),
            _ => None,
        }
    }
}
