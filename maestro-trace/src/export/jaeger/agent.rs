//! The agent transport: Thrift compact `Agent.emitBatch` in UDP datagrams (port 6831).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::encoding::{encode_process, EncodedSpans, ExportProblems, ShutDown};
use super::thrift::{CompactFrame, Frame};
use super::JaegerExportError;

/// The largest datagram [`JaegerAgentExporter`] sends unless told otherwise: the default
/// `max_packet_size` of Jaeger's UDP receivers.
pub const DEFAULT_MAX_PACKET_SIZE: usize = 65_000;
/// The smallest accepted max packet size.
pub const MIN_PACKET_SIZE: usize = 512;
/// The largest accepted max packet size: the most a UDP datagram over IPv4 can carry.
pub const MAX_PACKET_SIZE: usize = 65_507;
/// The pause between two datagrams of one export, so a large batch does not overflow the
/// receiver's socket buffer in one burst.
const DATAGRAM_SPACING: Duration = Duration::from_millis(5);

/// Exports spans to a Jaeger agent port (UDP, Thrift compact), as deployments configured with
/// `JAEGER_AGENT_HOST` / `JAEGER_AGENT_PORT` expect.
///
/// Each export is split into as many datagrams as needed so that none exceeds the max packet
/// size (default [`DEFAULT_MAX_PACKET_SIZE`]); every datagram carries the process. A span too
/// large for a datagram even alone is dropped, and the export reports it. The datagrams of one
/// export leave 5 ms apart, so that a large batch does not overflow the receiver's socket
/// buffer in one burst. UDP is fire and forget: a datagram the network loses is not retried,
/// and a "connection refused" from an earlier datagram (nothing listening) surfaces as an
/// export error.
///
/// ```
/// use maestro_trace::export::jaeger::JaegerAgentExporter;
/// use maestro_trace::{span, TracingConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A stand-in for Jaeger's UDP port (e.g. "jaeger:6831").
/// let jaeger = std::net::UdpSocket::bind("127.0.0.1:0")?;
/// jaeger.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
///
/// let exporter = JaegerAgentExporter::new(jaeger.local_addr()?)?.with_max_packet_size(1500)?;
/// let config = TracingConfig::default()
///     .service_name("maestro-ml-api")
///     .span_exporter(exporter);
/// let guard = maestro_trace::init(config)?;
/// span!("load_training_dataset").in_scope(|| ());
/// drop(guard); // flushes: the span leaves in one datagram
///
/// let mut datagram = [0; 1500];
/// let len = jaeger.recv(&mut datagram)?;
/// assert!(datagram[..len].windows(9).any(|w| w == b"emitBatch"));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JaegerAgentExporter {
    socket: UdpSocket,
    agent: SocketAddr,
    max_packet_size: usize,
    /// The compact-encoded process of the provider's resource.
    process: Result<Vec<u8>, String>,
    /// `Batch.seqNo` of the last datagram sent.
    seq_no: AtomicI64,
    /// Spans dropped for being too large since the exporter was created.
    too_large_dropped: AtomicU64,
    shut_down: ShutDown,
}

impl JaegerAgentExporter {
    /// Sends to the agent port at `address` (`"jaeger:6831"`, `"127.0.0.1:6831"`, a
    /// [`SocketAddr`], `("jaeger", 6831)`), resolved now, once. When a name resolves to both
    /// IPv4 and IPv6 addresses, the first IPv4 one is used.
    ///
    /// ```
    /// use maestro_trace::export::jaeger::JaegerAgentExporter;
    ///
    /// assert!(JaegerAgentExporter::new("127.0.0.1:6831").is_ok());
    /// let error = JaegerAgentExporter::new("127.0.0.1").unwrap_err();
    /// assert!(error.to_string().starts_with("invalid jaeger agent address \"127.0.0.1\""));
    /// ```
    pub fn new(address: impl ToSocketAddrs + fmt::Debug) -> Result<Self, JaegerExportError> {
        let invalid = |reason: String| JaegerExportError::InvalidAgentAddress {
            address: format!("{address:?}"),
            reason,
        };
        let resolved: Vec<SocketAddr> = address
            .to_socket_addrs()
            .map_err(|e| {
                invalid(format!(
                    "{e} (expected host:port, e.g. \"127.0.0.1:6831\" or \"jaeger:6831\")"
                ))
            })?
            .collect();
        let agent = resolved
            .iter()
            .find(|a| a.is_ipv4())
            .or_else(|| resolved.first())
            .copied()
            .ok_or_else(|| invalid("it resolves to no address".to_owned()))?;
        let local: SocketAddr = if agent.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket_error = |source| JaegerExportError::AgentSocket {
            address: agent,
            source,
        };
        let socket = UdpSocket::bind(local).map_err(socket_error)?;
        // A connected socket sends to the agent only, and reports its "port unreachable".
        socket.connect(agent).map_err(socket_error)?;
        Ok(JaegerAgentExporter {
            socket,
            agent,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            process: encode_process::<CompactFrame>(&Resource::builder_empty().build()),
            seq_no: AtomicI64::new(0),
            too_large_dropped: AtomicU64::new(0),
            shut_down: ShutDown::default(),
        })
    }

