//! Access tokens: EdDSA JWTs (`typ: at+jwt`) with one claim set for both APIs, and their
//! validation: algorithm allowlist, signature, `iss`, `aud`, `exp`/`nbf`, then revocation.
//! Verified tokens are cached by the SHA-256 of the token, so a repeat validation costs a hash
//! and a few map look-ups; revocation (of the session, credential, user or signing key) is still
//! checked on every hit.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::CoreError;
use crate::keys::KeyRing;
use crate::model::{CredentialId, OrgId, SessionId, Timestamp, UserId};
pub use crate::model::{Principal, Via};
use crate::revocation::RevocationView;

pub const TOKEN_TYPE: &str = "at+jwt";

/// Who acts for the subject (RFC 8693 §4.1): the impersonating super-admin of a proxy login,
/// or the delegate of a token exchange, with the client it acts through and, for a chained
/// exchange, the earlier actor (`act.act`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// A user acting directly (a proxy login's super-admin).
    pub fn user(sub: Uuid) -> Actor {
        Actor {
            sub,
            client_id: None,
            act: None,
        }
    }

    /// How many actors the chain holds (this one included).
    pub fn depth(&self) -> usize {
        1 + self.act.as_ref().map_or(0, |a| a.depth())
    }
}

/// The one claim set of every access token (NOMINAL.md §12, PARSABLE.md §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub org: Uuid,
    pub sid: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
    pub amr: Vec<String>,
    pub guest: bool,
    /// The credential RID, when minted from an API key or persistent token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub akr: Option<String>,
    /// The impersonating super-admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// Scoped to the one team in `org` (a Parsable team token) rather than all of the user's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub team: bool,
    /// The OpenID client the token was issued to (its `aud` too); absent on seed-API tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Space-separated granted scopes, on OpenID provider tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn ts(secs: i64) -> Option<Timestamp> {
    DateTime::<Utc>::from_timestamp(secs, 0)
}

impl Claims {
    pub fn principal(&self) -> Result<Principal, CoreError> {
        let via = match &self.akr {
            Some(akr) => {
                let cred = akr
                    .rsplit('.')
                    .next()
                    .and_then(|u| Uuid::parse_str(u).ok())
                    .ok_or(CoreError::InvalidToken("malformed akr claim"))?;
                Via::MintedFromCredential {
                    credential: CredentialId(cred),
                    session: SessionId(self.sid.clone()),
                }
            }
            None => Via::Session {
                session: SessionId(self.sid.clone()),
                org_scoped: self.team,
            },
        };
        Ok(Principal {
            user: UserId(self.sub),
            org: OrgId(self.org),
            guest: self.guest,
            via,
            actor: self.act.as_ref().map(|a| UserId(a.sub)),
            amr: self.amr.clone(),
            expires_at: ts(self.exp),
            issued_at: ts(self.iat),
        })
    }
}

/// Issues and validates access tokens.
pub struct AccessTokens {
    keys: Arc<KeyRing>,
    revocations: Arc<RevocationView>,
    issuer: String,
    audience: String,
    leeway_secs: u64,
    /// Verified claims with the kid that signed them.
    cache: DashMap<[u8; 32], (Arc<Claims>, Arc<str>)>,
    cache_cap: usize,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Whom a presented access token must be for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAudience {
    /// The Parsable and Nominal APIs: `aud` is the configured audience, and no client's.
    Api,
    /// An OpenID client's resource (userinfo, introspection): a token the provider issued to a
    /// client (`client_id` claim); `aud` is that client, or the audience a token exchange
    /// checked against the client's allowlist.
    OidcClient,
}

/// Why a token failed; `Expired` only for a genuine token past `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFailure {
    Malformed,
    Invalid,
    Expired,
    Revoked,
    UnknownKey,
}

impl TokenFailure {
    const ALL: [TokenFailure; 5] = [
        TokenFailure::Malformed,
        TokenFailure::Invalid,
        TokenFailure::Expired,
        TokenFailure::Revoked,
        TokenFailure::UnknownKey,
    ];

    /// The reason an `InvalidToken` made from this failure carries (`None` for `Expired`,
    /// which is `TokenExpired`).
    fn reason(self) -> Option<&'static str> {
        match self {
            TokenFailure::Expired => None,
            TokenFailure::Malformed => Some("malformed token"),
            TokenFailure::Invalid => Some("bad signature or claims"),
            TokenFailure::Revoked => Some("revoked"),
            TokenFailure::UnknownKey => Some("unknown signing key"),
        }
    }
}

impl TokenFailure {
    /// What a `jsonwebtoken` verification error means.
    pub(crate) fn of(e: &jsonwebtoken::errors::Error) -> TokenFailure {
        match e.kind() {
            ErrorKind::ExpiredSignature => TokenFailure::Expired,
            ErrorKind::InvalidToken
            | ErrorKind::Base64(_)
            | ErrorKind::Json(_)
            | ErrorKind::Utf8(_) => TokenFailure::Malformed,
            _ => TokenFailure::Invalid,
        }
    }
}

impl From<TokenFailure> for CoreError {
    fn from(f: TokenFailure) -> Self {
        match f.reason() {
            None => CoreError::TokenExpired,
            Some(reason) => CoreError::InvalidToken(reason),
        }
    }
}

impl CoreError {
    /// The access-token failure this error was made from, so a surface can tell a malformed
    /// token from a forged or revoked one without reading the message.
    pub fn token_failure(&self) -> Option<TokenFailure> {
        match self {
            CoreError::TokenExpired => Some(TokenFailure::Expired),
            CoreError::InvalidToken(m) => TokenFailure::ALL
                .into_iter()
                .find(|f| f.reason() == Some(*m)),
            _ => None,
        }
    }
}

