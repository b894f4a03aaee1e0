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

mod model;
mod thrift;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use reqwest::Url;

use thrift::{BinaryFrame, CompactFrame, Frame, TooLong};

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
/// How long [`JaegerCollectorExporter`] waits for one request unless told otherwise.
pub const DEFAULT_COLLECTOR_TIMEOUT: Duration = Duration::from_secs(10);
/// The collector's span endpoint, used when the URL given has no path.
pub const COLLECTOR_PATH: &str = "/api/traces";
/// The content type of a Thrift binary body, as Jaeger's collector expects it.
const THRIFT_BINARY: &str = "application/vnd.apache.thrift.binary";
/// The largest body posted in one request; bigger batches are split. Jaeger's HTTP receiver
/// rejects bodies over 20 MiB by default.
const MAX_REQUEST_BODY: usize = 8 * 1024 * 1024;

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

/// The process of `resource`, encoded once per resource rather than once per export.
fn encode_process<F: Frame>(resource: &Resource) -> Result<Vec<u8>, String> {
    F::encode(&model::process(resource))
        .map_err(|e| format!("the resource cannot be sent as a jaeger process: {e}"))
}

/// Spans encoded one by one, to be spliced into frames of a bounded size.
struct EncodedSpans {
    spans: Vec<Vec<u8>>,
    /// Spans left out because even alone they do not fit: (name, encoded size).
    too_large: Vec<(String, Option<usize>)>,
}

impl EncodedSpans {
    /// Encodes each span; one larger than `budget` is left out when `drop_oversized`, else it
    /// is kept to travel alone.
    fn new<F: Frame>(batch: &[SpanData], budget: usize, drop_oversized: bool) -> Self {
        let mut spans = Vec::with_capacity(batch.len());
        let mut too_large = Vec::new();
        for data in batch {
            match F::encode(&model::span(data)) {
                Ok(bytes) if bytes.len() <= budget || !drop_oversized => spans.push(bytes),
                Ok(bytes) => too_large.push((data.name.to_string(), Some(bytes.len()))),
                Err(TooLong) => too_large.push((data.name.to_string(), None)),
            }
        }
        EncodedSpans { spans, too_large }
    }

    /// Consecutive runs of spans whose sizes add up to at most `budget` (a span larger than
    /// the budget makes a run of its own).
    fn groups(&self, budget: usize) -> Vec<Vec<&[u8]>> {
        let mut groups = Vec::new();
        let mut current: Vec<&[u8]> = Vec::new();
        let mut size = 0;
        for span in &self.spans {
            if !current.is_empty() && size + span.len() > budget {
                groups.push(std::mem::take(&mut current));
                size = 0;
            }
            size += span.len();
            current.push(span);
        }
        if !current.is_empty() {
            groups.push(current);
        }
        groups
    }
}

/// Collects what went wrong in one export into a single `InternalFailure`.
#[derive(Default)]
struct ExportProblems(Vec<String>);

impl ExportProblems {
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    fn into_result(self) -> OTelSdkResult {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(self.0.join("; ")))
        }
    }
}

/// Exports spans to a Jaeger agent port (UDP, Thrift compact), as the guide's
/// `JAEGER_AGENT_HOST` / `JAEGER_AGENT_PORT` deployments expect.
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
    shut_down: AtomicBool,
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
            shut_down: AtomicBool::new(false),
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
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.send(&batch)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.process = encode_process::<CompactFrame>(resource);
    }
}

/// Exports spans to a Jaeger collector's Thrift-over-HTTP endpoint (`POST /api/traces`,
/// port 14268).
///
/// Requests are sent by a blocking HTTP client on a thread of the exporter's own, started on
/// the first export, so the exporter works from any thread, inside a Tokio runtime or not.
/// A batch larger than a few MiB is split into several requests. Transport errors and
/// non-2xx answers fail the export with the URL and status.
///
/// ```
/// use maestro_trace::export::jaeger::{JaegerCollectorExporter, JaegerExportError};
/// use maestro_trace::TracingConfig;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let exporter = JaegerCollectorExporter::new("http://jaeger:14268/api/traces")?;
/// let config = TracingConfig::default()
///     .service_name("maestro-ml-api")
///     .span_exporter(exporter);
/// # drop(config);
///
/// // No TLS in this transport: https endpoints are refused up front.
/// let error = JaegerCollectorExporter::new("https://jaeger:14268/api/traces").unwrap_err();
/// assert!(matches!(error, JaegerExportError::CollectorTlsUnsupported { .. }));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JaegerCollectorExporter {
    endpoint: Url,
    timeout: Duration,
    /// The binary-encoded process of the provider's resource.
    process: Result<Vec<u8>, String>,
    /// `Batch.seqNo` of the last request.
    seq_no: AtomicI64,
    /// The thread that owns the HTTP client, started on the first export.
    worker: Mutex<Option<HttpWorker>>,
    shut_down: AtomicBool,
}