    /// Caps every datagram at `bytes` (default [`DEFAULT_MAX_PACKET_SIZE`]): lower it to stay
    /// under a path's MTU; raise it only as far as the receiver's `max_packet_size`.
    ///
    /// ```
    /// use maestro_trace::export::jaeger::JaegerAgentExporter;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let exporter = JaegerAgentExporter::new("127.0.0.1:6831")?.with_max_packet_size(1472)?;
    /// assert_eq!(exporter.max_packet_size(), 1472);
    /// assert!(JaegerAgentExporter::new("127.0.0.1:6831")?.with_max_packet_size(70_000).is_err());
    /// # Ok(()) }
    /// ```
    pub fn with_max_packet_size(mut self, bytes: usize) -> Result<Self, JaegerExportError> {
        if !(MIN_PACKET_SIZE..=MAX_PACKET_SIZE).contains(&bytes) {
            return Err(JaegerExportError::InvalidMaxPacketSize { size: bytes });
        }
        self.max_packet_size = bytes;
        Ok(self)
    }

    /// The agent address datagrams go to.
    pub fn agent_address(&self) -> SocketAddr {
        self.agent
    }

    /// The largest datagram sent, in bytes.
    pub fn max_packet_size(&self) -> usize {
        self.max_packet_size
    }

    fn send(&self, batch: &[SpanData]) -> OTelSdkResult {
        let process = self
            .process
            .as_ref()
            .map_err(|e| OTelSdkError::InternalFailure(e.clone()))?;
        let budget = self
            .max_packet_size
            .saturating_sub(CompactFrame::overhead(process.len()));
        let encoded = EncodedSpans::new::<CompactFrame>(batch, budget, true);
        let mut problems = ExportProblems::default();

        if !encoded.too_large.is_empty() {
            let count = encoded.too_large.len() as u64;
            let total = self.too_large_dropped.fetch_add(count, Ordering::Relaxed) + count;
            let (name, size) = &encoded.too_large[0];
            let size = size.map_or("over 2 GiB".to_owned(), |s| format!("{s} bytes"));
            problems.push(format!(
                "dropped {count} span(s) too large for one {max}-byte datagram to the jaeger agent \
                 at {agent}, e.g. {name:?} ({size}, with a {process_len}-byte process); \
                 {total} dropped so far",
                max = self.max_packet_size,
                agent = self.agent,
                process_len = process.len(),
            ));
        }

        let groups = encoded.groups(budget);
        let mut failed = 0;
        let mut first_error = None;
        for (i, spans) in groups.iter().enumerate() {
            if i > 0 {
                thread::sleep(DATAGRAM_SPACING);
            }
            let seq_no = self.seq_no.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            let sent = CompactFrame::frame(process, spans, seq_no)
                .map_err(|e| e.to_string())
                .and_then(|datagram| match self.socket.send(&datagram) {
                    Ok(n) if n == datagram.len() => Ok(()),
                    Ok(n) => Err(format!("sent {n} of {} bytes", datagram.len())),
                    Err(e) => Err(e.to_string()),
                });
            if let Err(e) = sent {
                failed += 1;
                first_error.get_or_insert(e);
            }
        }
        if let Some(error) = first_error {
            problems.push(format!(
                "could not send {failed} of {} datagram(s) to the jaeger agent at udp://{}: {error}",
                groups.len(),
                self.agent,
            ));
        }
        problems.into_result()
    }
}

