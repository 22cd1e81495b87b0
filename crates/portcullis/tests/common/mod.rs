//! Helpers for running the built `portcullis` binary against temporary data directories.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// A command for the binary with a clean environment (no inherited PORTCULLIS_* or RUST_LOG),
/// run in `cwd`.
pub fn portcullis(cwd: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("PORTCULLIS_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(cwd).stdin(Stdio::null());
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run portcullis")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `portcullis --data-dir DIR admin --json ARGS…`, asserts success, parses stdout.
pub fn admin_json(cwd: &Path, data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let o = run(portcullis(cwd)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["admin", "--json"])
        .args(args));
    assert!(
        o.status.success(),
        "admin {args:?} failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("admin {args:?}: bad JSON ({e}):\n{}", stdout(&o)))
}

/// A temp working dir with a migrated data dir `data` in it, for admin commands.
pub struct DataDir {
    _tmp: tempfile::TempDir,
    /// The working directory.
    pub cwd: PathBuf,
    /// The data directory (`<cwd>/data`).
    pub data: PathBuf,
}

impl DataDir {
    /// Creates the dirs and runs `portcullis --data-dir DATA migrate`.
    pub fn migrated() -> DataDir {
        let tmp = tempfile::tempdir().unwrap();
        let cwd = tmp.path().to_path_buf();
        let data = cwd.join("data");
        let o = run(portcullis(&cwd).arg("--data-dir").arg(&data).arg("migrate"));
        assert!(o.status.success(), "{}", stderr(&o));
        DataDir {
            _tmp: tmp,
            cwd,
            data,
        }
    }

    /// [`admin_json`] on this data dir.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        admin_json(&self.cwd, &self.data, args)
    }

    /// [`DataDir::json`] with the arguments of `line` split at white space.
    pub fn run(&self, line: &str) -> serde_json::Value {
        self.json(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// [`admin_fails`] on this data dir.
    pub fn fails(&self, args: &[&str]) -> String {
        admin_fails(&self.cwd, &self.data, args)
    }
}

/// Runs an admin command that must fail; returns stderr.
pub fn admin_fails(cwd: &Path, data_dir: &Path, args: &[&str]) -> String {
    let o = run(portcullis(cwd)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("admin")
        .args(args));
    assert!(
        !o.status.success(),
        "admin {args:?} should fail:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `serve --listen 127.0.0.1:0` with JSON logs and waits for the listening line.
    pub fn start(mut cmd: Command) -> Server {
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn portcullis serve");
        let err = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<SocketAddr>();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && let Some(addr) = v["fields"]["addr"].as_str()
                    && v["fields"]["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("listening"))
                    && let Ok(addr) = addr.parse()
                {
                    let _ = tx.send(addr);
                }
                sink.lock().unwrap().push(line);
            }
        });
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(addr) => Server { child, addr, log },
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start:\n{}", log.lock().unwrap().join("\n"));
            }
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok);
    }

    /// Waits for the process to exit (at most 30 s) and returns its exit code.
    pub fn wait(mut self) -> (Option<i32>, String) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        panic!("server did not exit:\n{}", self.log_text());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET; returns (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http_request(addr, "GET", path, None);
    (status, body)
}

/// A minimal HTTP/1.1 request, with a JSON body when given; returns (status, head in lower
/// case, body).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = json.map_or(String::new(), |b| {
        format!(
            "content-type: application/json\r\ncontent-length: {}\r\n\r\n{b}",
            b.len()
        )
    });
    let body = if body.is_empty() {
        "\r\n".to_owned()
    } else {
        body
    };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{body}"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read response");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    (status, head.to_ascii_lowercase(), body.to_owned())
}
