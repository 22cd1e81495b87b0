//! Federation: upstream OpenID providers for both APIs. It verifies upstream ID and access
//! tokens (discovery, JWKS cache with TTL and rate-limited re-fetch, algorithm allowlist,
//! `iss`/`aud`/`azp`/`exp`/`nbf`/`iat`), maps an upstream identity (issuer, subject) to a
//! Portcullis user (link, just-in-time provisioning gated by the email allow-list, group →
//! membership sync) and applies the org-selection rules. Sessions and tokens are minted by the
//! engine, through [`Federation::start_session`] / [`Federation::issue_token`] (the upstream cap).
//!
//! Design notes: `docs/design/federation.md`.
#![forbid(unsafe_code)]

#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
mod authcode;
mod config;
mod error;
mod jwt;
mod login;
mod orgs;
mod provider;
mod resolve;
mod token_exchange;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_core::Timestamp;
use portcullis_core::engine::Engine;
use serde_json::{Map, Value};

pub use authcode::{AuthorizationRequest, BrowserSsoConfig, pkce_challenge};
pub use config::{
    ALLOWED_ALGORITHMS, AccessTokenFormat, ClaimMapping, ClientSecret, GroupMapping, JitOrg,
    MAX_LEEWAY_SECS, ProviderConfig, ProviderKind,
};
pub use error::FederationError;
pub use login::AMR_FEDERATED;
pub use orgs::{NominalOrgRequest, UserOrg};
pub use provider::{Discovery, ProviderStats};

use jwt::TokenUse;
use provider::ProviderRuntime;

/// Claims as returned by userinfo.
pub type Claims = Map<String, Value>;

/// A verified upstream identity. Keyed by (`issuer`, `subject`), never by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The provider's alias (Parsable `idpAlias`).
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// Normalised (trimmed, lower case).
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
    /// Values of the configured groups claim; `None` when the token lacks the claim.
    pub groups: Option<Vec<String>>,
    /// Values of the configured org claim.
    pub orgs: Vec<String>,
    /// Values of the configured role claim.
    pub roles: Vec<String>,
    /// The upstream token's `exp` (`None` for opaque access tokens); caps the new token.
    pub expires_at: Option<Timestamp>,
    /// The upstream `amr` (RFC 8176) and `acr`, when the token has them: how the user signed
    /// in there. Counted toward the MFA policy only for a provider with `trust_upstream_mfa`.
    pub amr: Vec<String>,
    pub acr: Option<String>,
}

impl UpstreamIdentity {
    /// The email, or `MissingClaims(["email"])` (Nominal refreshAccessToken / getAccessToken).
    pub fn require_email(&self) -> Result<&str, FederationError> {
        self.email
            .as_deref()
            .ok_or_else(|| FederationError::MissingClaims(vec!["email".into()]))
    }
}

/// What `startLogin` needs to describe a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSummary {
    pub alias: String,
    pub kind: ProviderKind,
    pub issuer: String,
    /// The first accepted client id (what a client should request tokens for).
    pub client_id: Option<String>,
    /// From discovery, when it is cached (or was fetched by [`Federation::describe`]).
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub end_session_endpoint: Option<String>,
}

