//! One provider at run time: discovery document and JWKS cached with a TTL, single-flight
//! fetching, one rate-limited re-fetch on an unknown `kid`, and the userinfo call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};

use crate::config::ProviderConfig;
use crate::error::FederationError;

/// After a failed fetch, further fetches fail at once for this long (no hammering, fast errors).
const FAILURE_BACKOFF: Duration = Duration::from_secs(1);
/// Upper bound of a discovery, JWKS or userinfo body.
const MAX_BODY: usize = 512 * 1024;

/// The fields of the provider's discovery document Portcullis uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub issuer: String,
    pub jwks_uri: String,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
    /// RFC 8414 / RFC 7662 `introspection_endpoint`.
    pub introspection_endpoint: Option<String>,
}

impl Discovery {
    /// The fields Portcullis uses of a provider's discovery document, which must name the
    /// configured issuer; the configured `jwks_uri` wins over the document's.
    pub(crate) fn from_document(cfg: &ProviderConfig, v: &Value) -> Result<Discovery, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let issuer = s("issuer").unwrap_or_default();
        if issuer != cfg.issuer {
            return Err(format!(
                "the document names issuer {issuer:?}, not the configured one"
            ));
        }
        let jwks_uri = cfg
            .jwks_uri
            .clone()
            .or_else(|| s("jwks_uri"))
            .ok_or("no jwks_uri")?;
        Ok(Discovery {
            issuer,
            jwks_uri,
            authorization_endpoint: s("authorization_endpoint"),
            token_endpoint: s("token_endpoint"),
            userinfo_endpoint: s("userinfo_endpoint"),
            end_session_endpoint: s("end_session_endpoint"),
            introspection_endpoint: s("introspection_endpoint"),
        })
    }
}

/// Counters of outbound fetches, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProviderStats {
    pub discovery_fetches: u64,
    pub jwks_fetches: u64,
    /// JWKS re-fetches caused by an unknown `kid`.
    pub kid_refetches: u64,
    pub userinfo_calls: u64,
    pub introspection_calls: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    Ec(EcCurve),
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EcCurve {
    P256,
    P384,
    Other,
}

pub(crate) struct VerifyKey {
    pub kid: Option<String>,
    alg: Option<String>,
    kty: KeyType,
    pub key: DecodingKey,
}

impl VerifyKey {
    fn fits(&self, alg: &str) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg) {
            return false;
        }
        match (self.kty, alg) {
            (KeyType::Rsa, a) => a.starts_with("RS") || a.starts_with("PS"),
            (KeyType::Ec(EcCurve::P256), "ES256") => true,
            (KeyType::Ec(EcCurve::P384), "ES384") => true,
            (KeyType::Ed25519, "EdDSA") => true,
            _ => false,
        }
    }
}

pub(crate) struct KeySet {
    pub keys: Vec<Arc<VerifyKey>>,
}

impl KeySet {
    /// Parses a JWKS leniently: keys that are not public signature keys of a supported type
    /// (encryption keys, symmetric `oct` keys, unknown types) are skipped.
    pub(crate) fn parse(v: &Value) -> Result<KeySet, String> {
        let arr = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no \"keys\" array")?;
        let mut keys = Vec::new();
        for k in arr {
            let Ok(jwk) = serde_json::from_value::<Jwk>(k.clone()) else {
                continue;
            };
            if matches!(
                jwk.common.public_key_use,
                Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
            ) {
                continue;
            }
            let kty = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => KeyType::Rsa,
                AlgorithmParameters::EllipticCurve(p) => KeyType::Ec(match p.curve {
                    EllipticCurve::P256 => EcCurve::P256,
                    EllipticCurve::P384 => EcCurve::P384,
                    _ => EcCurve::Other,
                }),
                AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                    KeyType::Ed25519
                }
                // Never trust a symmetric key from a JWKS, nor unknown curves.
                _ => continue,
            };
            let Ok(key) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let alg = k.get("alg").and_then(Value::as_str).map(str::to_owned);
            keys.push(Arc::new(VerifyKey {
                kid: jwk.common.key_id.clone(),
                alg,
                kty,
                key,
            }));
        }
        Ok(KeySet { keys })
    }

    /// Keys that may verify a token with this `kid` and `alg`. Without a `kid`, every key that
    /// fits the algorithm.
    pub(crate) fn candidates(&self, kid: Option<&str>, alg: &str) -> Vec<Arc<VerifyKey>> {
        self.keys
            .iter()
            .filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)) && k.fits(alg))
            .cloned()
            .collect()
    }
}