impl SpanExporter for JaegerAgentExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.shut_down.check()?;
        self.send(&batch)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.set();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.process = encode_process::<CompactFrame>(resource);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanKind, Tracer, TracerProvider};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::super::encoding::tests::{block_on, span_named};
    use super::super::model;
    use super::*;

    fn receiver() -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a local udp port");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a read timeout");
        socket
    }

    fn receive(socket: &UdpSocket) -> Vec<u8> {
        let mut buf = vec![0; 70_000];
        let len = socket.recv(&mut buf).expect("a datagram arrives");
        buf.truncate(len);
        buf
    }

    /// The number of spans in an `emitBatch` datagram whose process encodes to `process_len`.
    fn span_count(datagram: &[u8], process_len: usize) -> usize {
        let header = 13; // 0x82, 0x81, seq id, "emitBatch"
        assert_eq!(&datagram[..header], b"\x82\x81\x00\x09emitBatch");
        let list = header + 2 + process_len; // args field 1, Batch field 1, process
        assert_eq!(datagram[list], 0x19, "Batch field 2 is a list");
        let size = datagram[list + 1];
        if size >> 4 != 0xf {
            return usize::from(size >> 4);
        }
        let (mut count, mut shift) = (0, 0);
        for byte in &datagram[list + 2..] {
            count |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        count
    }

    fn default_process_len() -> usize {
        CompactFrame::encode(&model::process(&Resource::builder_empty().build()))
            .expect("encodes")
            .len()
    }

    #[test]
    fn agent_address_needs_a_port() {
        let error = JaegerAgentExporter::new("127.0.0.1").expect_err("no port");
        let message = error.to_string();
        assert!(
            message.starts_with("invalid jaeger agent address \"127.0.0.1\": "),
            "{message}"
        );
        assert!(message.contains("expected host:port"), "{message}");
    }

    #[test]
    fn agent_address_resolves_tuples_and_socket_addrs() {
        let exporter = JaegerAgentExporter::new(("127.0.0.1", 6831)).expect("valid");
        assert_eq!(
            exporter.agent_address(),
            "127.0.0.1:6831".parse().expect("addr")
        );
        let v6: SocketAddr = "[::1]:6831".parse().expect("addr");
        // IPv6 may be disabled on the machine; when it is not, the socket is IPv6 too.
        if let Ok(exporter) = JaegerAgentExporter::new(v6) {
            assert_eq!(exporter.agent_address(), v6);
            assert!(exporter.socket.local_addr().expect("bound").is_ipv6());
        }
    }

    #[test]
    fn max_packet_size_is_checked() {
        let exporter = || JaegerAgentExporter::new("127.0.0.1:6831").expect("valid");
        assert_eq!(exporter().max_packet_size(), DEFAULT_MAX_PACKET_SIZE);
        assert!(exporter().with_max_packet_size(MIN_PACKET_SIZE).is_ok());
        assert!(exporter().with_max_packet_size(MAX_PACKET_SIZE).is_ok());
        let error = exporter()
            .with_max_packet_size(65_508)
            .expect_err("too large");
        assert_eq!(
            error.to_string(),
            "invalid jaeger agent max packet size 65508: expected 512 to 65507 bytes \
             (jaeger's receivers accept 65000 by default)"
        );
        assert!(exporter().with_max_packet_size(100).is_err());
    }

    #[test]
    fn agent_sends_a_batch_as_one_datagram() {
        let jaeger = receiver();
        let exporter =
            JaegerAgentExporter::new(jaeger.local_addr().expect("bound")).expect("valid");
        let batch = vec![
            span_named("load_training_dataset", vec![KeyValue::new("rows", 10)]),
            span_named("train_model_job", Vec::new()),
        ];
        block_on(exporter.export(batch)).expect("sent");
        let datagram = receive(&jaeger);
        assert_eq!(span_count(&datagram, default_process_len()), 2);
        assert!(
            datagram.ends_with(&[0x16, 0x02, 0x00, 0x00]),
            "seqNo 1, then stops"
        );
    }

    #[test]
    fn agent_splits_a_large_batch_into_datagrams_that_fit() {
        let jaeger = receiver();
        let exporter = JaegerAgentExporter::new(jaeger.local_addr().expect("bound"))
            .expect("valid")
            .with_max_packet_size(1024)
            .expect("valid size");
        let batch: Vec<SpanData> = (0..100)
            .map(|i| {
                span_named(
                    "load_training_dataset",
                    vec![
                        KeyValue::new("row", i64::from(i)),
                        KeyValue::new("shard", "a-b-c"),
                    ],
                )
            })
            .collect();
        block_on(exporter.export(batch)).expect("sent");
        let mut received = 0;
        let mut datagrams = 0;
        while received < 100 {
            let datagram = receive(&jaeger);
            assert!(datagram.len() <= 1024, "{} bytes", datagram.len());
            received += span_count(&datagram, default_process_len());
            datagrams += 1;
        }
        assert_eq!(received, 100);
        assert!(datagrams > 1);
    }

    #[test]
    fn agent_drops_a_span_too_large_for_any_datagram_and_sends_the_rest() {
        let jaeger = receiver();
        let exporter = JaegerAgentExporter::new(jaeger.local_addr().expect("bound"))
            .expect("valid")
            .with_max_packet_size(1024)
            .expect("valid size");
        let huge = span_named(
            "upload_weights",
            vec![KeyValue::new("blob", "x".repeat(2000))],
        );
        let batch = vec![
            span_named("small", Vec::new()),
            huge,
            span_named("small", Vec::new()),
        ];
        let error = block_on(exporter.export(batch.clone())).expect_err("one span dropped");
        let message = error.to_string();
        assert!(
            message.contains("dropped 1 span(s) too large for one 1024-byte datagram"),
            "{message}"
        );
        assert!(message.contains("\"upload_weights\""), "{message}");
        assert!(message.contains("1 dropped so far"), "{message}");
        assert_eq!(span_count(&receive(&jaeger), default_process_len()), 2);

        let again = block_on(exporter.export(batch)).expect_err("dropped again");
        assert!(again.to_string().contains("2 dropped so far"), "{again}");
    }

    #[test]
    fn agent_reports_datagrams_nobody_receives() {
        // A port that was just free: the kernel answers "port unreachable", which the
        // connected socket reports on a later send.
        let closed = receiver().local_addr().expect("bound");
        let exporter = JaegerAgentExporter::new(closed).expect("valid");
        let errors: Vec<String> = (0..5)
            .filter_map(|_| {
                let result = block_on(exporter.export(vec![span_named("lost", Vec::new())]));
                thread::sleep(Duration::from_millis(20));
                result.err().map(|e| e.to_string())
            })
            .collect();
        let expected =
            format!("could not send 1 of 1 datagram(s) to the jaeger agent at udp://{closed}");
        assert!(
            errors.iter().any(|e| e.contains(&expected)),
            "expected a send error, got {errors:?}"
        );
    }

    #[test]
    fn agent_refuses_to_export_after_shutdown() {
        let exporter = JaegerAgentExporter::new("127.0.0.1:6831").expect("valid");
        exporter.shutdown().expect("shut down");
        assert!(matches!(
            block_on(exporter.export(Vec::new())),
            Err(OTelSdkError::AlreadyShutdown)
        ));
    }

    #[test]
    fn agent_uses_the_providers_resource_as_the_process() {
        let jaeger = receiver();
        let exporter =
            JaegerAgentExporter::new(jaeger.local_addr().expect("bound")).expect("valid");
        let resource = Resource::builder_empty()
            .with_service_name("maestro-ml-api")
            .with_attribute(KeyValue::new("deployment.environment", "staging"))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_simple_exporter(exporter)
            .build();
        let tracer = provider.tracer("test");
        tracer
            .span_builder("predict")
            .with_kind(SpanKind::Server)
            .start(&tracer);
        drop(tracer);
        let _ = provider.shutdown();
        let datagram = receive(&jaeger);
        let process = CompactFrame::encode(&model::process(&resource)).expect("encodes");
        assert_eq!(&datagram[15..15 + process.len()], process.as_slice());
        assert_eq!(span_count(&datagram, process.len()), 1);
    }
}
