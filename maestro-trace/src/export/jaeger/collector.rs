//! The collector transport: a Thrift binary `Batch` in `POST /api/traces` (port 14268), sent by a
//! blocking HTTP client on the exporter's own thread.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use reqwest::Url;

use super::encoding::{encode_process, EncodedSpans, ExportProblems, ShutDown};
use super::thrift::{BinaryFrame, Frame};
use super::JaegerExportError;
use crate::span::error_chain;

/// How long [`JaegerCollectorExporter`] waits for one request unless told otherwise.
pub const DEFAULT_COLLECTOR_TIMEOUT: Duration = Duration::from_secs(10);
/// The collector's span endpoint, used when the URL given has no path.
pub const COLLECTOR_PATH: &str = "/api/traces";
/// The content type of a Thrift binary body, as Jaeger's collector expects it.
const THRIFT_BINARY: &str = "application/vnd.apache.thrift.binary";
/// The largest body posted in one request; bigger batches are split. Jaeger's HTTP receiver
/// rejects bodies over 20 MiB by default.
const MAX_REQUEST_BODY: usize = 8 * 1024 * 1024;

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
    shut_down: ShutDown,
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
        Ok(JaegerCollectorExporter {
            endpoint: collector_url(endpoint.as_ref())?,
            timeout: DEFAULT_COLLECTOR_TIMEOUT,
            process: encode_process::<BinaryFrame>(&Resource::builder_empty().build()),
            seq_no: AtomicI64::new(0),
            worker: Mutex::new(None),
            shut_down: ShutDown::default(),
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

/// The URL spans are posted to for the collector endpoint `given`: an `http://` URL with a host,
/// [`COLLECTOR_PATH`] added when it has no path. The one place a collector URL is checked.
fn collector_url(given: &str) -> Result<Url, JaegerExportError> {
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
    Ok(url)
}

/// Checks a collector endpoint as [`JaegerCollectorExporter::new`] does, for configuration
/// validation: `Err` says what is expected instead.
pub(crate) fn check_collector_url(endpoint: &str) -> Result<(), String> {
    match collector_url(endpoint) {
        Ok(_) => Ok(()),
        Err(JaegerExportError::InvalidCollectorUrl { reason, .. }) => Err(format!(
            "an `http://` URL with a host, e.g. `http://jaeger:14268/api/traces` ({reason})"
        )),
        Err(_) => Err(
            "an `http://` URL: this build has no TLS, so `https://` cannot be sent to; \
             use `http://` to an in-cluster Jaeger or a local collector"
                .to_owned(),
        ),
    }
}

impl SpanExporter for JaegerCollectorExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.shut_down.check()?;
        self.send(&batch)
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.set();
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

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use opentelemetry::trace::SpanId;

    use super::super::encoding::tests::{block_on, span_named};
    use super::super::model;
    use super::*;

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
