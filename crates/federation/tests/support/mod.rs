//! Test support: the real OpenID provider harness (`tests/federation/provider.mjs`, npm
//! `oidc-provider`) and an engine on a temporary SQLite store.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::config::CoreConfig;
use portcullis_core::crypto::MasterKey;
use portcullis_core::engine::Engine;
use portcullis_core::{NewOrg, Org};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CLIENT_ID: &str = "portcullis-test";

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
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn node provider.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("provider did not start in time")
            .expect("read provider stdout")
            .expect("provider exited before ready");
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

pub struct Env {
    pub engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

pub async fn engine() -> Env {
    engine_with(CoreConfig::default()).await
}

pub async fn engine_with(config: CoreConfig) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fed.db");
    let store = portcullis_store::open(path.to_str().expect("path"))
        .await
        .expect("open store");
    store
        .upsert_region(config.region.clone())
        .await
        .expect("region");
    let engine = Engine::start(store, config, MasterKey::generate())
        .await
        .expect("engine");
    Env { engine, _dir: dir }
}

pub async fn org(env: &Env, name: &str) -> Org {
    env.engine
        .store()
        .create_org(NewOrg {
            name: name.into(),
            display_name: None,
            region_id: env.engine.config().region.id.clone(),
        })
        .await
        .expect("create org")
}
