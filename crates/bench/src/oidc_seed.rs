//! The OpenID provider's seeds for the `token` and `userinfo` rows: two confidential
//! `client_secret_basic` clients (admin CLI, server stopped), then, once the server runs, grants
//! through the real code flow: a browser sign-in (Parsable `login` of a bulk user) as the
//! `portcullis-session` cookie, `GET /oauth2/authorize` with PKCE S256, and the code redeemed at
//! `POST /oauth2/token`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::seed;
use crate::seed_api::{json_of, parsable_login, send};
use crate::server::admin_cli;

pub const REDIRECT_URI: &str = "https://bench.invalid/callback";
pub const SCOPE: &str = "openid profile email";
/// 30 days, the longest a client may have: no refresh token expires during a run.
const REFRESH_TOKEN_SECS: &str = "2592000";
/// An hour, the longest allowed: the userinfo row's access tokens outlive the run.
const ACCESS_TOKEN_SECS: &str = "3600";

/// A registered client and its secret.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
}

impl Client {
    /// `Authorization: Basic` (RFC 6749 §2.3.1: id and secret form-encoded first).
    pub fn basic(&self) -> String {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", enc(&self.id), enc(&self.secret));
        format!("Basic {}", STANDARD.encode(pair))
    }
}

/// The clients of the `token` row (EdDSA ID tokens) and the `token/rs256` row (RS256, the
/// default), created with `portcullis admin client create`.
pub struct Clients {
    pub eddsa: Client,
    pub rs256: Client,
}

fn create_client(bin: &Path, config: &Path, id: &str, alg: &str) -> anyhow::Result<Client> {
    let mut args = vec![
        "client",
        "create",
        "--kind",
        "confidential",
        "--client-id",
        id,
        "--name",
        id,
        "--auth-method",
        "client_secret_basic",
        "--redirect-uri",
        REDIRECT_URI,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--first-party",
        "--id-token-alg",
        alg,
        "--access-token-secs",
        ACCESS_TOKEN_SECS,
        "--refresh-token-secs",
        REFRESH_TOKEN_SECS,
    ];
    for scope in SCOPE.split(' ') {
        args.extend(["--scope", scope]);
    }
    let v = admin_cli(bin, config, &args, None)?;
    let secret = v["clientSecret"]
        .as_str()
        .with_context(|| format!("client create printed no clientSecret: {v}"))?;
    Ok(Client {
        id: id.to_owned(),
        secret: secret.to_owned(),
    })
}

/// The `client-credentials` row's client: confidential, `client_secret_basic`, the
/// `client_credentials` grant only, a service account of org `bench` with the EXECUTOR role.
pub fn create_service_client(bin: &Path, config: &Path) -> anyhow::Result<Client> {
    let id = "bench-service";
    let mut args = vec![
        "client",
        "create",
        "--kind",
        "confidential",
        "--client-id",
        id,
        "--name",
        id,
        "--auth-method",
        "client_secret_basic",
        "--grant-type",
        "client_credentials",
        "--org",
        "bench",
        "--access-token-secs",
        ACCESS_TOKEN_SECS,
    ];
    for scope in ["openid", "profile"] {
        args.extend(["--scope", scope]);
    }
    let v = admin_cli(bin, config, &args, None)?;
    let secret = v["clientSecret"]
        .as_str()
        .with_context(|| format!("client create printed no clientSecret: {v}"))?;
    admin_cli(
        bin,
        config,
        &["client", "roles", id, "--role", "EXECUTOR"],
        None,
    )?;
    Ok(Client {
        id: id.to_owned(),
        secret: secret.to_owned(),
    })
}

pub fn create_clients(bin: &Path, config: &Path) -> anyhow::Result<Clients> {
    Ok(Clients {
        eddsa: create_client(bin, config, "bench-eddsa", "EdDSA")?,
        rs256: create_client(bin, config, "bench-rs256", "RS256")?,
    })
}

