//! A real Jaeger v2 (all-in-one, in-memory storage) on free loopback ports, for end-to-end
//! tests: start it, export to one of its receivers, query its HTTP API for what arrived; kill,
//! restart (same ports) or freeze it to make an outage.
//!
//! The binary is built by `.ci/jaeger.sh` (pinned, cached under the user's cache dir); point
//! `MAESTRO_JAEGER_BIN` at it or leave it in the default cache location. A missing binary is a
//! test failure that says how to build it, never a silent skip.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::{free_tcp_port, scratch_dir};

/// The Jaeger module version `.ci/jaeger.sh` builds (the same commit as Jaeger v2.13.0).
pub const JAEGER_MODULE_VERSION: &str = "v1.76.0";

/// The sampling strategies every test Jaeger serves: service `remote-never` samples nothing,
/// every other service everything.
pub const SAMPLING_STRATEGIES: &str = r#"{
  "default_strategy": {"type": "probabilistic", "param": 1.0},
  "service_strategies": [{"service": "remote-never", "type": "probabilistic", "param": 0.0}]
}"#;

/// A running Jaeger, killed when dropped. It can be stopped, restarted on the same ports, and
/// paused (outage tests).
#[derive(Debug)]
pub struct Jaeger {
    /// The process; `None` while stopped.
    child: Option<Child>,
    bin: PathBuf,
    dir: PathBuf,
    /// OTLP gRPC receiver, `http://127.0.0.1:PORT`.
    pub otlp_grpc: String,
    /// OTLP HTTP receiver, `http://127.0.0.1:PORT`.
    pub otlp_http: String,
    /// Thrift compact over UDP (the agent protocol).
    pub agent_udp: SocketAddr,
    /// Thrift binary over HTTP, `http://127.0.0.1:PORT/api/traces`.
    pub collector_http: String,
    /// The query API, `http://127.0.0.1:PORT`.
    pub query: String,
    /// Remote sampling strategies, `http://127.0.0.1:PORT/sampling` (see [`SAMPLING_STRATEGIES`]).
    pub sampling: String,
    health: String,
    client: reqwest::blocking::Client,
}

fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MAESTRO_JAEGER_BIN") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache
        .join("maestro-trace/jaeger")
        .join(JAEGER_MODULE_VERSION)
        .join("jaeger")
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free UDP port on 127.0.0.1")
}

impl Jaeger {
    /// Starts Jaeger and waits until it reports healthy.
    ///
    /// Free ports are found by binding port 0 and releasing it, so another process can take one
    /// before Jaeger binds it; Jaeger then exits at once, and it is started again on new ports.
    ///
    /// # Panics
    /// If the binary is missing, or Jaeger fails to become healthy 5 times (with its log).
    pub fn start() -> Jaeger {
        let bin = binary();
        assert!(
            bin.exists(),
            "no Jaeger binary at {}: build it with `bash .ci/jaeger.sh` (or set MAESTRO_JAEGER_BIN)",
            bin.display()
        );
        let mut last_log = String::new();
        for _attempt in 0..5 {
            match Jaeger::start_once(&bin) {
                Ok(jaeger) => return jaeger,
                Err(log) => last_log = log,
            }
        }
        panic!("Jaeger did not become healthy in 5 attempts; its last log:\n{last_log}");
    }

