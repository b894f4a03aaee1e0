//! What the harnesses of real servers (Jaeger, PostgreSQL, Redis) share: free loopback ports,
//! a private scratch directory per server, and a program that must be installed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A TCP port free on 127.0.0.1 right now (bound to port 0 and released: another process can
/// take it before the server binds it, so harnesses retry on a new port when a start fails).
///
/// # Panics
/// If no port can be bound.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free TCP port on 127.0.0.1")
}

/// A new empty directory under the system's temp dir, named after `prefix`, this process and a
/// fresh port number (unique while that port is held by nobody else).
///
/// # Panics
/// If it cannot be created.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        free_tcp_port()
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// The program at `$env_var`, else `name` found on `PATH` or in one of `dirs`.
///
/// # Panics
/// If it is nowhere, with `install` saying how to get it: a test that needs a server fails,
/// it is never skipped.
pub fn program(env_var: &str, name: &str, dirs: &[PathBuf], install: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "{env_var}={} does not exist; {install}",
            path.display()
        );
        return path;
    }
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.iter()
        .chain(path_dirs.iter())
        .map(|dir| dir.join(name))
        .find(|candidate| is_file(candidate))
        .unwrap_or_else(|| {
            panic!("`{name}` not found (set {env_var} or put it on PATH); {install}")
        })
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}