struct Cached<T> {
    value: Arc<T>,
    fetched: Instant,
}

pub(crate) struct ProviderRuntime {
    pub cfg: ProviderConfig,
    http: reqwest::Client,
    /// For the token endpoint: a code is never sent on to wherever a redirect points.
    token_http: reqwest::Client,
    discovery: RwLock<Option<Cached<Discovery>>>,
    keys: RwLock<Option<Cached<KeySet>>>,
    /// Single-flight for discovery and JWKS fetches.
    fetching: tokio::sync::Mutex<()>,
    last_kid_refetch: Mutex<Option<Instant>>,
    last_failure: Mutex<Option<(Instant, String)>>,
    discovery_fetches: AtomicU64,
    jwks_fetches: AtomicU64,
    kid_refetches: AtomicU64,
    userinfo_calls: AtomicU64,
    introspection_calls: AtomicU64,
}

impl ProviderRuntime {
    pub fn new(cfg: ProviderConfig) -> Result<Self, FederationError> {
        let client = |redirects| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
                .timeout(Duration::from_millis(cfg.request_timeout_ms))
                .redirect(redirects)
                .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| FederationError::Config(format!("HTTP client: {e}")))
        };
        let http = client(reqwest::redirect::Policy::limited(3))?;
        let token_http = client(reqwest::redirect::Policy::none())?;
        Ok(ProviderRuntime {
            cfg,
            http,
            token_http,
            discovery: RwLock::new(None),
            keys: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            last_kid_refetch: Mutex::new(None),
            last_failure: Mutex::new(None),
            discovery_fetches: AtomicU64::new(0),
            jwks_fetches: AtomicU64::new(0),
            kid_refetches: AtomicU64::new(0),
            userinfo_calls: AtomicU64::new(0),
            introspection_calls: AtomicU64::new(0),
        })
    }

    pub fn stats(&self) -> ProviderStats {
        ProviderStats {
            discovery_fetches: self.discovery_fetches.load(Ordering::Relaxed),
            jwks_fetches: self.jwks_fetches.load(Ordering::Relaxed),
            kid_refetches: self.kid_refetches.load(Ordering::Relaxed),
            userinfo_calls: self.userinfo_calls.load(Ordering::Relaxed),
            introspection_calls: self.introspection_calls.load(Ordering::Relaxed),
        }
    }

    fn unavailable(&self, what: &str, detail: impl std::fmt::Display) -> FederationError {
        let msg = format!("{what} of provider {}: {detail}", self.cfg.alias);
        tracing::warn!(provider = %self.cfg.alias, "{msg}");
        *self.last_failure.lock() = Some((Instant::now(), msg.clone()));
        FederationError::ProviderUnavailable(msg)
    }

    fn check_backoff(&self) -> Result<(), FederationError> {
        if let Some((at, msg)) = self.last_failure.lock().as_ref()
            && at.elapsed() < FAILURE_BACKOFF
        {
            return Err(FederationError::ProviderUnavailable(msg.clone()));
        }
        Ok(())
    }

    /// The cached discovery document, if fresh; never fetches.
    pub fn cached_discovery(&self) -> Option<Arc<Discovery>> {
        let ttl = self.cfg.cache_ttl();
        self.discovery
            .read()
            .as_ref()
            .filter(|c| c.fetched.elapsed() < ttl)
            .map(|c| c.value.clone())
    }

    fn cached_keys(&self) -> Option<Arc<KeySet>> {
        let ttl = self.cfg.cache_ttl();
        self.keys
            .read()
            .as_ref()
            .filter(|c| c.fetched.elapsed() < ttl)
            .map(|c| c.value.clone())
    }

    /// The discovery document, fetched when missing or past its TTL.
    pub async fn discovery(&self) -> Result<Arc<Discovery>, FederationError> {
        if let Some(d) = self.cached_discovery() {
            return Ok(d);
        }
        let _g = self.fetching.lock().await;
        self.discovery_locked().await
    }

    async fn discovery_locked(&self) -> Result<Arc<Discovery>, FederationError> {
        if let Some(d) = self.cached_discovery() {
            return Ok(d);
        }
        self.check_backoff()?;
        self.discovery_fetches.fetch_add(1, Ordering::Relaxed);
        let url = self.cfg.discovery_url();
        let v = self
            .get_json(&url, None)
            .await
            .map_err(|e| self.unavailable("discovery", e))?;
        let d = Arc::new(
            Discovery::from_document(&self.cfg, &v)
                .map_err(|e| self.unavailable("discovery", e))?,
        );
        *self.discovery.write() = Some(Cached {
            value: d.clone(),
            fetched: Instant::now(),
        });
        Ok(d)
    }

    async fn fetch_keys_locked(&self) -> Result<Arc<KeySet>, FederationError> {
        let d = self.discovery_locked().await?;
        self.check_backoff()?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let v = self
            .get_json(&d.jwks_uri, None)
            .await
            .map_err(|e| self.unavailable("JWKS", e))?;
        let ks = Arc::new(KeySet::parse(&v).map_err(|e| self.unavailable("JWKS", e))?);
        tracing::debug!(provider = %self.cfg.alias, keys = ks.keys.len(), "JWKS fetched");
        *self.keys.write() = Some(Cached {
            value: ks.clone(),
            fetched: Instant::now(),
        });
        Ok(ks)
    }

    async fn keys_fresh(&self) -> Result<Arc<KeySet>, FederationError> {
        if let Some(k) = self.cached_keys() {
            return Ok(k);
        }
        let _g = self.fetching.lock().await;
        if let Some(k) = self.cached_keys() {
            return Ok(k);
        }
        self.fetch_keys_locked().await
    }

    /// The keys that may verify a token signed with `alg` under `kid`. An unknown `kid` causes
    /// at most one JWKS re-fetch per `refetch_min_interval_secs` (key rotation without restart,
    /// no amplification of bogus `kid`s).
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
        alg: &str,
    ) -> Result<Vec<Arc<VerifyKey>>, FederationError> {
        let ks = self.keys_fresh().await?;
        let found = ks.candidates(kid, alg);
        if !found.is_empty() {
            return Ok(found);
        }
        let Some(kid) = kid else {
            return Ok(Vec::new());
        };
        let _g = self.fetching.lock().await;
        // Another task may have re-fetched while this one waited.
        if let Some(ks) = self.cached_keys() {
            let found = ks.candidates(Some(kid), alg);
            if !found.is_empty() {
                return Ok(found);
            }
        }
        {
            let mut last = self.last_kid_refetch.lock();
            if let Some(t) = *last
                && t.elapsed() < self.cfg.refetch_interval()
            {
                tracing::debug!(provider = %self.cfg.alias, "unknown kid; re-fetch rate-limited");
                return Ok(Vec::new());
            }
            *last = Some(Instant::now());
        }
        self.kid_refetches.fetch_add(1, Ordering::Relaxed);
        tracing::info!(provider = %self.cfg.alias, "unknown kid; re-fetching the JWKS");
        // On failure the previous keys stay cached until their TTL ends.
        let ks = self.fetch_keys_locked().await?;
        Ok(ks.candidates(Some(kid), alg))
    }

    /// Calls userinfo with the access token. 401/403 → `UserinfoRejected`.
    pub async fn userinfo(
        &self,
        access_token: &str,
    ) -> Result<Map<String, Value>, FederationError> {
        let d = self.discovery().await?;
        let Some(url) = d.userinfo_endpoint.clone() else {
            return Err(FederationError::ProviderUnavailable(format!(
                "provider {} has no userinfo endpoint",
                self.cfg.alias
            )));
        };
        self.userinfo_calls.fetch_add(1, Ordering::Relaxed);
        match self.get_json(&url, Some(access_token)).await {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(FederationError::ProviderUnavailable(format!(
                "userinfo of provider {}: not a JSON object",
                self.cfg.alias
            ))),
            Err(FetchError::Status(s)) if s == 401 || s == 403 => {
                Err(FederationError::UserinfoRejected)
            }
            Err(e) => Err(FederationError::ProviderUnavailable(format!(
                "userinfo of provider {}: {e}",
                self.cfg.alias
            ))),
        }
    }

    /// RFC 7662 introspection of an access token, authenticated as the configured client
    /// (`client_secret_basic`). `None` when no introspection secret is configured. The answer
    /// is returned as is; the caller checks `active`, `client_id` and the rest.
    pub async fn introspect(
        &self,
        token: &str,
    ) -> Result<Option<Map<String, Value>>, FederationError> {
        let Some((client_id, secret)) = self.cfg.introspection_credentials() else {
            return Ok(None);
        };
        let url = match self.cfg.introspection_endpoint.clone() {
            Some(u) => u,
            None => self
                .discovery()
                .await?
                .introspection_endpoint
                .clone()
                .ok_or_else(|| {
                    FederationError::ProviderUnavailable(format!(
                        "provider {} has no introspection endpoint",
                        self.cfg.alias
                    ))
                })?,
        };
        self.introspection_calls.fetch_add(1, Ordering::Relaxed);
        let body = format!("token={}&token_type_hint=access_token", form_encode(token));
        // RFC 6749 §2.3.1: the credentials are form-encoded before the Basic encoding.
        let req = self
            .http
            .post(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .basic_auth(form_encode(client_id), Some(form_encode(secret.expose())))
            .body(body);
        match self.send_json(req).await {
            Ok(Value::Object(m)) => Ok(Some(m)),
            // A rejection of our own credentials is a configuration fault, not the caller's.
            Ok(_) => Err(FederationError::ProviderUnavailable(format!(
                "introspection of provider {}: not a JSON object",
                self.cfg.alias
            ))),
            Err(e) => Err(FederationError::ProviderUnavailable(format!(
                "introspection of provider {}: {e}",
                self.cfg.alias
            ))),
        }
    }

    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, FetchError> {
        let mut req = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send_json(req).await
    }

    async fn send_json(&self, req: reqwest::RequestBuilder) -> Result<Value, FetchError> {
        let resp = req.send().await.map_err(FetchError::from_reqwest)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        read_json(resp).await
    }

    /// The client for token-endpoint requests (no redirects followed).
    pub(crate) fn token_http(&self) -> &reqwest::Client {
        &self.token_http
    }
}

/// A response body as JSON, refused past [`MAX_BODY`] bytes, whatever its status.
pub(crate) async fn read_json(mut resp: reqwest::Response) -> Result<Value, FetchError> {
    if resp.content_length().is_some_and(|l| l > MAX_BODY as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(FetchError::from_reqwest)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| FetchError::NotJson)
}

/// `application/x-www-form-urlencoded` encoding of one value (also how RFC 6749 §2.3.1 wants
/// client credentials encoded before HTTP Basic).
pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("response too large")]
    TooLarge,
    #[error("response is not JSON")]
    NotJson,
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        // Display of a reqwest error may include the URL but never headers (no token leaks).
        if e.is_timeout() {
            FetchError::Timeout
        } else if e.is_connect() {
            FetchError::Connect(e.without_url().to_string())
        } else {
            FetchError::Other(e.without_url().to_string())
        }
    }
}