    fn start_once(bin: &std::path::Path) -> Result<Jaeger, String> {
        let [grpc, http, collector, query, query_grpc, health, sampling] =
            [(); 7].map(|_| free_tcp_port());
        let udp = free_udp_port();
        let dir = scratch_dir("maestro-jaeger");
        let strategies = dir.join("strategies.json");
        std::fs::write(&strategies, SAMPLING_STRATEGIES)
            .map_err(|e| format!("write strategies: {e}"))?;
        let strategies = strategies.display();
        let config = format!(
            r#"service:
  extensions: [jaeger_storage, jaeger_query, remote_sampling, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp, jaeger]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:{query}
    grpc:
      endpoint: 127.0.0.1:{query_grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  remote_sampling:
    file:
      path: {strategies}
    http:
      endpoint: 127.0.0.1:{sampling}
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:{health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:{grpc}
      http:
        endpoint: 127.0.0.1:{http}
  jaeger:
    protocols:
      thrift_http:
        endpoint: 127.0.0.1:{collector}
      thrift_compact:
        endpoint: 127.0.0.1:{udp}
        # Room for a burst of 65 KB datagrams: the 212 KB default holds about three.
        socket_buffer_size: 4194304
processors:
  batch:
    timeout: 50ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"#
        );
        std::fs::write(dir.join("config.yaml"), config)
            .map_err(|e| format!("write config: {e}"))?;
        let mut jaeger = Jaeger {
            child: None,
            bin: bin.to_owned(),
            dir,
            otlp_grpc: format!("http://127.0.0.1:{grpc}"),
            otlp_http: format!("http://127.0.0.1:{http}"),
            agent_udp: SocketAddr::from(([127, 0, 0, 1], udp)),
            collector_http: format!("http://127.0.0.1:{collector}/api/traces"),
            query: format!("http://127.0.0.1:{query}"),
            sampling: format!("http://127.0.0.1:{sampling}/sampling"),
            health: format!("http://127.0.0.1:{health}/status"),
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .map_err(|e| format!("HTTP client: {e}"))?,
        };
        // On failure `jaeger` is dropped: the process is killed and its directory removed.
        jaeger.launch()?;
        Ok(jaeger)
    }

    /// Starts the process from the written config (its log appended to `jaeger.log`) and waits
    /// until it reports healthy; on failure the process is gone and the log says why.
    fn launch(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("jaeger.log"))
            .map_err(|e| format!("log: {e}"))?;
        let log_for_stdout = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new(&self.bin)
            // Jaeger traces itself through the OpenTelemetry SDK's environment: keep a test
            // Jaeger from sending to whatever listens on the default localhost:4317.
            .env("OTEL_TRACES_EXPORTER", "none")
            .env("OTEL_SDK_DISABLED", "true")
            .arg("--config")
            .arg(format!("file:{}", self.dir.join("config.yaml").display()))
            .stdin(Stdio::null())
            .stdout(log_for_stdout)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", self.bin.display()))?;
        let child = self.child.insert(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!("Jaeger exited ({status}):\n{}", self.log()));
            }
            let healthy = self
                .client
                .get(&self.health)
                .send()
                .is_ok_and(|r| r.status().is_success());
            if healthy {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
        Err(format!("not healthy within 30 s:\n{}", self.log()))
    }

    /// Kills Jaeger (an outage: its ports close, what it stored is gone). [`Jaeger::restart`]
    /// brings it back on the same ports.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts Jaeger again on the same ports, so that a running application finds it at the
    /// endpoint it was given, and waits until it is healthy. Empty: storage is in memory.
    ///
    /// # Panics
    /// If it does not become healthy in 5 attempts, e.g. because another process took one of
    /// its ports while it was down (with its log).
    pub fn restart(&mut self) {
        self.stop();
        let mut last_log = String::new();
        for _attempt in 0..5 {
            match self.launch() {
                Ok(()) => return,
                Err(log) => last_log = log,
            }
            // A port still held (e.g. by the old process's last socket) frees up shortly.
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("Jaeger did not come back on its ports in 5 attempts; its log:\n{last_log}");
    }

    /// Freezes Jaeger (SIGSTOP): its ports keep accepting connections, nothing answers; the
    /// endpoint that hangs. [`Jaeger::resume`] thaws it.
    ///
    /// # Panics
    /// If Jaeger is stopped or the signal cannot be sent.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused Jaeger (SIGCONT).
    ///
    /// # Panics
    /// If Jaeger is stopped or the signal cannot be sent.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("Jaeger is running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .unwrap_or_else(|e| panic!("kill {signal} {pid}: {e}"));
        assert!(status.success(), "kill {signal} {pid}: {status}");
    }

    /// Jaeger's own log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("jaeger.log")).unwrap_or_default()
    }

