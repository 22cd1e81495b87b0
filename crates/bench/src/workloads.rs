//! The scenarios' requests, all through the public wire surfaces.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;

use crate::load::{Rng, Workload};
use crate::seed;

fn req(
    host: &HeaderValue,
    method: Method,
    path: &str,
    auth: Option<&HeaderValue>,
    body: Option<String>,
) -> Request<Full<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, host.clone());
    if let Some(a) = auth {
        b = b.header(AUTHORIZATION, a.clone());
    }
    let body = match body {
        Some(s) => {
            b = b.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Bytes::from(s)
        }
        None => Bytes::new(),
    };
    b.body(Full::new(body)).expect("a valid request")
}

/// A POST of a JSON `body`.
fn post(
    host: &HeaderValue,
    path: &str,
    auth: Option<&HeaderValue>,
    body: String,
) -> Request<Full<Bytes>> {
    req(host, Method::POST, path, auth, Some(body))
}

/// One of `items`, drawn uniformly.
fn any<'a, T>(items: &'a [T], rng: &mut Rng) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// A Parsable JSON-envelope reply must be `{"method":…,"result":{"success":…}}` (or `{}` for
/// void), never `err` or `exception`.
fn parsable_ok(status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status != StatusCode::OK || !contains(body, b"\"result\":{\"success\":") {
        return Err(format!("parsable: HTTP {status}: {}", snippet(body)));
    }
    Ok(())
}

fn status_is(want: StatusCode, status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status != want {
        return Err(format!("HTTP {status} (want {want}): {}", snippet(body)));
    }
    Ok(())
}

/// A Nominal answer carrying an access token.
fn access_token_ok(status: StatusCode, body: &[u8]) -> Result<(), String> {
    status_is(StatusCode::OK, status, body)?;
    if !contains(body, b"\"accessToken\"") {
        return Err(format!("no accessToken: {}", snippet(body)));
    }
    Ok(())
}

fn header(v: String) -> HeaderValue {
    HeaderValue::from_str(&v).expect("an ASCII header value")
}

/// `GET /healthz`.
pub struct Healthz {
    pub host: HeaderValue,
}

impl Workload for Healthz {
    fn classes(&self) -> Vec<&'static str> {
        vec!["healthz"]
    }
    fn request(&self, _: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        (0, req(&self.host, Method::GET, "/healthz", None, None))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        status_is(StatusCode::OK, status, body)
    }
}

/// Parsable `login` with the JSON envelope. Connection `c` of `n` only ever uses users whose
/// index is `c` mod `n`, so no two attempts on one account are ever in flight together and the
/// per-account throttle never interferes; all logins succeed.
pub struct Login {
    pub host: HeaderValue,
    /// Users `1..=users` exist with [`seed::user_email`] and [`seed::BENCH_PASSWORD`].
    pub users: u64,
}

impl Login {
    fn build(&self, conn: usize, conns: usize, rng: &mut Rng) -> Request<Full<Bytes>> {
        let (c, n) = (conn as u64, conns as u64);
        // Indices c+1, c+1+n, c+1+2n, … ≤ users.
        let slots = self.users.saturating_sub(c).div_ceil(n);
        let i = c + 1 + rng.below(slots) * n;
        let body = format!(
            r#"{{"method":"login","arguments":{{"email":"{}","password":"{}"}}}}"#,
            seed::user_email(i),
            seed::BENCH_PASSWORD
        );
        req(&self.host, Method::POST, "/api/auth", None, Some(body))
    }
}

impl Workload for Login {
    fn classes(&self) -> Vec<&'static str> {
        vec!["login"]
    }
    fn request(&self, conn: usize, conns: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        (0, self.build(conn, conns, rng))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        parsable_ok(status, body)
    }
}

/// Nominal `GET /api/authorization/v1/checkAdmin` with an admin's Bearer access token → 204.
pub struct CheckAdmin {
    pub host: HeaderValue,
    pub bearer: Vec<HeaderValue>,
}

impl CheckAdmin {
    pub fn new(host: HeaderValue, tokens: &[String]) -> CheckAdmin {
        CheckAdmin {
            host,
            bearer: tokens
                .iter()
                .map(|t| header(format!("Bearer {t}")))
                .collect(),
        }
    }
    fn build(&self, conn: usize) -> Request<Full<Bytes>> {
        let auth = &self.bearer[conn % self.bearer.len()];
        req(
            &self.host,
            Method::GET,
            "/api/authorization/v1/checkAdmin",
            Some(auth),
            None,
        )
    }
}

impl Workload for CheckAdmin {
    fn classes(&self) -> Vec<&'static str> {
        vec!["checkAdmin"]
    }
    fn request(&self, conn: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        (0, self.build(conn))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        status_is(StatusCode::NO_CONTENT, status, body)
    }
}