impl JaegerCollectorExporter {
    /// Posts to `endpoint`, an `http://` URL such as `http://jaeger:14268/api/traces`; a URL
    /// without a path gets [`COLLECTOR_PATH`]. Nothing connects until the first export.
    ///
    /// ```
    /// use maestro_trace::export::jaeger::JaegerCollectorExporter;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let exporter = JaegerCollectorExporter::new("http://127.0.0.1:14268")?;
    /// assert_eq!(exporter.endpoint().as_str(), "http://127.0.0.1:14268/api/traces");
    /// assert!(JaegerCollectorExporter::new("127.0.0.1:14268").is_err());
    /// # Ok(()) }
    /// ```
    pub fn new(endpoint: impl AsRef<str>) -> Result<Self, JaegerExportError> {
        let given = endpoint.as_ref();
        let invalid = |reason: String| JaegerExportError::InvalidCollectorUrl {
            url: given.to_owned(),
            reason,
        };
        if !given.contains("://") {
            return Err(invalid(format!(
                "expected an http:// url, e.g. \"http://{given}\""
            )));
        }
        let mut url = Url::parse(given).map_err(|e| invalid(e.to_string()))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(JaegerExportError::CollectorTlsUnsupported {
                    url: given.to_owned(),
                })
            }
            other => {
                return Err(invalid(format!(
                    "unsupported scheme `{other}`, expected http://"
                )))
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("the url has no host".to_owned()));
        }
        if url.path() == "/" {
            url.set_path(COLLECTOR_PATH);
        }
        Ok(JaegerCollectorExporter {
            endpoint: url,
            timeout: DEFAULT_COLLECTOR_TIMEOUT,
            process: encode_process::<BinaryFrame>(&Resource::builder_empty().build()),
            seq_no: AtomicI64::new(0),
            worker: Mutex::new(None),
            shut_down: AtomicBool::new(false),
        })
    }

    /// Bounds each request, from connecting to reading the answer (default
    /// [`DEFAULT_COLLECTOR_TIMEOUT`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use maestro_trace::export::jaeger::JaegerCollectorExporter;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let exporter = JaegerCollectorExporter::new("http://jaeger:14268/api/traces")?
    ///     .with_timeout(Duration::from_secs(3))?;
    /// assert_eq!(exporter.timeout(), Duration::from_secs(3));
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Result<Self, JaegerExportError> {
        if timeout.is_zero() {
            return Err(JaegerExportError::InvalidTimeout { timeout });
        }
        self.timeout = timeout;
        Ok(self)
    }

    /// The URL spans are posted to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The timeout of each request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn send(&self, batch: &[SpanData]) -> OTelSdkResult {
        let process = self
            .process
            .as_ref()
            .map_err(|e| OTelSdkError::InternalFailure(e.clone()))?;
        let budget = MAX_REQUEST_BODY.saturating_sub(BinaryFrame::overhead(process.len()));
        let encoded = EncodedSpans::new::<BinaryFrame>(batch, budget, false);
        let mut problems = ExportProblems::default();
        if let Some((name, _)) = encoded.too_large.first() {
            problems.push(format!(
                "dropped {} span(s) that cannot be encoded as thrift (a string or list over 2 GiB), \
                 e.g. {name:?}",
                encoded.too_large.len()
            ));
        }
        for spans in encoded.groups(budget) {
            let seq_no = self.seq_no.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            let body = match BinaryFrame::frame(process, &spans, seq_no) {
                Ok(body) => body,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            if let Err(e) = self.post(body) {
                // The collector is unreachable or refusing: the rest of the batch would fare
                // no better, and each attempt may take the whole timeout.
                problems.push(e);
                break;
            }
        }
        problems.into_result()
    }

    /// Hands `body` to the worker thread and waits for the collector's answer.
    fn post(&self, body: Vec<u8>) -> Result<(), String> {
        let (reply, answer) = mpsc::channel();
        let mut request = HttpRequest { body, reply };
        {
            let mut worker = self.worker.lock().unwrap_or_else(PoisonError::into_inner);
            // A worker that is gone (its thread died) is replaced once.
            for _ in 0..2 {
                let current = match worker.take() {
                    Some(current) => current,
                    None => HttpWorker::start(self.endpoint.clone(), self.timeout)?,
                };
                match current.requests.send(request) {
                    Ok(()) => {
                        *worker = Some(current);
                        break;
                    }
                    Err(mpsc::SendError(returned)) => request = returned,
                }
            }
        }
        // The client's own timeout ends the request first; this bound only guards against a
        // worker that never answers.
        match answer.recv_timeout(self.timeout + Duration::from_secs(1)) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "the jaeger collector at {} did not answer within {:?}",
                self.endpoint, self.timeout
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(format!(
                "the http client for the jaeger collector at {} stopped",
                self.endpoint
            )),
        }
    }
}