impl AccessTokens {
    pub fn new(
        keys: Arc<KeyRing>,
        revocations: Arc<RevocationView>,
        issuer: String,
        audience: String,
        leeway_secs: u64,
        cache_cap: usize,
    ) -> Self {
        AccessTokens {
            keys,
            revocations,
            issuer,
            audience,
            leeway_secs,
            cache: DashMap::new(),
            cache_cap,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// Builds the claim set for a new token.
    #[allow(clippy::too_many_arguments)]
    pub fn claims(
        &self,
        user: UserId,
        org: OrgId,
        sid: &str,
        now: Timestamp,
        expires_at: Timestamp,
        amr: Vec<String>,
        guest: bool,
    ) -> Claims {
        Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.0,
            org: org.0,
            sid: sid.to_string(),
            iat: self.revocations.issue_second(user, org, now),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
            jti: crate::crypto::random_token(16),
            amr,
            guest,
            akr: None,
            act: None,
            team: false,
            client_id: None,
            scope: None,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, CoreError> {
        self.keys
            .sign(TOKEN_TYPE, claims)
            .map_err(|e| CoreError::Internal(format!("signing failed: {e}")))
    }

    /// Full validation of a token for the seed APIs (`aud` = the configured audience). `now`
    /// is injected for tests.
    pub fn validate(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<(Arc<Claims>, Principal), TokenFailure> {
        self.validate_for(token, now, TokenAudience::Api)
    }

    /// Full validation for the given audience. The audience is checked on every call, cached
    /// or not, so one cache serves tokens of every audience without mixing them up.
    pub fn validate_for(
        &self,
        token: &str,
        now: Timestamp,
        audience: TokenAudience,
    ) -> Result<(Arc<Claims>, Principal), TokenFailure> {
        let claims = self.verify_cached(token, now)?;
        let audience_ok = match audience {
            TokenAudience::Api => claims.client_id.is_none() && claims.aud == self.audience,
            TokenAudience::OidcClient => claims.client_id.is_some() && claims.aud != self.audience,
        };
        if !audience_ok {
            return Err(TokenFailure::Invalid);
        }
        let principal = claims.principal().map_err(|_| TokenFailure::Malformed)?;
        self.check_revocation(&principal)?;
        Ok((claims, principal))
    }

    /// Signature and claims only, ignoring `exp` (for idempotent logout of expired tokens).
    pub fn verify_ignoring_expiry(&self, token: &str) -> Result<Claims, TokenFailure> {
        self.verify_signature(token, false, chrono::Utc::now())
            .map(|(claims, _)| claims)
    }

    /// Refuses a principal the revocation view says is revoked (the decision is the view's).
    pub fn check_revocation(&self, p: &Principal) -> Result<(), TokenFailure> {
        if self.revocations.refuses(p) {
            return Err(TokenFailure::Revoked);
        }
        Ok(())
    }

    fn verify_cached(&self, token: &str, now: Timestamp) -> Result<Arc<Claims>, TokenFailure> {
        let key = crate::crypto::sha256(token.as_bytes());
        if let Some(hit) = self.cache.get(&key) {
            let (claims, kid) = hit.value().clone();
            drop(hit);
            if self.revocations.is_key_revoked(&kid) {
                self.cache.remove(&key);
                return Err(TokenFailure::Revoked);
            }
            // A key retired since may have outlived every token it signed.
            if self.keys.verifier(&kid, now).is_none() {
                self.cache.remove(&key);
                return Err(TokenFailure::UnknownKey);
            }
            // Saturating: a signed `exp` near i64::MAX must not overflow here.
            if claims.exp.saturating_add(self.leeway_secs as i64) >= now.timestamp() {
                return Ok(claims);
            }
            self.cache.remove(&key);
            return Err(TokenFailure::Expired);
        }
        let (claims, kid) = self.verify_signature(token, true, now)?;
        let claims = Arc::new(claims);
        if self.cache.len() >= self.cache_cap {
            // Crude but bounded: a full cache starts over rather than growing.
            self.cache.clear();
        }
        self.cache.insert(key, (claims.clone(), Arc::from(kid)));
        Ok(claims)
    }

    fn verify_signature(
        &self,
        token: &str,
        check_exp: bool,
        now: Timestamp,
    ) -> Result<(Claims, String), TokenFailure> {
        if token.len() > 4096 {
            return Err(TokenFailure::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenFailure::Malformed)?;
        // The allowlist: EdDSA only. `none` and HS* never reach a verifier.
        if header.alg != Algorithm::EdDSA || header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenFailure::Invalid);
        }
        let kid = header.kid.ok_or(TokenFailure::Invalid)?;
        // The feed learns of a revocation within a poll; the ring only at its next reload.
        if self.revocations.is_key_revoked(&kid) {
            return Err(TokenFailure::Revoked);
        }
        let verifier = self
            .keys
            .verifier(&kid, now)
            .ok_or(TokenFailure::UnknownKey)?;
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.issuer]);
        // `aud` must be there; which one is acceptable is `validate_for`'s check, after the cache.
        v.validate_aud = false;
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
        v.leeway = self.leeway_secs;
        v.validate_exp = check_exp;
        v.validate_nbf = true;
        match jsonwebtoken::decode::<Claims>(token, &verifier.key, &v) {
            Ok(data) => Ok((data.claims, kid)),
            Err(e) => Err(TokenFailure::of(&e)),
        }
    }
}
