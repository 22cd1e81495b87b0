//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3,
//! OIDC Core §9): `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523) and
//! `none` for public clients. A client uses exactly the method it registered. Failures are
//! counted per client and a client with too many is refused for a while, whatever it sends.

use std::time::{Duration, Instant};

use chrono::Utc;
use dashmap::DashMap;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::error::OAuthError;
use super::provider::Provider;
use crate::audit::{AuditAction, AuditContext};
use crate::model::{AuditOutcome, ClientKind, OAuthClient, TokenEndpointAuth};

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Failures allowed per client in one window before it is refused until the window ends.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// A client assertion may not live longer than this (RFC 7523 §3: short-lived).
const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
const MAX_TRACKED: usize = 100_000;

/// What a request carried to authenticate its client.
#[derive(Debug, Clone, Default)]
pub struct ClientAuthRequest {
    /// From `Authorization: Basic`, already form-decoded (RFC 6749 §2.3.1).
    pub basic: Option<(String, String)>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_assertion_type: Option<String>,
    pub client_assertion: Option<String>,
}

/// Recent failures per client, and the `jti`s of assertions already used (this node).
#[derive(Debug, Default)]
pub struct FailedAuth {
    failures: DashMap<String, (u32, Instant)>,
    used_assertions: DashMap<String, i64>,
}

impl FailedAuth {
    fn locked(&self, client_id: &str) -> bool {
        self.failures
            .get(client_id)
            .is_some_and(|e| e.0 >= MAX_FAILURES && e.1.elapsed() < FAILURE_WINDOW)
    }

    fn fail(&self, client_id: &str) {
        if self.failures.len() >= MAX_TRACKED {
            self.failures.retain(|_, e| e.1.elapsed() < FAILURE_WINDOW);
        }
        let mut e = self
            .failures
            .entry(client_id.to_string())
            .or_insert((0, Instant::now()));
        if e.1.elapsed() >= FAILURE_WINDOW {
            *e = (0, Instant::now());
        }
        e.0 += 1;
    }

    fn succeed(&self, client_id: &str) {
        self.failures.remove(client_id);
    }

    /// `false` when the jti was seen before (a replayed assertion).
    fn first_use(&self, client_id: &str, jti: &str, exp: i64) -> bool {
        let now = Utc::now().timestamp();
        if self.used_assertions.len() >= MAX_TRACKED {
            self.used_assertions.retain(|_, exp| *exp > now);
        }
        let key = format!("{client_id}\u{0}{jti}");
        match self.used_assertions.entry(key) {
            dashmap::Entry::Occupied(mut e) if *e.get() <= now => {
                e.insert(exp);
                true
            }
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(v) => {
                v.insert(exp);
                true
            }
        }
    }
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    exp: i64,
    #[serde(default)]
    jti: Option<String>,
}

impl Provider {
    /// Authenticates the calling client. `endpoint` is the URL the request was sent to, which
    /// a client assertion may name as its audience (besides the issuer).
    pub async fn authenticate_client(
        &self,
        auth: &ClientAuthRequest,
        endpoint: &str,
        ctx: &AuditContext,
    ) -> Result<OAuthClient, OAuthError> {
        let (client_id, method) = presented_method(auth)?;
        if self.failed_auth.locked(&client_id) {
            return Err(OAuthError::temporarily_unavailable(
                "too many failed client authentications; retry later",
            ));
        }
        let client = self.client(&client_id).await.map_err(OAuthError::from)?;
        let verdict = match &client {
            None => Err("unknown or disabled client"),
            Some(c) if c.token_endpoint_auth != method => {
                Err("the client must use its registered authentication method")
            }
            Some(c) => self.check_credential(c, auth, endpoint),
        };
        match (verdict, client) {
            (Ok(()), Some(c)) => {
                self.failed_auth.succeed(&client_id);
                Ok(c)
            }
            (verdict, _) => {
                let reason = verdict.err().unwrap_or("unknown or disabled client");
                self.failed_auth.fail(&client_id);
                self.engine
                    .audit()
                    .log(
                        ctx,
                        Utc::now(),
                        None,
                        AuditAction::OidcClientAuth,
                        Some(client_id),
                        AuditOutcome::Failure,
                        json!({ "method": method.as_str(), "reason": reason }),
                    )
                    .await;
                Err(OAuthError::invalid_client("client authentication failed"))
            }
        }
    }

