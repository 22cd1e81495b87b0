//! The `login-totp` scenario's users and workload: a password + TOTP sign-in through the
//! account API's JSON sign-in (`POST /account/v1/sign-in`, then `/sign-in/second-factor`),
//! the codes computed here with `totp-rs` from each user's `otpauth://` URI. A code is accepted
//! once, so each user signs in at most once per 30 s step: the pool must be larger than the
//! sign-ins of a step.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use parking_lot::Mutex;
use serde_json::{Value, json};
use totp_rs::Totp;

use crate::load::{Rng, Workload};
use crate::seed;
use crate::seed_api::{json_of, send};

/// One enrolled user: email and TOTP.
pub struct TotpUser {
    pub email: String,
    pub totp: Totp,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

async fn call(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        b = b.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = b.body(Full::new(Bytes::from(serde_json::to_vec(&body)?)))?;
    let (status, _, bytes) = send(addr, req).await?;
    Ok((status, json_of(&bytes)))
}

/// Enrols TOTP for the bulk user `index` (JSON sign-in, start, confirm with the previous step's
/// code so the current and next stay free).
async fn enrol_one(addr: SocketAddr, index: u64) -> anyhow::Result<TotpUser> {
    let email = seed::user_email(index);
    let creds = json!({"email": email, "password": seed::BENCH_PASSWORD});
    let (status, v) = call(addr, "/account/v1/sign-in", None, creds).await?;
    let token = v["token"]
        .as_str()
        .with_context(|| format!("sign-in of {email} (HTTP {status}): {v}"))?
        .to_owned();
    let (status, v) = call(addr, "/account/v1/factors/totp", Some(&token), json!({})).await?;
    let (Some(uri), Some(id)) = (v["otpauthUri"].as_str(), v["factorId"].as_str()) else {
        bail!("TOTP enrolment of {email} (HTTP {status}): {v}");
    };
    let totp = Totp::from_url(uri).map_err(|e| anyhow::anyhow!("otpauth uri: {e}"))?;
    let code = totp.generate(unix_now().saturating_sub(30)).to_string();
    let path = format!("/account/v1/factors/totp/{id}/confirm");
    let (status, v) = call(addr, &path, Some(&token), json!({"code": code})).await?;
    if status != StatusCode::OK {
        bail!("TOTP confirmation of {email} (HTTP {status}): {v}");
    }
    Ok(TotpUser { email, totp })
}

/// Enrols the bulk users `first..first+count`, eight at a time.
pub async fn enrol(addr: SocketAddr, first: u64, count: u64) -> anyhow::Result<Vec<TotpUser>> {
    let mut out = Vec::with_capacity(count as usize);
    let mut next = first;
    while next < first + count {
        let batch: Vec<_> = (next..(next + 8).min(first + count))
            .map(|i| tokio::spawn(enrol_one(addr, i)))
            .collect();
        next += batch.len() as u64;
        for h in batch {
            out.push(h.await??);
        }
    }
    Ok(out)
}

/// Per connection: the user of its sign-in in flight and, once answered, its challenge.
#[derive(Default)]
struct Pending {
    user: Option<usize>,
    challenge: Option<String>,
}

pub struct LoginTotp {
    pub host: HeaderValue,
    users: Vec<TotpUser>,
    /// Per user: the last 30 s step it signed in at (each code is accepted once).
    last_step: Vec<AtomicU64>,
    next: AtomicUsize,
    pending: Vec<Mutex<Pending>>,
}

impl LoginTotp {
    pub fn new(host: HeaderValue, users: Vec<TotpUser>, conns: usize) -> LoginTotp {
        LoginTotp {
            host,
            last_step: users.iter().map(|_| AtomicU64::new(0)).collect(),
            users,
            next: AtomicUsize::new(0),
            pending: (0..conns).map(|_| Mutex::new(Pending::default())).collect(),
        }
    }

    /// A user who has not signed in during this step (or any user, which the server will then
    /// refuse as a replay: an error row says the pool was too small).
    fn pick(&self) -> usize {
        let step = unix_now() / 30;
        let n = self.users.len();
        for _ in 0..n {
            let u = self.next.fetch_add(1, Ordering::Relaxed) % n;
            let last = self.last_step[u].load(Ordering::Relaxed);
            if last < step
                && self.last_step[u]
                    .compare_exchange(last, step, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                return u;
            }
        }
        self.next.fetch_add(1, Ordering::Relaxed) % n
    }

    fn post(&self, path: &str, body: Value) -> Request<Full<Bytes>> {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(http::header::HOST, self.host.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap_or_default()
    }
}

impl Workload for LoginTotp {
    fn classes(&self) -> Vec<&'static str> {
        vec!["password", "totp"]
    }

    fn request(&self, conn: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let mut p = self.pending[conn % self.pending.len()].lock();
        if let (Some(u), Some(challenge)) = (p.user, p.challenge.take()) {
            p.user = None;
            let code = self.users[u].totp.generate(unix_now()).to_string();
            let body = json!({"challenge": challenge, "totpCode": code});
            return (1, self.post("/account/v1/sign-in/second-factor", body));
        }
        let u = self.pick();
        p.user = Some(u);
        let body = json!({"email": self.users[u].email, "password": seed::BENCH_PASSWORD});
        (0, self.post("/account/v1/sign-in", body))
    }

    fn check(&self, class: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        let want = if class == 0 {
            "second_factor"
        } else {
            "signed_in"
        };
        let v = json_of(body);
        if status != StatusCode::OK || v["status"] != want {
            return Err(format!("{want}: HTTP {status}: {v}"));
        }
        Ok(())
    }

    fn observe(&self, conn: usize, class: usize, body: &[u8]) {
        if class == 0 {
            let challenge = json_of(body)["challenge"].as_str().map(str::to_owned);
            self.pending[conn % self.pending.len()].lock().challenge = challenge;
        }
    }
}
