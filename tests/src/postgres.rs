//! A throwaway PostgreSQL cluster on a free loopback port, for tests of the `sqlx` integration:
//! initialised in a scratch directory, started, and stopped (its files removed) when dropped.
//!
//! The server comes from the Debian package (`apt-get install -y postgresql`, which `.ci/run`
//! does when it is missing); `MAESTRO_PG_CTL` may point at another `pg_ctl` (its `initdb` is
//! taken from the same directory). PostgreSQL refuses to run as root: as root, the cluster runs
//! as the `postgres` user. A missing server is a test failure that says how to install it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::server::{free_tcp_port, program, scratch_dir};

const INSTALL: &str = "install PostgreSQL with `apt-get install -y postgresql` (what .ci/run does)";

/// A running PostgreSQL cluster (trust authentication, user `postgres`), stopped when dropped.
#[derive(Debug)]
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres_user: bool,
    running: bool,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl Postgres {
    /// Initialises and starts a cluster, retrying on a new port if the one picked was taken.
    ///
    /// # Panics
    /// If PostgreSQL is not installed, or it fails to start 5 times (with its log).
    pub fn start() -> Postgres {
        let pg_ctl = program("MAESTRO_PG_CTL", "pg_ctl", &debian_bin_dirs(), INSTALL);
        let bin = pg_ctl.parent().map(Path::to_owned).unwrap_or_default();
        let as_postgres_user = is_root();
        let mut last = String::new();
        for _attempt in 0..5 {
            let mut postgres = Postgres {
                dir: scratch_dir("maestro-pg"),
                bin: bin.clone(),
                as_postgres_user,
                running: false,
                port: free_tcp_port(),
            };
            match postgres.init_and_start() {
                Ok(()) => return postgres,
                Err(log) => last = log,
            }
        }
        panic!("PostgreSQL did not start in 5 attempts; last output:\n{last}");
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn init_and_start(&mut self) -> Result<(), String> {
        if self.as_postgres_user {
            // The server must own its data directory's parent and its socket directory.
            run(Command::new("chown").arg("postgres").arg(&self.dir))?;
        }
        let data = self.dir.join("data");
        run(self.tool("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]))?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let started = run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-o", &options, "start"]));
        match started {
            Ok(()) => {
                self.running = true;
                Ok(())
            }
            Err(output) => Err(format!("{output}\n{}", self.log())),
        }
    }

    /// Stops the server at once (`immediate`): a database that went away.
    pub fn stop(&mut self) {
        if std::mem::take(&mut self.running) {
            let _ = self
                .tool("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// A command running one of the server's programs, as the `postgres` user when we are root.
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `/usr/lib/postgresql/<version>/bin`, newest version first.
fn debian_bin_dirs() -> Vec<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs `command`, returning its output as the error when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .map_err(|e| format!("could not run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {status}\n{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ))
    }
}