    fn check_credential(
        &self,
        client: &OAuthClient,
        auth: &ClientAuthRequest,
        endpoint: &str,
    ) -> Result<(), &'static str> {
        let now = Utc::now();
        match client.token_endpoint_auth {
            TokenEndpointAuth::None => match client.kind {
                ClientKind::Public => Ok(()),
                ClientKind::Confidential => Err("a confidential client must authenticate"),
            },
            TokenEndpointAuth::ClientSecretBasic | TokenEndpointAuth::ClientSecretPost => {
                let secret = auth
                    .basic
                    .as_ref()
                    .map(|(_, s)| s.as_str())
                    .or(auth.client_secret.as_deref())
                    .unwrap_or_default();
                if super::clients::verify_client_secret(client, secret, now) {
                    Ok(())
                } else {
                    Err("wrong client secret")
                }
            }
            TokenEndpointAuth::PrivateKeyJwt => {
                let assertion = auth.client_assertion.as_deref().unwrap_or_default();
                self.check_assertion(client, assertion, endpoint)
            }
        }
    }

    /// RFC 7523 §3: signed by one of the client's registered keys, `iss` = `sub` = client id,
    /// `aud` this endpoint or the issuer, unexpired and short-lived, `jti` never seen before.
    fn check_assertion(
        &self,
        client: &OAuthClient,
        assertion: &str,
        endpoint: &str,
    ) -> Result<(), &'static str> {
        if assertion.len() > 8192 {
            return Err("client assertion too large");
        }
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| "malformed assertion")?;
        let allowed = [
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ];
        if !allowed.contains(&header.alg) {
            return Err("assertion algorithm not allowed");
        }
        let jwks: JwkSet = client
            .jwks
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or("the client has no usable JWKS")?;
        let jwk = match header.kid.as_deref() {
            Some(kid) => jwks.find(kid),
            None if jwks.keys.len() == 1 => jwks.keys.first(),
            None => None,
        }
        .ok_or("no registered key matches the assertion")?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| "unusable registered key")?;
        let mut v = Validation::new(header.alg);
        v.set_required_spec_claims(&["iss", "sub", "aud", "exp"]);
        v.set_issuer(&[client.client_id.as_str()]);
        let issuer = self.issuer().to_string();
        v.set_audience(&[endpoint, issuer.as_str()]);
        v.leeway = 30;
        let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
            .map_err(|_| "assertion signature or claims invalid")?;
        let claims = data.claims;
        if claims.sub != client.client_id || claims.iss != client.client_id {
            return Err("assertion iss/sub is not the client");
        }
        if claims.exp - Utc::now().timestamp() > MAX_ASSERTION_LIFETIME_SECS {
            return Err("assertion lives too long");
        }
        let jti = claims.jti.ok_or("assertion has no jti")?;
        if !self
            .failed_auth
            .first_use(&client.client_id, &jti, claims.exp)
        {
            return Err("assertion replayed");
        }
        Ok(())
    }
}

/// Which client and method the request used; more than one method is an error (RFC 6749 §2.3).
fn presented_method(auth: &ClientAuthRequest) -> Result<(String, TokenEndpointAuth), OAuthError> {
    let has_assertion = auth.client_assertion.is_some() || auth.client_assertion_type.is_some();
    let methods =
        auth.basic.is_some() as u8 + auth.client_secret.is_some() as u8 + has_assertion as u8;
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    if let Some((id, _)) = &auth.basic {
        if auth.client_id.as_ref().is_some_and(|c| c != id) {
            return Err(OAuthError::invalid_request("client_id does not match"));
        }
        return Ok((id.clone(), TokenEndpointAuth::ClientSecretBasic));
    }
    if has_assertion {
        if auth.client_assertion_type.as_deref() != Some(JWT_BEARER_ASSERTION) {
            return Err(OAuthError::invalid_request(
                "unsupported client_assertion_type",
            ));
        }
        let assertion = auth.client_assertion.as_deref().unwrap_or_default();
        // The client is named by the (not yet verified) `sub`; verification checks it.
        let unverified_sub =
            jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(assertion)
                .ok()
                .and_then(|d| {
                    d.claims
                        .get("sub")
                        .and_then(|s| s.as_str())
                        .map(str::to_string)
                })
                .ok_or_else(|| OAuthError::invalid_client("malformed client assertion"))?;
        if auth
            .client_id
            .as_ref()
            .is_some_and(|c| *c != unverified_sub)
        {
            return Err(OAuthError::invalid_request("client_id does not match"));
        }
        return Ok((unverified_sub, TokenEndpointAuth::PrivateKeyJwt));
    }
    let id = auth
        .client_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_client("no client authentication"))?;
    if auth.client_secret.is_some() {
        Ok((id, TokenEndpointAuth::ClientSecretPost))
    } else {
        Ok((id, TokenEndpointAuth::None))
    }
}
