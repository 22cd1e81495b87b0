//! Test support: the real OpenID provider harness (`tests/federation/provider.mjs`, npm
//! `oidc-provider`); the engine comes from `portcullis-testkit`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CLIENT_ID: &str = "portcullis-test";

/// A provider is ready in about a second; this only bounds a start that went wrong.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// `tests/federation` of the workspace (this module is also used by the surfaces' tests).
fn harness_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|d| d.join("tests/federation"))
        .find(|d| d.join("provider.mjs").exists())
        .expect("tests/federation/provider.mjs above the crate")
}

fn ensure_node_modules() {
    let dir = harness_dir();
    if !dir.join("node_modules/oidc-provider").exists() {
        let status = std::process::Command::new("npm")
            .arg("ci")
            .current_dir(&dir)
            .status()
            .expect("npm ci");
        assert!(status.success(), "npm ci failed in tests/federation");
    }
}

/// One running provider process; killed on drop.
pub struct Idp {
    child: Option<Child>,
    pub issuer: String,
    http: reqwest::Client,
}

impl Idp {
    pub async fn start(extra: &[&str]) -> Idp {
        ensure_node_modules();
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(extra)
            .current_dir(harness_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node provider.mjs");
        // The child's stderr is kept (last 64 KiB) so a failed start shows why, and echoed so a
        // running test still shows the provider's own errors.
        let stderr_tail = Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr_lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let tail = stderr_tail.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stderr_lines.next_line().await {
                eprintln!("[provider] {line}");
                let mut t = tail.lock().expect("stderr tail");
                t.push_str(&line);
                t.push('\n');
                if t.len() > 64 * 1024 {
                    let cut = t.len() - 64 * 1024;
                    let cut = (cut..t.len()).find(|i| t.is_char_boundary(*i)).unwrap_or(0);
                    t.drain(..cut);
                }
            }
        });
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(READY_TIMEOUT, lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = child.start_kill();
                let status = child.wait().await.ok();
                let why = match other {
                    Err(_) => format!("no ready line within {READY_TIMEOUT:?}"),
                    Ok(Err(e)) => format!("reading its stdout failed: {e}"),
                    Ok(Ok(None)) => format!("it exited before ready ({status:?})"),
                    Ok(Ok(Some(_))) => unreachable!(),
                };
                let stderr = stderr_tail.lock().expect("stderr tail").clone();
                panic!("the OIDC provider did not start: {why}\n--- provider stderr ---\n{stderr}");
            }
        };
        let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
        assert_eq!(ready["event"], "ready");
        let issuer = ready["issuer"].as_str().expect("issuer").to_owned();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Idp {
            child: Some(child),
            issuer,
            http: reqwest::Client::new(),
        }
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/__test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .expect("control request");
        let status = resp.status();
        let v: Value = resp.json().await.expect("control JSON");
        assert!(status.is_success(), "control {path}: {status} {v}");
        v
    }

    /// Real provider-issued tokens (authorization-code flow) for an account.
    pub async fn tokens(&self, body: Value) -> (String, String) {
        let v = self.control("tokens", body).await;
        (
            v["id_token"].as_str().expect("id_token").to_owned(),
            v["access_token"].as_str().expect("access_token").to_owned(),
        )
    }

    pub async fn sign(&self, body: Value) -> String {
        self.control("sign", body).await["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    pub async fn rotate(&self) -> Value {
        self.control("rotate-keys", json!({})).await
    }

    pub async fn jwks(&self) -> Value {
        self.http
            .get(format!("{}/jwks", self.issuer))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    }

    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill().await;
            let _ = c.wait().await;
        }
    }
}