    fn get(&self, path_and_query: &str) -> Value {
        let url = format!("{}{path_and_query}", self.query);
        let response = self
            .client
            .get(&url)
            .send()
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        response
            .json::<Value>()
            .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
    }

    /// `GET /api/services`.
    pub fn services(&self) -> Vec<String> {
        self.get("/api/services")["data"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `GET /api/traces?service=..&tags=..`: the traces (Jaeger JSON) matching every tag.
    pub fn find_traces(&self, service: &str, tags: &[(&str, &str)]) -> Vec<Value> {
        let mut query = format!("/api/traces?service={}&limit=1000", encode(service));
        if !tags.is_empty() {
            let object: serde_json::Map<String, Value> = tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
                .collect();
            query.push_str(&format!(
                "&tags={}",
                encode(&Value::Object(object).to_string())
            ));
        }
        self.get(&query)["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// `GET /api/traces/{id}`.
    pub fn trace(&self, trace_id: &str) -> Option<Value> {
        self.get(&format!("/api/traces/{trace_id}"))["data"]
            .as_array()
            .and_then(|traces| traces.first().cloned())
    }

    /// Polls until `service` has at least `spans` spans stored (Jaeger batches before storing),
    /// returning its traces.
    ///
    /// # Panics
    /// After 20 s, listing what did arrive.
    pub fn wait_for_spans(&self, service: &str, spans: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let traces = self.find_traces(service, &[]);
            let count: usize = traces.iter().map(|t| spans_of(t).len()).sum();
            if count >= spans {
                return traces;
            }
            if Instant::now() > deadline {
                panic!(
                    "expected {spans} spans of `{service}` in Jaeger, found {count}; services: {:?}\nJaeger log:\n{}",
                    self.services(),
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encodes a query parameter value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The spans of one trace (Jaeger JSON).
pub fn spans_of(trace: &Value) -> Vec<Value> {
    trace["spans"].as_array().cloned().unwrap_or_default()
}

/// The span named `operation` in `trace`.
///
/// # Panics
/// If there is not exactly one, listing the names present.
pub fn span_named(trace: &Value, operation: &str) -> Value {
    let spans = spans_of(trace);
    let found: Vec<&Value> = spans
        .iter()
        .filter(|s| s["operationName"] == operation)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one span `{operation}`, found {}; spans: {:?}",
        found.len(),
        spans
            .iter()
            .map(|s| &s["operationName"])
            .collect::<Vec<_>>()
    );
    found[0].clone()
}

/// A tag of a span or process: its Jaeger type (`string`, `int64`, `float64`, `bool`) and value.
pub fn tag(tags_owner: &Value, key: &str) -> Option<(String, Value)> {
    tags_owner["tags"].as_array()?.iter().find_map(|t| {
        (t["key"] == key).then(|| {
            (
                t["type"].as_str().unwrap_or_default().to_owned(),
                t["value"].clone(),
            )
        })
    })
}

/// A string tag of a span or process (`None` when absent or of another type).
pub fn tag_str(tags_owner: &Value, key: &str) -> Option<String> {
    tag(tags_owner, key).and_then(|(kind, value)| {
        (kind == "string")
            .then(|| value.as_str().map(str::to_owned))
            .flatten()
    })
}

/// An integer tag of a span or process (`None` when absent or of another type).
pub fn tag_i64(tags_owner: &Value, key: &str) -> Option<i64> {
    tag(tags_owner, key)
        .and_then(|(kind, value)| (kind == "int64").then(|| value.as_i64()).flatten())
}

/// The spanID of `span`'s CHILD_OF parent, if any.
pub fn parent_of(span: &Value) -> Option<String> {
    span["references"].as_array()?.iter().find_map(|r| {
        (r["refType"] == "CHILD_OF").then(|| r["spanID"].as_str().unwrap_or_default().to_owned())
    })
}

/// The process (service name and tags) of `span` within `trace`.
pub fn process_of(trace: &Value, span: &Value) -> Value {
    let id = span["processID"].as_str().unwrap_or_default();
    trace["processes"][id].clone()
}