impl SpanExporter for JaegerCollectorExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.send(&batch)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Release);
        // Closing the channel ends the worker thread, which drops the client there.
        self.worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.process = encode_process::<BinaryFrame>(resource);
    }
}

/// One body to post, and where to send the outcome.
struct HttpRequest {
    body: Vec<u8>,
    reply: mpsc::Sender<Result<(), String>>,
}

/// The thread owning the blocking HTTP client. `reqwest::blocking` must neither be built nor
/// dropped inside an async runtime, and the SDK may call `export` from one (a simple span
/// processor exports on the thread that ends the span), so the client lives here instead.
#[derive(Debug)]
struct HttpWorker {
    requests: mpsc::Sender<HttpRequest>,
}

impl HttpWorker {
    fn start(endpoint: Url, timeout: Duration) -> Result<Self, String> {
        let (requests, incoming) = mpsc::channel::<HttpRequest>();
        thread::Builder::new()
            .name("maestro-trace-jaeger-http".to_owned())
            .spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| format!("could not create the http client: {}", error_chain(&e)));
                for request in incoming {
                    let result = match &client {
                        Ok(client) => post(client, &endpoint, request.body),
                        Err(e) => Err(e.clone()),
                    };
                    // The exporter may have stopped waiting (timeout); nothing to do then.
                    let _ = request.reply.send(result);
                }
            })
            .map_err(|e| format!("could not start the jaeger http exporter thread: {e}"))?;
        Ok(HttpWorker { requests })
    }
}