/// The provider registry and the federation logic.
pub struct Federation {
    engine: Arc<Engine>,
    providers: Vec<Arc<ProviderRuntime>>,
    by_alias: HashMap<String, usize>,
    by_issuer: HashMap<String, usize>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation")
            .field(
                "providers",
                &self
                    .providers
                    .iter()
                    .map(|p| &p.cfg.alias)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn ts(secs: i64) -> Option<Timestamp> {
    DateTime::<Utc>::from_timestamp(secs, 0)
}

impl Federation {
    /// Validates the configuration (aliases and issuers unique). Fetches nothing: discovery
    /// and keys are loaded on first use.
    pub fn new(
        providers: Vec<ProviderConfig>,
        engine: Arc<Engine>,
    ) -> Result<Self, FederationError> {
        let mut rts = Vec::new();
        let mut by_alias = HashMap::new();
        let mut by_issuer = HashMap::new();
        for (i, cfg) in providers.into_iter().enumerate() {
            cfg.validate()?;
            if by_alias.insert(cfg.alias.clone(), i).is_some() {
                return Err(FederationError::Config(format!(
                    "duplicate provider alias {}",
                    cfg.alias
                )));
            }
            if by_issuer.insert(cfg.issuer.clone(), i).is_some() {
                return Err(FederationError::Config(format!(
                    "two providers share the issuer {}",
                    cfg.issuer
                )));
            }
            if cfg.access_token_format == AccessTokenFormat::Opaque
                && cfg.introspection_credentials().is_none()
                && !cfg.opaque_tokens_via_userinfo
            {
                tracing::warn!(
                    provider = %cfg.alias,
                    "opaque access tokens will be refused: set introspection_client_secret"
                );
            }
            rts.push(Arc::new(ProviderRuntime::new(cfg)?));
        }
        Ok(Federation {
            engine,
            providers: rts,
            by_alias,
            by_issuer,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    pub fn providers(&self) -> impl Iterator<Item = &ProviderConfig> {
        self.providers.iter().map(|p| &p.cfg)
    }

    fn by_alias(&self, alias: &str) -> Result<&Arc<ProviderRuntime>, FederationError> {
        self.by_alias
            .get(alias)
            .map(|&i| &self.providers[i])
            .ok_or_else(|| FederationError::UnknownProvider(alias.to_owned()))
    }

    fn by_issuer(&self, issuer: &str) -> Result<&Arc<ProviderRuntime>, FederationError> {
        self.by_issuer
            .get(issuer)
            .map(|&i| &self.providers[i])
            .ok_or_else(|| FederationError::UnknownIssuer {
                issuer: issuer.to_owned(),
            })
    }

    /// The provider used by Parsable `loginWithSSO` (provider `OKTA`): the first `okta` one.
    pub fn okta_alias(&self) -> Option<&str> {
        self.providers
            .iter()
            .find(|p| p.cfg.kind == ProviderKind::Okta)
            .map(|p| p.cfg.alias.as_str())
    }

    /// Outbound-fetch counters of a provider.
    pub fn stats(&self, alias: &str) -> Option<ProviderStats> {
        self.by_alias(alias).ok().map(|p| p.stats())
    }

    fn summary(rt: &ProviderRuntime, d: Option<&Discovery>) -> ProviderSummary {
        ProviderSummary {
            alias: rt.cfg.alias.clone(),
            kind: rt.cfg.kind,
            issuer: rt.cfg.issuer.clone(),
            client_id: rt.cfg.client_ids.first().cloned(),
            authorization_endpoint: d.and_then(|d| d.authorization_endpoint.clone()),
            token_endpoint: d.and_then(|d| d.token_endpoint.clone()),
            userinfo_endpoint: d.and_then(|d| d.userinfo_endpoint.clone()),
            end_session_endpoint: d.and_then(|d| d.end_session_endpoint.clone()),
        }
    }

    /// The provider serving the email's domain (Parsable `startLogin`), with endpoints when
    /// discovery is cached. Never calls out; see [`Federation::describe`].
    pub fn provider_for_email_domain(&self, email: &str) -> Option<ProviderSummary> {
        let rt = self.providers.iter().find(|p| p.cfg.serves_email(email))?;
        Some(Self::summary(rt, rt.cached_discovery().as_deref()))
    }

    /// A provider's summary, fetching discovery if needed; a failed fetch leaves endpoints out.
    pub async fn describe(&self, alias: &str) -> Result<ProviderSummary, FederationError> {
        let rt = self.by_alias(alias)?;
        let d = rt.discovery().await.ok();
        Ok(Self::summary(rt, d.as_deref()))
    }

    /// Verifies a JWT from a configured provider and returns the provider and the claims.
    async fn verify_jwt(
        &self,
        token: &str,
        use_: TokenUse,
        provider: Option<&str>,
    ) -> Result<(&Arc<ProviderRuntime>, jwt::Claims), FederationError> {
        let parsed = jwt::parse(token)?;
        let iss =
            jwt::str_claim(&parsed.payload, "iss").ok_or(FederationError::Malformed("no iss"))?;
        let rt = self.by_issuer(iss)?;
        if provider.is_some_and(|a| a != rt.cfg.alias) {
            return Err(FederationError::UnknownIssuer {
                issuer: iss.to_owned(),
            });
        }
        jwt::verify_signature(rt, token, &parsed).await?;
        jwt::check_claims(
            &rt.cfg,
            &parsed.header,
            &parsed.payload,
            use_,
            Utc::now().timestamp(),
        )?;
        Ok((rt, parsed.payload))
    }

    /// Verifies an upstream OIDC ID token (Nominal getAccessToken / getUserOrgs). With an
    /// access token, userinfo is called (when the provider uses it): its `sub` must match and
    /// it fills `email`, `name`, `picture` and groups the ID token lacks.
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        access_token: Option<&str>,
    ) -> Result<UpstreamIdentity, FederationError> {
        let (rt, claims) = self.verify_jwt(id_token, TokenUse::Id, None).await?;
        let mut id = identity_from_claims(&rt.cfg, &claims);
        if let Some(at) = access_token.filter(|t| !t.trim().is_empty())
            && rt.cfg.use_userinfo
        {
            let info = rt.userinfo(at.trim()).await?;
            if jwt::str_claim(&info, "sub") != Some(id.subject.as_str()) {
                return Err(FederationError::UserinfoMismatch);
            }
            merge_userinfo(&rt.cfg, &mut id, &info);
        }
        Ok(id)
    }

    /// Verifies an upstream access token (Nominal refreshAccessToken, Parsable
    /// `Idp-Authorization`, Parsable loginWithSSO with the Okta alias). A JWT is checked
    /// against the provider's keys (`iss`, `exp`, `aud`/`azp`/`client_id`). An opaque token
    /// goes to the named provider when it has `access_token_format = "opaque"`, else (no
    /// provider named) to the one opaque-format provider when exactly one is configured; it is
    /// introspected (RFC 7662) when the provider has introspection credentials, else checked by
    /// calling userinfo if the provider sets `opaque_tokens_via_userinfo`, else refused
    /// (`OpaqueTokenUnverifiable`).
    pub async fn verify_access_token(
        &self,
        token: &str,
        provider: Option<&str>,
    ) -> Result<UpstreamIdentity, FederationError> {
        let token = token.trim();
        let named = provider.map(|a| self.by_alias(a)).transpose()?;
        let opaque = match named {
            Some(rt) => (rt.cfg.access_token_format == AccessTokenFormat::Opaque).then_some(rt),
            // An opaque token names no issuer: only an unambiguous registry can place it.
            None if jwt::parse(token).is_err() => self.sole_opaque_provider(),
            None => None,
        };
        if let Some(rt) = opaque {
            return self.via_opaque(rt, token).await;
        }
        let (rt, claims) = self.verify_jwt(token, TokenUse::Access, provider).await?;
        if rt.cfg.access_token_format == AccessTokenFormat::Opaque {
            // A JWT from an opaque-format provider is still only trusted via userinfo.
            let mut id = self.via_userinfo(rt, token).await?;
            id.expires_at = jwt::expiry(&claims).and_then(ts);
            return Ok(id);
        }
        let mut id = identity_from_claims(&rt.cfg, &claims);
        if id.email.is_none() && rt.cfg.use_userinfo {
            // Some providers keep profile claims out of access tokens.
            if let Ok(info) = rt.userinfo(token).await
                && jwt::str_claim(&info, "sub") == Some(id.subject.as_str())
            {
                merge_userinfo(&rt.cfg, &mut id, &info);
            }
        }
        Ok(id)
    }

    /// The only provider with `access_token_format = "opaque"`, if exactly one is configured.
    fn sole_opaque_provider(&self) -> Option<&Arc<ProviderRuntime>> {
        let mut it = self
            .providers
            .iter()
            .filter(|p| p.cfg.access_token_format == AccessTokenFormat::Opaque);
        match (it.next(), it.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    /// An opaque access token: introspection when configured, else userinfo only when the
    /// provider opts in (`opaque_tokens_via_userinfo`); otherwise refused without a call out.
    async fn via_opaque(
        &self,
        rt: &ProviderRuntime,
        token: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        if token.is_empty() || token.len() > 16 * 1024 {
            return Err(FederationError::Malformed("bad access token"));
        }
        let Some(info) = rt.introspect(token).await? else {
            // Userinfo answers for a token minted for any client of the provider.
            if !rt.cfg.opaque_tokens_via_userinfo {
                return Err(FederationError::OpaqueTokenUnverifiable(
                    rt.cfg.alias.clone(),
                ));
            }
            return self.via_userinfo(rt, token).await;
        };
        check_introspection(&rt.cfg, &info, Utc::now().timestamp())?;
        let mut id = identity_from_claims(&rt.cfg, &info);
        if id.email.is_none() && rt.cfg.use_userinfo {
            // Introspection proves the token; profile claims may live in userinfo only.
            let profile = rt.userinfo(token).await?;
            if jwt::str_claim(&profile, "sub") != Some(id.subject.as_str()) {
                return Err(FederationError::UserinfoMismatch);
            }
            merge_userinfo(&rt.cfg, &mut id, &profile);
        }
        Ok(id)
    }

    /// Its callers bound the token first: `via_opaque`'s size check, or a verified JWT.
    async fn via_userinfo(
        &self,
        rt: &ProviderRuntime,
        token: &str,
    ) -> Result<UpstreamIdentity, FederationError> {
        let info = rt.userinfo(token).await?;
        if jwt::str_claim(&info, "sub").is_none_or(str::is_empty) {
            return Err(FederationError::Malformed("userinfo has no sub"));
        }
        let mut id = identity_from_claims(&rt.cfg, &info);
        id.expires_at = None;
        Ok(id)
    }

    /// Calls the provider's userinfo endpoint with an access token.
    pub async fn userinfo(
        &self,
        provider: &str,
        access_token: &str,
    ) -> Result<Claims, FederationError> {
        self.by_alias(provider)?.userinfo(access_token.trim()).await
    }

    /// The provider's `end_session_endpoint` for an ID token (Nominal
    /// getIdpEndSessionEndpoint): the issuer is read from the token, the signature checked,
    /// `exp` ignored. `Ok(None)` when the provider has none.
    pub async fn end_session_endpoint(
        &self,
        id_token: &str,
    ) -> Result<Option<String>, FederationError> {
        let (rt, _) = self.verify_jwt(id_token, TokenUse::Logout, None).await?;
        Ok(rt.discovery().await?.end_session_endpoint.clone())
    }
}

/// RFC 7662 answer checks: `active`, an access token (`token_type` Bearer), issued by this
/// provider to an accepted client (`client_id`, or `aud` naming one, as for JWT access
/// tokens), a subject, and `exp`/`nbf` with the provider's leeway.
fn check_introspection(
    cfg: &ProviderConfig,
    info: &jwt::Claims,
    now: i64,
) -> Result<(), FederationError> {
    if info.get("active") != Some(&Value::Bool(true)) {
        return Err(FederationError::TokenInactive);
    }
    // Optional in RFC 7662, but without it a refresh token would pass as an access token.
    if !jwt::str_claim(info, "token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(FederationError::TokenInactive);
    }
    if let Some(iss) = jwt::str_claim(info, "iss")
        && iss != cfg.issuer
    {
        return Err(FederationError::UnknownIssuer {
            issuer: iss.to_owned(),
        });
    }
    let accepted = |a: &str| cfg.client_ids.iter().any(|c| c == a);
    let client = jwt::str_claim(info, "client_id");
    let aud_ok = match info.get("aud") {
        Some(Value::String(a)) => accepted(a),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    };
    if !(client.is_some_and(accepted) || aud_ok) {
        return Err(FederationError::BadAudience {
            audience: client.unwrap_or_default().to_owned(),
        });
    }
    if jwt::str_claim(info, "sub").is_none_or(|s| s.trim().is_empty()) {
        return Err(FederationError::Malformed("introspection has no sub"));
    }
    let leeway = cfg.leeway() as i64;
    let time = |k: &str| {
        info.get(k)
            .and_then(Value::as_f64)
            .map(|f| f.floor() as i64)
    };
    // A huge `exp` saturates to i64::MAX: the sum must not overflow.
    if time("exp").is_some_and(|exp| now > exp.saturating_add(leeway)) {
        return Err(FederationError::Expired);
    }
    if time("nbf").is_some_and(|nbf| nbf > now + leeway) {
        return Err(FederationError::NotYetValid);
    }
    Ok(())
}

fn claim_str(c: &jwt::Claims, name: &str) -> Option<String> {
    jwt::str_claim(c, name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn claim_list(c: &jwt::Claims, name: &str) -> Option<Vec<String>> {
    match c.get(name)? {
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Value::String(s) => Some(
            s.split([',', ' '])
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn claim_bool(c: &jwt::Claims, name: &str) -> bool {
    match c.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn identity_from_claims(cfg: &ProviderConfig, c: &jwt::Claims) -> UpstreamIdentity {
    let m = &cfg.claims;
    UpstreamIdentity {
        provider: cfg.alias.clone(),
        issuer: cfg.issuer.clone(),
        subject: jwt::str_claim(c, "sub").unwrap_or_default().to_owned(),
        email: claim_str(c, &m.email).map(|e| portcullis_core::normalize_email(&e)),
        email_verified: claim_bool(c, &m.email_verified),
        name: claim_str(c, &m.name),
        picture: claim_str(c, &m.picture),
        groups: m.groups.as_deref().and_then(|g| claim_list(c, g)),
        orgs: m
            .org
            .as_deref()
            .and_then(|g| claim_list(c, g))
            .unwrap_or_default(),
        roles: m
            .role
            .as_deref()
            .and_then(|g| claim_list(c, g))
            .unwrap_or_default(),
        expires_at: jwt::expiry(c).and_then(ts),
        amr: claim_list(c, "amr").unwrap_or_default(),
        acr: claim_str(c, "acr"),
    }
}

fn merge_userinfo(cfg: &ProviderConfig, id: &mut UpstreamIdentity, info: &jwt::Claims) {
    let from = identity_from_claims(cfg, info);
    if id.email.is_none() {
        id.email = from.email;
        id.email_verified = from.email_verified;
    }
    if id.name.is_none() {
        id.name = from.name;
    }
    if id.picture.is_none() {
        id.picture = from.picture;
    }
    if id.groups.is_none() {
        id.groups = from.groups;
    }
    if id.orgs.is_empty() {
        id.orgs = from.orgs;
    }
    if id.roles.is_empty() {
        id.roles = from.roles;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(v: Value) -> jwt::Claims {
        match v {
            Value::Object(m) => m,
            _ => jwt::Claims::new(),
        }
    }

    /// Found by the `upstream_answers` fuzz target: an introspection answer with `exp` far
    /// beyond i64 (it saturates to i64::MAX) made `exp + leeway` overflow.
    #[test]
    fn introspection_with_a_huge_exp_does_not_overflow() {
        let cfg = ProviderConfig::new("idp", "https://idp.example", vec!["app".into()]);
        let now = 1_800_000_000;
        let base = json!({"active": true, "token_type": "Bearer", "client_id": "app", "sub": "u"});
        for exp in [json!(1.8060799e22), json!(i64::MAX), json!(-1e300)] {
            let mut v = base.clone();
            v["exp"] = exp.clone();
            let r = check_introspection(&cfg, &answer(v), now);
            if exp.as_f64().is_some_and(|e| e > 0.0) {
                assert!(r.is_ok(), "{exp}: {r:?}");
            } else {
                assert!(matches!(r, Err(FederationError::Expired)), "{exp}: {r:?}");
            }
        }
    }
}