/// The tokens of one grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
}

/// One grant per client for each of `users` bulk users (1..=users).
pub struct Grants {
    pub eddsa: Vec<Grant>,
    pub rs256: Vec<Grant>,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The front channel: the signed-in browser `cookie` asks for a code (PKCE S256).
async fn code(
    addr: SocketAddr,
    client: &Client,
    cookie: &str,
    verifier: &str,
) -> anyhow::Result<String> {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_b64(12);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", SCOPE)
        .append_pair("state", &state)
        .append_pair("nonce", &random_b64(12))
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    let req = Request::builder()
        .method(Method::GET)
        .uri(format!("/oauth2/authorize?{query}"))
        .header(HOST, addr.to_string())
        .header(COOKIE, cookie)
        .body(Full::new(Bytes::new()))?;
    let (status, headers, body) = send(addr, req).await?;
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if status != StatusCode::SEE_OTHER || !location.starts_with(REDIRECT_URI) {
        bail!(
            "authorize for {} answered HTTP {status} to {location:?}: {}",
            client.id,
            String::from_utf8_lossy(&body)
        );
    }
    let q = location.split_once('?').map_or("", |(_, q)| q);
    let mut code = None;
    let mut back_state = None;
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "code" => code = Some(v.into_owned()),
            "state" => back_state = Some(v.into_owned()),
            _ => {}
        }
    }
    if back_state.as_deref() != Some(state.as_str()) {
        bail!(
            "authorize for {} returned another state: {location}",
            client.id
        );
    }
    code.with_context(|| format!("authorize for {} returned no code: {location}", client.id))
}

/// A `POST /oauth2/token` with the client's Basic credentials and a form body.
pub fn token_request(
    host: &str,
    basic: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<Request<Full<Bytes>>> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    Ok(Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(HOST, host)
        .header(AUTHORIZATION, basic)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))?)
}

/// The back channel: the code redeemed for the grant's tokens.
async fn redeem(
    addr: SocketAddr,
    client: &Client,
    code: &str,
    verifier: &str,
) -> anyhow::Result<Grant> {
    let req = token_request(
        &addr.to_string(),
        &client.basic(),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ],
    )?;
    let (status, _, body) = send(addr, req).await?;
    let v = json_of(&body);
    let field = |k: &str| v[k].as_str().map(str::to_owned);
    match (status, field("access_token"), field("refresh_token")) {
        (StatusCode::OK, Some(access_token), Some(refresh_token))
            if field("id_token").is_some() =>
        {
            Ok(Grant {
                access_token,
                refresh_token,
            })
        }
        _ => bail!(
            "code redemption for {} failed (HTTP {status}): {v}",
            client.id
        ),
    }
}

async fn grant(addr: SocketAddr, client: &Client, cookie: &str) -> anyhow::Result<Grant> {
    let verifier = random_b64(32);
    let code = code(addr, client, cookie, &verifier).await?;
    redeem(addr, client, &code, &verifier).await
}

/// Signs in bulk users `1..=users` (each a member of one org, so no org page) and runs the code
/// flow once per client for each.
pub async fn grants(addr: SocketAddr, clients: &Clients, users: usize) -> anyhow::Result<Grants> {
    let mut out = Grants {
        eddsa: Vec::with_capacity(users),
        rs256: Vec::with_capacity(users),
    };
    for i in 1..=users as u64 {
        let email = seed::user_email(i);
        let session = parsable_login(addr, &email, seed::BENCH_PASSWORD).await?;
        let cookie = format!("portcullis-session={session}");
        out.eddsa.push(
            grant(addr, &clients.eddsa, &cookie)
                .await
                .with_context(|| format!("the code flow of {email}"))?,
        );
        out.rs256.push(
            grant(addr, &clients.rs256, &cookie)
                .await
                .with_context(|| format!("the code flow of {email}"))?,
        );
    }
    Ok(out)
}
