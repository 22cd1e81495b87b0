//! `portcullis serve`: zero-config first start, restart, graceful SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use common::*;

/// First start: creates the data dir, the 0600 key file and the SQLite store, bootstraps the
/// super-admin (password printed once), is ready; SIGTERM while a slow request is in flight lets
/// it finish and exits 0. Second start: same store and key file, no second bootstrap.
#[test]
fn fresh_start_restart_and_graceful_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let data = cwd.join("portcullis-data");
    let key_path = data.join("master.key");

    let mut cmd = portcullis(cwd);
    cmd.env("PORTCULLIS_TEST_HOOKS", "1");
    let server = Server::start(cmd);
    let (status, body) = http_get(server.addr, "/readyz");
    assert_eq!(status, 200, "{body}");
    assert_eq!(http_get(server.addr, "/healthz").0, 200);
    assert_eq!(http_get(server.addr, "/nope").0, 404);
    let (status, metrics) = http_get(server.addr, "/metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("http_requests_total"), "{metrics}");
    // Every algorithm's signing key is published from the first start.
    let kids = published_kids(server.addr);
    let algs: Vec<&str> = kids.iter().map(|(alg, _)| alg.as_str()).collect();
    assert_eq!(algs, ["EdDSA", "RS256", "ES256"]);

    // The default data directory layout.
    assert!(data.join("portcullis.db").is_file());
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode");
    let key_text = std::fs::read_to_string(&key_path).unwrap();

    // The generated password is shown exactly once, outside the structured logs.
    let log = server.log_text();
    assert_eq!(log.matches("Generated password").count(), 1, "{log}");
    let password = log
        .lines()
        .find_map(|l| l.split("Generated password (shown only once): ").nth(1))
        .unwrap()
        .trim()
        .to_owned();
    assert!(password.len() >= 20);
    assert_eq!(
        log.matches(&password).count(),
        1,
        "password must not be logged again"
    );

    // A slow request in flight when SIGTERM arrives completes; then exit 0.
    let addr = server.addr;
    let slow = std::thread::spawn(move || http_get(addr, "/__test/sleep/1500"));
    std::thread::sleep(Duration::from_millis(400));
    server.sigterm();
    let (status, body) = slow.join().unwrap();
    assert_eq!(status, 200, "slow request: {body}");
    assert!(body.contains("slept"));
    let (code, log) = server.wait();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("shutdown complete"), "{log}");
    assert_eq!(log.matches(&password).count(), 1, "password logged again");

    // Second start reuses the store and the key file.
    let server = Server::start(portcullis(cwd));
    assert_eq!(http_get(server.addr, "/readyz").0, 200);
    let log = server.log_text();
    assert!(!log.contains("Generated password"), "{log}");
    assert!(log.contains("using the master key file"), "{log}");
    assert_eq!(std::fs::read_to_string(&key_path).unwrap(), key_text);
    assert_eq!(
        published_kids(server.addr),
        kids,
        "the same keys, none made again"
    );
    server.sigterm();
    let (code, log) = server.wait();
    assert_eq!(code, Some(0), "{log}");

    // Still exactly the one bootstrapped user.
    let users = admin_json(cwd, &data, &["user", "list"]);
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "admin@portcullis.local");
    assert_eq!(users[0]["super_admin"], true);
    assert!(users[0].get("password_hash").is_none());
    let members = admin_json(cwd, &data, &["member", "list", "--org", "default"]);
    assert_eq!(members[0]["roles"], serde_json::json!(["ADMIN"]));
}

/// The `(alg, kid)` of every key in the server's JWKS, in its order.
fn published_kids(addr: std::net::SocketAddr) -> Vec<(String, String)> {
    let (status, body) = http_get(addr, "/.well-known/jwks.json");
    assert_eq!(status, 200, "{body}");
    let jwks: serde_json::Value = serde_json::from_str(&body).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["alg"].as_str().unwrap().into(),
                k["kid"].as_str().unwrap().into(),
            )
        })
        .collect()
}

/// A weak bootstrap password is refused before anything is written.
#[test]
fn bootstrap_password_from_env_is_policy_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let o = run(portcullis(tmp.path())
        .arg("--data-dir")
        .arg(&data)
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "password")
        .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "root@example.com")
        .args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD"), "{err}");
    assert!(err.contains("common passwords"), "{err}");
    assert!(!data.exists(), "nothing may be written");
}

/// One raw GET with an `x-request-id`; returns the status.
fn get_with_id(addr: std::net::SocketAddr, path: &str, id: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nx-request-id: {id}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read response");
    assert!(
        resp.to_ascii_lowercase()
            .contains(&format!("x-request-id: {id}")),
        "{resp}"
    );
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The JSON access line (written directly, not through the `tracing` formatter) keeps every
/// field, in the formatter's shape, with the request id where the request span showed it.
#[test]
fn json_access_lines_keep_every_field_and_the_request_id() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(portcullis(tmp.path()));
    assert_eq!(get_with_id(server.addr, "/healthz", "edge-test-1"), 200);
    assert_eq!(get_with_id(server.addr, "/no/such", "edge-test-2"), 404);
    let access = |id: &str| -> (String, serde_json::Value) {
        for _ in 0..300 {
            let found = server.log.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["fields"]["message"] == "request finished" && v["span"]["request_id"] == id)
                    .then(|| (l.clone(), v))
            });
            if let Some(v) = found {
                return v;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no access line for {id}:\n{}", server.log_text());
    };
    let (raw, line) = access("edge-test-1");
    // The keys in the formatter's order.
    let at: Vec<usize> = [
        "{\"timestamp\":",
        ",\"level\":",
        ",\"fields\":{\"message\":",
        ",\"method\":",
        ",\"path\":",
        ",\"client_ip\":",
        ",\"status\":",
        ",\"route\":",
        ",\"latency_ms\":",
        "},\"target\":",
        ",\"span\":{\"request_id\":",
        ",\"name\":\"request\"}}",
    ]
    .iter()
    .map(|k| raw.find(k).unwrap_or_else(|| panic!("no {k} in {raw}")))
    .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{raw}");
    assert!(raw.ends_with("}}"), "{raw}");
    assert_eq!(line.as_object().unwrap().len(), 5, "{raw}");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "portcullis_server");
    assert_eq!(line["span"]["name"], "request");
    let ts = line["timestamp"].as_str().unwrap();
    assert!(ts.len() == 27 && ts.ends_with('Z'), "{ts}");
    let f = &line["fields"];
    assert_eq!(f.as_object().unwrap().len(), 7, "{raw}");
    assert_eq!(f["method"], "GET");
    assert_eq!(f["path"], "/healthz");
    assert_eq!(f["client_ip"], "127.0.0.1");
    assert_eq!(f["status"], 200);
    assert_eq!(f["route"], "/healthz");
    assert!(f["latency_ms"].as_f64().unwrap() >= 0.0);
    let (_, line) = access("edge-test-2");
    assert_eq!(line["fields"]["status"], 404);
    assert_eq!(line["fields"]["route"], "unmatched");
    assert_eq!(line["fields"]["path"], "/no/such");
}
