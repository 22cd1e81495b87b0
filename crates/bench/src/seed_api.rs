//! Seeding through the public API once the server runs: admin tokens (Parsable `login`), an API
//! key per admin (Nominal `createApiKey`), and sanity checks of the bulk rows.

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::seed;

/// One request over a fresh connection: its status, headers and body.
pub async fn send(
    addr: SocketAddr,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, HeaderMap, Bytes)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await?.to_bytes();
    Ok((parts.status, parts.headers, bytes))
}

/// A body as JSON (`Null` when empty; the text as a JSON string when it is not JSON).
pub fn json_of(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
    }
}

/// One JSON request over a fresh connection, for seeding and sanity checks.
async fn api(
    addr: SocketAddr,
    method: Method,
    path: &str,
    auth: Option<String>,
    body: Option<Value>,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string());
    if let Some(a) = auth {
        b = b.header(http::header::AUTHORIZATION, a);
    }
    let body = match body {
        Some(v) => {
            b = b.header(http::header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(&v)?)
        }
        None => Bytes::new(),
    };
    let (status, _, bytes) = send(addr, b.body(Full::new(body))?).await?;
    Ok((status, json_of(&bytes)))
}

pub async fn parsable_login(
    addr: SocketAddr,
    email: &str,
    password: &str,
) -> anyhow::Result<String> {
    let (status, v) = api(
        addr,
        Method::POST,
        "/api/auth",
        None,
        Some(json!({"method": "login", "arguments": {"email": email, "password": password}})),
    )
    .await?;
    v["result"]["success"]["authToken"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| {
            format!(
                "Parsable login of {email} failed (HTTP {status}): {v}\n\
                 (is the Parsable surface wired into `portcullis serve` yet?)"
            )
        })
}

async fn exchange_key(addr: SocketAddr, secret: &str) -> anyhow::Result<()> {
    let (status, v) = api(
        addr,
        Method::POST,
        "/api/api-key-internal/v1/access-token",
        None,
        Some(json!({"apiKeyValue": secret})),
    )
    .await?;
    if status != StatusCode::OK || v["accessToken"].as_str().is_none() {
        bail!("API key exchange failed (HTTP {status}): {v}");
    }
    Ok(())
}

/// What the API seeding produced.
pub struct Seeded {
    /// Admin session tokens (Parsable `login`), one per admin; empty when the server does not
    /// serve the Parsable surface (yet).
    pub tokens: Vec<String>,
    /// The admins' two orgs: uuids (Parsable team ids).
    pub org_ids: Vec<String>,
}

pub fn org_rid(uuid: &str) -> String {
    format!("ri.authn.local.organization.{uuid}")
}

/// Tokens via Parsable `login`, an API key per admin via Nominal `createApiKey` (each checked
/// by one exchange), and one bulk login and one bulk key exchange as a sanity check of the
/// bulk rows. A server without `/api/auth` (404) gets no tokens: the scenarios that need
/// them are reported as skipped.
pub async fn seed_through_api(
    addr: SocketAddr,
    admins: usize,
    org_ids: &[String],
) -> anyhow::Result<Seeded> {
    exchange_key(addr, &seed::api_key_secret(1))
        .await
        .context("a bulk-seeded API key cannot be exchanged")?;
    let (status, _) = api(addr, Method::POST, "/api/auth", None, Some(json!({}))).await?;
    if status == StatusCode::NOT_FOUND {
        eprintln!(
            "  ! POST /api/auth answers 404: the Parsable surface is not served by this build; scenarios needing Parsable login are skipped"
        );
        return Ok(Seeded {
            tokens: Vec::new(),
            org_ids: org_ids.to_vec(),
        });
    }
    let mut tokens = Vec::new();
    for a in 1..=admins {
        tokens.push(parsable_login(addr, &admin_email(a), seed::BENCH_PASSWORD).await?);
    }
    for (a, t) in tokens.iter().enumerate() {
        let (status, v) = api(
            addr,
            Method::POST,
            "/api/authorization/v1/api-key",
            Some(format!("Bearer {t}")),
            Some(json!({"apiKeyName": format!("bench-admin-{}", a + 1)})),
        )
        .await?;
        let secret = v["apiKeyValue"]
            .as_str()
            .with_context(|| format!("Nominal createApiKey failed (HTTP {status}): {v}"))?;
        exchange_key(addr, secret).await?;
    }
    parsable_login(addr, &seed::user_email(1), seed::BENCH_PASSWORD)
        .await
        .context("a bulk-seeded user cannot log in")?;
    Ok(Seeded {
        tokens,
        org_ids: org_ids.to_vec(),
    })
}

pub fn admin_email(a: usize) -> String {
    format!("admin-{a:03}@bench.test")
}
