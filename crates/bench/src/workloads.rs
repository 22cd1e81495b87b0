//! The scenarios' requests, all through the public wire surfaces.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

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

/// `Authorization` values `<scheme> <token>`, one per token.
fn auth_headers(scheme: &str, tokens: &[String]) -> Vec<HeaderValue> {
    tokens
        .iter()
        .map(|t| header(format!("{scheme} {t}")))
        .collect()
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
            bearer: auth_headers("Bearer", tokens),
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
            auth: auth_headers("Token", tokens),
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
    /// Keys drawn Zipf-distributed (scrambled) instead of uniformly.
    pub zipf: Option<crate::zipf::Zipf>,
}

impl ApiKeyExchange {
    pub fn uniform(host: HeaderValue, keys: u64) -> ApiKeyExchange {
        ApiKeyExchange {
            host,
            keys,
            zipf: None,
        }
    }

    pub fn zipf(host: HeaderValue, keys: u64) -> ApiKeyExchange {
        ApiKeyExchange {
            host,
            keys,
            zipf: Some(crate::zipf::Zipf::new(keys, crate::zipf::THETA)),
        }
    }
}

impl Workload for ApiKeyExchange {
    fn classes(&self) -> Vec<&'static str> {
        vec!["exchange"]
    }
    fn request(&self, _: usize, _: usize, rng: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let i = 1 + match &self.zipf {
            Some(z) => crate::zipf::scramble(z.draw(rng), self.keys),
            None => rng.below(self.keys),
        };
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

/// OpenID `GET /oauth2/userinfo` with a provider access token (`Authorization: Bearer`);
/// connection `c` uses grant `c` mod grants.
pub struct Userinfo {
    pub host: HeaderValue,
    pub bearer: Vec<HeaderValue>,
}

impl Userinfo {
    pub fn new(host: HeaderValue, access_tokens: &[String]) -> Userinfo {
        Userinfo {
            host,
            bearer: auth_headers("Bearer", access_tokens),
        }
    }
}

impl Workload for Userinfo {
    fn classes(&self) -> Vec<&'static str> {
        vec!["userinfo"]
    }
    fn request(&self, conn: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let auth = &self.bearer[conn % self.bearer.len()];
        let path = "/oauth2/userinfo";
        (0, req(&self.host, Method::GET, path, Some(auth), None))
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        status_is(StatusCode::OK, status, body)?;
        if !contains(body, b"\"sub\"") || !contains(body, b"\"email\"") {
            return Err(format!("no sub or email claim: {}", snippet(body)));
        }
        Ok(())
    }
}

/// OpenID `POST /oauth2/token` with `grant_type=refresh_token` and `client_secret_basic`.
/// Refresh tokens are single use, so each request takes a current one from the pool and the
/// check puts the rotated one from the answer back: with one token per connection, the pool
/// never runs dry. A failed refresh loses its token (putting it back could be reuse, which
/// revokes the grant); with the pool empty the request goes without one and fails visibly.
pub struct Refresh {
    pub host: HeaderValue,
    pub basic: HeaderValue,
    pool: Mutex<VecDeque<String>>,
}

impl Refresh {
    pub fn new(host: HeaderValue, basic: &str, refresh_tokens: &[String]) -> Refresh {
        Refresh {
            host,
            basic: header(basic.to_owned()),
            pool: Mutex::new(refresh_tokens.iter().cloned().collect()),
        }
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A panic elsewhere cannot leave the queue half-changed: use it as it is.
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Workload for Refresh {
    fn classes(&self) -> Vec<&'static str> {
        vec!["refresh"]
    }
    fn request(&self, _: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let token = self.pool().pop_front().unwrap_or_default();
        let body = format!(
            "grant_type=refresh_token&refresh_token={}",
            form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        let r = Request::builder()
            .method(Method::POST)
            .uri("/oauth2/token")
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.basic.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(Full::new(Bytes::from(body)))
            .expect("a valid request");
        (0, r)
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        status_is(StatusCode::OK, status, body)?;
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| format!("not JSON ({e}): {}", snippet(body)))?;
        let has = |k: &str| v[k].as_str().is_some_and(|s| !s.is_empty());
        if !(has("access_token") && has("id_token")) {
            return Err(format!("no access or ID token: {}", snippet(body)));
        }
        match v["refresh_token"].as_str() {
            Some(rt) if !rt.is_empty() => {
                self.pool().push_back(rt.to_owned());
                Ok(())
            }
            _ => Err(format!("no rotated refresh token: {}", snippet(body))),
        }
    }
}

/// `POST <path>` `grant_type=client_credentials` with `Authorization: Basic` (the client's
/// service account token; no refresh token may come back). Also drives peers' token endpoints.
pub struct ClientCredentials {
    pub host: HeaderValue,
    pub path: String,
    pub basic: HeaderValue,
}

impl ClientCredentials {
    pub fn new(host: HeaderValue, path: &str, basic: &str) -> ClientCredentials {
        ClientCredentials {
            host,
            path: path.to_owned(),
            basic: header(basic.to_owned()),
        }
    }
}

impl Workload for ClientCredentials {
    fn classes(&self) -> Vec<&'static str> {
        vec!["client_credentials"]
    }
    fn request(&self, _: usize, _: usize, _: &mut Rng) -> (usize, Request<Full<Bytes>>) {
        let r = Request::builder()
            .method(Method::POST)
            .uri(self.path.as_str())
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, self.basic.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(Full::new(Bytes::from_static(
                b"grant_type=client_credentials",
            )))
            .expect("a valid request");
        (0, r)
    }
    fn check(&self, _: usize, status: StatusCode, body: &[u8]) -> Result<(), String> {
        status_is(StatusCode::OK, status, body)?;
        if !contains(body, b"\"access_token\"") || contains(body, b"\"refresh_token\"") {
            return Err(format!("not an access token alone: {}", snippet(body)));
        }
        Ok(())
    }
}

pub fn boxed<W: Workload>(w: W) -> Arc<dyn Workload> {
    Arc::new(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(r: Request<Full<Bytes>>) -> String {
        use http_body_util::BodyExt as _;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt.block_on(r.into_body().collect()).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn refresh_chains_each_rotated_token_and_drops_failed_ones() {
        let w = Refresh::new(
            HeaderValue::from_static("h"),
            "Basic eDp5",
            &["rt-1".into()],
        );
        let mut rng = Rng::new(1);
        let (_, r) = w.request(0, 1, &mut rng);
        assert_eq!(r.headers()[AUTHORIZATION], "Basic eDp5");
        assert_eq!(body_of(r), "grant_type=refresh_token&refresh_token=rt-1");
        // The answer's rotated token is the next request's.
        let ok = br#"{"access_token":"a","id_token":"i","refresh_token":"rt-2"}"#;
        assert_eq!(w.check(0, StatusCode::OK, ok), Ok(()));
        let (_, r) = w.request(0, 1, &mut rng);
        assert_eq!(body_of(r), "grant_type=refresh_token&refresh_token=rt-2");
        // A refused refresh loses its token: the next request goes without one.
        let refused = br#"{"error":"invalid_grant"}"#;
        assert!(w.check(0, StatusCode::BAD_REQUEST, refused).is_err());
        let (_, r) = w.request(0, 1, &mut rng);
        assert_eq!(body_of(r), "grant_type=refresh_token&refresh_token=");
        // An answer without an ID token is an error, and puts nothing back.
        let no_id = br#"{"access_token":"a","refresh_token":"rt-3"}"#;
        assert!(w.check(0, StatusCode::OK, no_id).is_err());
        assert!(w.pool().is_empty());
    }

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
