//! A throwaway Redis server on a free loopback port (no persistence), for tests of the `redis`
//! integration: started, killed on demand (a cache that dies under load), and killed when
//! dropped.
//!
//! The server comes from the Debian package (`apt-get install -y redis-server`, which `.ci/run`
//! does when it is missing), or `MAESTRO_REDIS_SERVER`. A missing server is a test failure that
//! says how to install it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::{free_tcp_port, program, scratch_dir};

const INSTALL: &str = "install Redis with `apt-get install -y redis-server` (what .ci/run does)";

/// A running `redis-server`, killed when dropped.
#[derive(Debug)]
pub struct Redis {
    child: Option<Child>,
    dir: PathBuf,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    /// Starts a server and waits until it answers `PING`, retrying on a new port if the one
    /// picked was taken.
    ///
    /// # Panics
    /// If Redis is not installed, or it fails to start 5 times (with its log).
    pub fn start() -> Redis {
        let bin = program("MAESTRO_REDIS_SERVER", "redis-server", &[], INSTALL);
        let mut last = String::new();
        for _attempt in 0..5 {
            let mut redis = Redis {
                child: None,
                dir: scratch_dir("maestro-redis"),
                port: free_tcp_port(),
            };
            match redis.launch(&bin) {
                Ok(()) => return redis,
                Err(log) => last = log,
            }
        }
        panic!("redis-server did not start in 5 attempts; its last log:\n{last}");
    }

    /// `redis://127.0.0.1:PORT/DB`.
    pub fn url(&self, db: u8) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    fn launch(&mut self, bin: &std::path::Path) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.join("log")).map_err(|e| format!("log: {e}"))?;
        let child = Command::new(bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| format!("log: {e}"))?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("redis-server exited ({status}):\n{}", self.log()));
            }
            if self.pong() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        Err(format!("no PONG within 10 s:\n{}", self.log()))
    }

    fn pong(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Kills the server (SIGKILL): connections break, nothing answers on its port.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