fn post(client: &reqwest::blocking::Client, endpoint: &Url, body: Vec<u8>) -> Result<(), String> {
    let response = client
        .post(endpoint.clone())
        .header(reqwest::header::CONTENT_TYPE, THRIFT_BINARY)
        .body(body)
        .send()
        .map_err(|e| {
            format!(
                "could not post spans to the jaeger collector at {endpoint}: {}",
                error_chain(&e)
            )
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().unwrap_or_default();
    let text = text.trim();
    let mut message = format!("the jaeger collector at {endpoint} answered {status}");
    if !text.is_empty() {
        let excerpt: String = text.chars().take(200).collect();
        message.push_str(": ");
        message.push_str(&excerpt);
    }
    Err(message)
}

/// An error and its sources, `: `-separated (reqwest's own message omits the cause).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use opentelemetry::trace::{SpanId, SpanKind, Tracer, TracerProvider};
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    use super::*;

    fn span_named(name: &'static str, attributes: Vec<KeyValue>) -> SpanData {
        let mut span = model::tests::span_data();
        span.name = name.into();
        span.attributes = attributes;
        span
    }

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

    /// Runs an exporter's future, which completes on its first poll (the exporters never wait
    /// on anything but the calling thread), outside any async runtime.
    fn block_on(future: impl std::future::Future<Output = OTelSdkResult>) -> OTelSdkResult {
        let mut future = std::pin::pin!(future);
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut context) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("the exporter's future did not complete"),
        }
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
    fn collector_url_is_checked() {
        let message = |url: &str| {
            JaegerCollectorExporter::new(url)
                .expect_err("invalid")
                .to_string()
        };
        assert_eq!(
            message("https://jaeger:14268/api/traces"),
            "jaeger collector url \"https://jaeger:14268/api/traces\" uses https, which this \
             build cannot send (no tls): use an http:// url, or export over otlp for tls"
        );
        assert_eq!(
            message("jaeger:14268/api/traces"),
            "invalid jaeger collector url \"jaeger:14268/api/traces\": expected an http:// url, \
             e.g. \"http://jaeger:14268/api/traces\""
        );
        assert_eq!(
            message("ftp://jaeger/api/traces"),
            "invalid jaeger collector url \"ftp://jaeger/api/traces\": unsupported scheme `ftp`, \
             expected http://"
        );
        assert_eq!(
            message("http://jaeger:99999/api/traces"),
            "invalid jaeger collector url \"http://jaeger:99999/api/traces\": invalid port number"
        );
        assert!(message("http://").starts_with("invalid jaeger collector url \"http://\": "));
    }

    #[test]
    fn collector_url_without_path_gets_the_traces_path() {
        let exporter = JaegerCollectorExporter::new("http://jaeger:14268").expect("valid");
        assert_eq!(
            exporter.endpoint().as_str(),
            "http://jaeger:14268/api/traces"
        );
        let exporter = JaegerCollectorExporter::new("http://jaeger:14268/custom").expect("valid");
        assert_eq!(exporter.endpoint().as_str(), "http://jaeger:14268/custom");
        assert_eq!(exporter.timeout(), DEFAULT_COLLECTOR_TIMEOUT);
    }

    #[test]
    fn collector_timeout_must_be_positive() {
        let exporter = JaegerCollectorExporter::new("http://jaeger:14268").expect("valid");
        assert_eq!(
            exporter
                .with_timeout(Duration::ZERO)
                .expect_err("zero")
                .to_string(),
            "invalid jaeger collector timeout 0ns: expected a duration above zero"
        );
    }

    #[test]
    fn groups_fill_up_to_the_budget_in_order() {
        let encoded = EncodedSpans {
            spans: vec![vec![0; 3], vec![1; 4], vec![2; 10], vec![3; 1], vec![4; 6]],
            too_large: Vec::new(),
        };
        let sizes: Vec<Vec<usize>> = encoded
            .groups(7)
            .iter()
            .map(|g| g.iter().map(|s| s.len()).collect())
            .collect();
        assert_eq!(sizes, [vec![3, 4], vec![10], vec![1, 6]]);
        let none = EncodedSpans {
            spans: Vec::new(),
            too_large: Vec::new(),
        };
        assert!(none.groups(7).is_empty());
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

    /// A one-request HTTP server answering `status` with `body`; returns its URL and what it
    /// received (request head, body).
    fn http_server(
        status: &'static str,
        body: &'static str,
    ) -> (String, thread::JoinHandle<(String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local tcp port");
        let url = format!(
            "http://{}/api/traces",
            listener.local_addr().expect("bound")
        );
        let handle = thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("a connection");
            let mut received = Vec::new();
            let mut buf = [0; 8192];
            let head_end = loop {
                let n = stream.read(&mut buf).expect("read");
                received.extend_from_slice(&buf[..n]);
                if let Some(i) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
            };
            let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("a content length");
            while received.len() < head_end + length {
                let n = stream.read(&mut buf).expect("read");
                received.extend_from_slice(&buf[..n]);
            }
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).expect("write");
            (head, received[head_end..].to_vec())
        });
        (url, handle)
    }

    #[test]
    fn collector_posts_a_thrift_binary_batch() {
        let (url, server) = http_server("202 Accepted", "");
        let exporter = JaegerCollectorExporter::new(&url).expect("valid");
        let batch = vec![span_named("train_model_job", Vec::new())];
        block_on(exporter.export(batch.clone())).expect("accepted");
        let (head, body) = server.join().expect("server ran");
        assert!(head.starts_with("post /api/traces http/1.1\r\n"), "{head}");
        assert!(
            head.contains("content-type: application/vnd.apache.thrift.binary\r\n"),
            "{head}"
        );
        let process = BinaryFrame::encode(&model::process(&Resource::builder_empty().build()))
            .expect("encodes");
        let span = BinaryFrame::encode(&model::span(&batch[0])).expect("encodes");
        let expected = BinaryFrame::frame(&process, &[&span], 1).expect("encodes");
        assert_eq!(body, expected);
    }

    #[test]
    fn collector_reports_a_refusal_with_url_and_status() {
        let (url, server) = http_server("400 Bad Request", "Unable to process request body\n");
        let exporter = JaegerCollectorExporter::new(&url).expect("valid");
        let error = block_on(exporter.export(vec![span_named("train_model_job", Vec::new())]))
            .expect_err("refused");
        server.join().expect("server ran");
        assert_eq!(
            error.to_string(),
            OTelSdkError::InternalFailure(format!(
                "the jaeger collector at {url} answered 400 Bad Request: \
                 Unable to process request body"
            ))
            .to_string()
        );
    }

    #[test]
    fn collector_reports_an_unreachable_endpoint() {
        let closed = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("bound");
        let url = format!("http://{closed}/api/traces");
        let exporter = JaegerCollectorExporter::new(&url)
            .expect("valid")
            .with_timeout(Duration::from_secs(2))
            .expect("valid timeout");
        let error = block_on(exporter.export(vec![span_named("lost", Vec::new())]))
            .expect_err("nothing listens");
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "could not post spans to the jaeger collector at {url}"
            )),
            "{message}"
        );
    }

    #[tokio::test]
    async fn collector_works_inside_a_tokio_runtime() {
        let (url, server) = http_server("202 Accepted", "");
        let exporter = JaegerCollectorExporter::new(&url).expect("valid");
        let mut span = span_named("predict", Vec::new());
        span.parent_span_id = SpanId::from(7);
        exporter.export(vec![span]).await.expect("accepted");
        exporter.shutdown().expect("shut down");
        // Dropped here, inside the runtime: the HTTP client lives on the exporter's thread.
        drop(exporter);
        let (_, body) = tokio::task::spawn_blocking(move || server.join())
            .await
            .expect("joined")
            .expect("server ran");
        assert!(!body.is_empty());
    }
}
