//! The ML API example (`examples/ml_api.rs`) as the tests run it: its own process, configured
//! through its environment like a deployed service.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::server::{free_tcp_port, scratch_dir};

/// The ML API, running on a free loopback port with its stderr in a log file; killed when
/// dropped.
#[derive(Debug)]
pub struct MlApi {
    child: Child,
    dir: PathBuf,
    /// Where it serves, on 127.0.0.1.
    pub address: SocketAddr,
}

impl MlApi {
    /// Starts the service with exactly `env` (plus `PORT`) and waits until it serves
    /// (`GET /health`), on another port when the one picked was taken meanwhile.
    ///
    /// # Panics
    /// If it does not serve after 5 attempts.
    pub fn start(env: &[(&str, String)]) -> MlApi {
        // A free port may be taken before the service binds it: then it exits, and is
        // started again on another one.
        let mut last = String::new();
        for _attempt in 0..5 {
            let port = free_tcp_port();
            let dir = scratch_dir("maestro-ml-api");
            let stderr = std::fs::File::create(dir.join("stderr.log"))
                .unwrap_or_else(|e| panic!("create the service's log in {}: {e}", dir.display()));
            let child = Command::new(binary())
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("PORT", port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr)
                .spawn()
                .expect("start the ML API");
            let mut api = MlApi {
                child,
                dir,
                address: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            if api.wait_until_serving() {
                return api;
            }
            last = api.log();
        }
        panic!("the ML API did not start in 5 attempts; its last log:\n{last}");
    }

    fn wait_until_serving(&mut self) -> bool {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.try_wait().is_some() {
                return false;
            }
            let url = format!("http://{}/health", self.address);
            if client
                .get(url)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    ///
    /// # Panics
    /// If the process cannot be waited for.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the ML API")
    }

    /// What it wrote to stderr so far (its log lines, and the export counters once stopped).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

/// Sends `request` to the ML API and returns the response's status and the trace id its
/// `x-trace-id` header names (empty when it has none).
///
/// # Panics
/// If the service does not answer.
pub fn send(request: reqwest::blocking::RequestBuilder) -> (u16, String) {
    let response = request.send().expect("the ML API answers");
    let trace = response
        .headers()
        .get("x-trace-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), trace)
}

impl Drop for MlApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The example's executable, built (or found fresh) by Cargo itself, so a test never runs a
/// stale copy. With the workspace's feature set, as `cargo test --workspace` (CI) built it
/// already: then this is a no-op build.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let output = Command::new(cargo)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args([
                "build",
                "--quiet",
                "--workspace",
                "--example=ml_api",
                "--message-format=json",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(
            output.status.success(),
            "`cargo build --example ml_api` failed"
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find_map(|message| {
                let ours = message["reason"] == "compiler-artifact"
                    && message["target"]["name"] == "ml_api";
                ours.then(|| message["executable"].as_str().map(PathBuf::from))
                    .flatten()
            })
            .expect("cargo names the ml_api executable")
    })
}