/// Parsable `getCurrentUser` with `Authorization: Token …`.
pub struct GetCurrentUser {
    pub host: HeaderValue,
    pub auth: Vec<HeaderValue>,
}

impl GetCurrentUser {
    pub fn new(host: HeaderValue, tokens: &[String]) -> GetCurrentUser {
        GetCurrentUser {
            host,
            auth: tokens
                .iter()
                .map(|t| header(format!("Token {t}")))
                .collect(),
        }
    }
}

impl Workload for GetCurrentUser {
    fn classes(&self) -> Vec<&'static str> {
        vec!["getCurrentUser"]
    }
    fn request(&self, conn: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let auth = &self.auth[conn % self.auth.len()];
        let body = r#"{"method":"getCurrentUser","arguments":{}}"#.to_string();
        (
            0,
            req(
                &self.host,
                Method::POST,
                "/api/auth",
                Some(auth),
                Some(body),
            ),
        )
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        parsable_ok(status, body)
    }
}

/// Nominal `POST /api/api-key-internal/v1/access-token {"apiKeyValue": …}`, keys drawn
/// uniformly from the seeded population `1..=keys`.
pub struct ApiKeyExchange {
    pub host: HeaderValue,
    pub keys: u64,
}

impl Workload for ApiKeyExchange {
    fn classes(&self) -> Vec<&'static str> {
        vec!["exchange"]
    }
    fn request(&self, _: usize, _: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let i = 1 + rng.below(self.keys);
        let body = format!(r#"{{"apiKeyValue":"{}"}}"#, seed::api_key_secret(i));
        let path = "/api/api-key-internal/v1/access-token";
        (0, post(&self.host, path, None, body))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        access_token_ok(status, body)
    }
}

/// Parsable `createTeamToken(teamId)`, alternating over the admins' teams.
pub struct TeamToken {
    pub host: HeaderValue,
    pub auth: Vec<HeaderValue>,
    pub team_ids: Vec<String>,
}

impl Workload for TeamToken {
    fn classes(&self) -> Vec<&'static str> {
        vec!["createTeamToken"]
    }
    fn request(&self, conn: usize, _: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let auth = &self.auth[conn % self.auth.len()];
        let team = any(&self.team_ids, rng);
        let body = format!(r#"{{"method":"createTeamToken","arguments":{{"teamId":"{team}"}}}}"#);
        (0, post(&self.host, "/api/auth", Some(auth), body))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        parsable_ok(status, body)
    }
}

/// Nominal `POST /api/authorization/v1/set-user-org {"orgRid": …}`, alternating over the
/// admins' orgs.
pub struct SetUserOrg {
    pub host: HeaderValue,
    pub bearer: Vec<HeaderValue>,
    pub org_rids: Vec<String>,
}

impl Workload for SetUserOrg {
    fn classes(&self) -> Vec<&'static str> {
        vec!["setUserOrg"]
    }
    fn request(&self, conn: usize, _: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let auth = &self.bearer[conn % self.bearer.len()];
        let rid = any(&self.org_rids, rng);
        let body = format!(r#"{{"orgRid":"{rid}"}}"#);
        let path = "/api/authorization/v1/set-user-org";
        (0, post(&self.host, path, Some(auth), body))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        access_token_ok(status, body)
    }
}

/// The first `login_conns` connections log in (Parsable `login`), the others validate
/// (Nominal `checkAdmin`), concurrently.
pub struct Mixed {
    pub login: Login,
    pub validate: CheckAdmin,
    pub login_conns: usize,
}

impl Workload for Mixed {
    fn classes(&self) -> Vec<&'static str> {
        vec!["login", "checkAdmin"]
    }
    fn request(&self, conn: usize, _: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        if conn < self.login_conns {
            (0, self.login.build(conn, self.login_conns, rng))
        } else {
            (1, self.validate.build(conn))
        }
    }
    fn check(&self, class: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        if class == 0 {
            parsable_ok(status, body)
        } else {
            status_is(StatusCode::NO_CONTENT, status, body)
        }
    }
}

pub fn boxed<W: Workload>(w: W) -> Arc<dyn Workload> {
    Arc::new(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_partitions_users_by_connection() {
        let l = Login {
            host: HeaderValue::from_static("h"),
            users: 100,
        };
        let mut rng = Rng::new(1);
        for conn in 0..7 {
            for _ in 0..200 {
                let r = l.build(conn, 7, &mut rng);
                let _ = r;
            }
        }
        // The index arithmetic directly: every index is ≡ conn (mod conns) and in range.
        for conn in 0..7u64 {
            let slots = (100 - conn).div_ceil(7);
            let max = conn + 1 + (slots - 1) * 7;
            assert!(max <= 100, "conn {conn}: {max}");
            assert_eq!((max - 1) % 7, conn);
        }
    }
}
