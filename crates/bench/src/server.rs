//! The server under test: a release `portcullis` child process (optionally under `taskset`),
//! its readiness, its resident memory, and the admin CLI run against the same configuration.

use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The password of the bootstrap super-admin (never used for load; it only has to pass policy).
pub const BOOTSTRAP_PASSWORD: &str = "bench-bootstrap-Passw0rd!";

/// How to start the server: binary, config file, CPU list for `taskset`, and log file.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    pub bin: PathBuf,
    pub config: PathBuf,
    /// `taskset -c <cpus>` when set.
    pub cpus: Option<String>,
    pub log: PathBuf,
    pub addr: SocketAddr,
}

/// A running server. Dropping it kills the process.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
}

impl ServerSpec {
    pub fn start(&self) -> anyhow::Result<Server> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut cmd = match &self.cpus {
            // taskset execs the server, so the child's pid is the server's.
            Some(cpus) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpus).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env_remove("RUST_LOG")
            .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", BOOTSTRAP_PASSWORD)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, _) in std::env::vars() {
            if k.starts_with("PORTCULLIS_") && k != "PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD" {
                cmd.env_remove(k);
            }
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        let pid = child.id();
        let mut server = Server {
            child: Some(child),
            pid,
            addr: self.addr,
        };
        server.wait_ready(Duration::from_secs(60), &self.log)?;
        Ok(server)
    }
}

/// One blocking HTTP/1.1 GET with `Connection: close`; returns the whole answer.
fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    Ok(buf)
}

/// The server's `store_round_trips_total` (summed over its labels) from `/metrics`; `None` when
/// the server does not export it.
pub fn store_round_trips(addr: SocketAddr) -> Option<f64> {
    let body = http_get(addr, "/metrics").ok()?;
    let text = String::from_utf8_lossy(&body);
    let values: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("store_round_trips_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// One blocking HTTP/1.1 GET with `Connection: close`; returns the status code.
pub fn http_get_status(addr: SocketAddr, path: &str) -> anyhow::Result<u16> {
    let buf = http_get(addr, path)?;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(64)]).into_owned();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("not an HTTP response: {head:?}"))?;
    Ok(code)
}

impl Server {
    fn wait_ready(&mut self, timeout: Duration, log: &Path) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                let tail = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = tail
                    .lines()
                    .rev()
                    .take(20)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n");
                bail!("the server exited during start-up ({status}); log tail:\n{tail}");
            }
            if let Ok(200) = http_get_status(self.addr, "/readyz") {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("the server was not ready within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident set size in KiB, from `/proc/<pid>/status` (`VmRSS`).
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        rss_kib(self.pid)
    }

    pub fn private_rss_kib(&self) -> anyhow::Result<u64> {
        private_rss_kib(self.pid)
    }

    /// SIGTERM (graceful: the audit queue is flushed, the store closed), then wait.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait()? {
                if !status.success() {
                    bail!("the server exited with {status} on SIGTERM");
                }
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the server did not stop within 60 s of SIGTERM; killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// The private (anonymous) part of the RSS: what the process itself allocated, without the
/// file-backed pages of its binary and libraries (clean, shared, reclaimable).
pub fn private_rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "RssAnon:")
}

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/<pid>/status"))
}

/// Runs `portcullis --config <cfg> admin --json <args>`, feeding `stdin` if given, and returns
/// its JSON output.
pub fn admin_cli(
    bin: &Path,
    config: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(config)
        .arg("admin")
        .arg("--json")
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cannot run the admin CLI")?;
    if let Some(input) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        writeln!(pipe, "{input}")?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "portcullis admin {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "portcullis admin {}: output is not JSON: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
