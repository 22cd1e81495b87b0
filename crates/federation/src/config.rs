//! Provider registry configuration: one `[[federation.providers]]` table per upstream OpenID
//! provider. Every field except `alias`, `issuer` and `client_ids` has a safe default.

use std::collections::BTreeSet;
use std::time::Duration;

use portcullis_core::{MembershipKind, Role};
use serde::{Deserialize, Serialize};

use crate::error::FederationError;

/// The longest clock-skew leeway a provider may configure (OIDC Core leaves it to the RP;
/// ASVS asks for a bounded one).
pub const MAX_LEEWAY_SECS: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// A generic OpenID Connect provider (Parsable `loginWithIdp*`, Nominal ID tokens).
    #[default]
    Oidc,
    /// Okta: also the provider behind Parsable `loginWithSSO` (provider `OKTA`).
    Okta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenFormat {
    /// Upstream access tokens are JWTs, verified against the provider's keys.
    #[default]
    Jwt,
    /// Upstream access tokens are opaque: introspected (RFC 7662), or, only with
    /// `opaque_tokens_via_userinfo`, checked by calling the userinfo endpoint.
    Opaque,
}

/// A client secret from the configuration: never printed (`Debug` and serialisation redact it).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub fn new(s: impl Into<String>) -> Self {
        ClientSecret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Serialize for ClientSecret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

/// Which claims carry what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    pub email: String,
    pub email_verified: String,
    /// Linking and just-in-time provisioning need `email_verified: true`. Turning this off
    /// only affects provisioning; linking to an existing account always needs a verified email.
    pub require_email_verified: bool,
    pub name: String,
    pub picture: String,
    /// A claim whose values are group names, mapped through `group_mappings`.
    pub groups: Option<String>,
    /// A claim whose values name orgs directly (by name or uuid).
    pub org: Option<String>,
    /// A claim whose values are role names (ADMIN, AUTHOR, …), applied to orgs from `org`.
    pub role: Option<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        ClaimMapping {
            email: "email".into(),
            email_verified: "email_verified".into(),
            require_email_verified: true,
            name: "name".into(),
            picture: "picture".into(),
            groups: None,
            org: None,
            role: None,
        }
    }
}

/// One row of the group → (org, roles) table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    pub group: String,
    /// Org name or uuid.
    pub org: String,
    #[serde(default)]
    pub roles: BTreeSet<Role>,
    #[serde(default = "default_kind")]
    pub kind: MembershipKind,
}

fn default_kind() -> MembershipKind {
    MembershipKind::Member
}

/// An org new users are provisioned into regardless of claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JitOrg {
    /// Org name or uuid.
    pub org: String,
    #[serde(default)]
    pub roles: BTreeSet<Role>,
    #[serde(default = "default_kind")]
    pub kind: MembershipKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Parsable `idpAlias`; unique.
    pub alias: String,
    #[serde(default)]
    pub kind: ProviderKind,
    /// Compared exactly (no trailing-slash normalisation) with `iss` and discovery's `issuer`.
    pub issuer: String,
    /// Accepted client ids: an ID token's `aud` must contain one; an access token's `aud`,
    /// `azp` or `client_id` must.
    pub client_ids: Vec<String>,
    /// Defaults to `<issuer>/.well-known/openid-configuration`.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Overrides discovery's `jwks_uri`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Call userinfo to fill claims the ID token lacks when an access token is supplied.
    #[serde(default = "yes")]
    pub use_userinfo: bool,
    #[serde(default)]
    pub access_token_format: AccessTokenFormat,
    /// RFC 7662 introspection of opaque access tokens: the client id Portcullis authenticates
    /// with (default: the first of `client_ids`).
    #[serde(default)]
    pub introspection_client_id: Option<String>,
    /// With it, opaque access tokens are introspected (client id, `exp`, `token_type` checked)
    /// instead of trusted on a userinfo answer alone.
    #[serde(default)]
    pub introspection_client_secret: Option<ClientSecret>,
    /// Overrides discovery's `introspection_endpoint`.
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    /// Without introspection credentials, accept an opaque access token when userinfo answers
    /// for it. Off by default: userinfo accepts a token minted for any client of the provider
    /// (another application's token would log its user in here) and tells no expiry.
    #[serde(default)]
    pub opaque_tokens_via_userinfo: bool,
    /// Trust this provider's word that its sign-in used several factors: an upstream `amr`
    /// holding `mfa` (or an `acr` listed in `mfa_acr_values`) then satisfies an org policy
    /// that asks for a second factor (docs/design/mfa.md). Off by default: the org policy
    /// applies on top of the upstream sign-in.
    #[serde(default)]
    pub trust_upstream_mfa: bool,
    /// With `trust_upstream_mfa`: upstream `acr` values that mean a multi-factor sign-in.
    #[serde(default)]
    pub mfa_acr_values: Vec<String>,
    /// A session (Parsable) or token (Nominal, when the upstream expiry is unknown) minted from
    /// an upstream token ends at most this long after the upstream token's `exp`.
    #[serde(default = "default_session_cap_secs")]
    pub max_session_beyond_upstream_secs: u64,
    /// A subset of the built-in allowlist; empty = the whole allowlist.
    #[serde(default)]
    pub algorithms: Vec<String>,
    #[serde(default)]
    pub claims: ClaimMapping,
    #[serde(default)]
    pub group_mappings: Vec<GroupMapping>,
    /// With group mappings: on each login, add/update memberships of mapped orgs and remove
    /// memberships in mapped orgs the user's groups no longer grant.
    #[serde(default)]
    pub sync_memberships: bool,
    /// Just-in-time provisioning of unknown users (still gated by the email allow-list).
    #[serde(default)]
    pub jit_provisioning: bool,
    /// Orgs every just-in-time user joins.
    #[serde(default)]
    pub jit_orgs: Vec<JitOrg>,
    /// Orgs (names or uuids) this provider may log users into; empty = any.
    #[serde(default)]
    pub allowed_orgs: Vec<String>,
    /// Link a new (issuer, sub) to an existing account with the same, verified, email.
    #[serde(default)]
    pub link_verified_email: bool,
    /// Email domains this provider serves (Parsable `startLogin`).
    #[serde(default)]
    pub email_domains: Vec<String>,
    #[serde(default = "default_cache_secs")]
    pub cache_ttl_secs: u64,
    /// Unknown `kid`s trigger at most one JWKS re-fetch per this interval.
    #[serde(default = "default_refetch_secs")]
    pub refetch_min_interval_secs: u64,
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Browser SSO (authorization code + PKCE) through this provider; `None`: off.
    #[serde(default)]
    pub browser_sso: Option<crate::authcode::BrowserSsoConfig>,
}

fn yes() -> bool {
    true
}
fn default_cache_secs() -> u64 {
    3600
}
fn default_refetch_secs() -> u64 {
    30
}
fn default_leeway() -> u64 {
    30
}
fn default_session_cap_secs() -> u64 {
    // Keycloak's default "SSO Session Max" (10 h).
    36_000
}
fn default_connect_ms() -> u64 {
    2000
}
fn default_timeout_ms() -> u64 {
    5000
}

/// The built-in signature allowlist. `none` and every HS* are never accepted.
pub const ALLOWED_ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

impl ProviderConfig {
    /// A provider with defaults for everything but the three required fields.
    pub fn new(alias: &str, issuer: &str, client_ids: Vec<String>) -> Self {
        ProviderConfig {
            alias: alias.into(),
            kind: ProviderKind::Oidc,
            issuer: issuer.into(),
            client_ids,
            discovery_url: None,
            jwks_uri: None,
            use_userinfo: true,
            access_token_format: AccessTokenFormat::Jwt,
            introspection_client_id: None,
            introspection_client_secret: None,
            introspection_endpoint: None,
            opaque_tokens_via_userinfo: false,
            trust_upstream_mfa: false,
            mfa_acr_values: Vec::new(),
            max_session_beyond_upstream_secs: default_session_cap_secs(),
            algorithms: Vec::new(),
            claims: ClaimMapping::default(),
            group_mappings: Vec::new(),
            sync_memberships: false,
            jit_provisioning: false,
            jit_orgs: Vec::new(),
            allowed_orgs: Vec::new(),
            link_verified_email: false,
            email_domains: Vec::new(),
            cache_ttl_secs: default_cache_secs(),
            refetch_min_interval_secs: default_refetch_secs(),
            leeway_secs: default_leeway(),
            connect_timeout_ms: default_connect_ms(),
            request_timeout_ms: default_timeout_ms(),
            browser_sso: None,
        }
    }

    pub fn discovery_url(&self) -> String {
        self.discovery_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/openid-configuration",
                self.issuer.trim_end_matches('/')
            )
        })
    }

    pub fn leeway(&self) -> u64 {
        self.leeway_secs.min(MAX_LEEWAY_SECS)
    }

    pub fn cache_ttl(&self) -> Duration {
        Duration::from_secs(self.cache_ttl_secs.max(1))
    }

    pub fn refetch_interval(&self) -> Duration {
        Duration::from_secs(self.refetch_min_interval_secs)
    }

    /// Whether `alg` passes both the built-in allowlist and this provider's subset.
    pub fn algorithm_allowed(&self, alg: &str) -> bool {
        ALLOWED_ALGORITHMS.contains(&alg)
            && (self.algorithms.is_empty() || self.algorithms.iter().any(|a| a == alg))
    }

    /// The client id and secret for RFC 7662 introspection, when a secret is configured.
    pub fn introspection_credentials(&self) -> Option<(&str, &ClientSecret)> {
        let secret = self.introspection_client_secret.as_ref()?;
        let id = self.introspection_client_id.as_deref().or_else(|| {
            self.client_ids
                .iter()
                .map(String::as_str)
                .find(|c| !c.trim().is_empty())
        })?;
        Some((id, secret))
    }

    /// Whether this provider serves the email's domain (case-insensitive).
    pub fn serves_email(&self, email: &str) -> bool {
        let Some((_, domain)) = email.trim().rsplit_once('@') else {
            return false;
        };
        self.email_domains.iter().any(|d| {
            d.trim()
                .trim_start_matches('@')
                .eq_ignore_ascii_case(domain)
        })
    }

    /// Checks the configuration on its own (uniqueness is checked by the registry).
    pub fn validate(&self) -> Result<(), FederationError> {
        let bad = |m: String| Err(FederationError::Config(m));
        if self.alias.trim().is_empty() {
            return bad("a provider needs an alias".into());
        }
        let a = &self.alias;
        if !(self.issuer.starts_with("https://") || self.issuer.starts_with("http://")) {
            return bad(format!("provider {a}: issuer must be an http(s) URL"));
        }
        if self.client_ids.iter().all(|c| c.trim().is_empty()) {
            return bad(format!("provider {a}: client_ids must not be empty"));
        }
        for alg in &self.algorithms {
            if !ALLOWED_ALGORITHMS.contains(&alg.as_str()) {
                return bad(format!(
                    "provider {a}: algorithm {alg:?} is not allowed (allowed: {})",
                    ALLOWED_ALGORITHMS.join(", ")
                ));
            }
        }
        if self.leeway_secs > MAX_LEEWAY_SECS {
            return bad(format!(
                "provider {a}: leeway_secs must be at most {MAX_LEEWAY_SECS}"
            ));
        }
        if self.max_session_beyond_upstream_secs > 366 * 24 * 3600 {
            return bad(format!(
                "provider {a}: max_session_beyond_upstream_secs must be at most one year"
            ));
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return bad(format!("provider {a}: timeouts must be positive"));
        }
        if !self.group_mappings.is_empty() && self.claims.groups.is_none() {
            return bad(format!(
                "provider {a}: group_mappings need claims.groups (the claim to read)"
            ));
        }
        if self.link_verified_email && self.email_domains.iter().all(|d| d.trim().is_empty()) {
            // Linking by email trusts the provider for those addresses only (no takeover of
            // accounts in domains it does not own).
            return bad(format!(
                "provider {a}: link_verified_email needs email_domains (the domains it may link)"
            ));
        }
        if self.claims.org.is_some() && self.allowed_orgs.iter().all(|o| o.trim().is_empty()) {
            // Otherwise the provider could name any org on the server.
            return bad(format!(
                "provider {a}: claims.org needs a non-empty allowed_orgs"
            ));
        }
        if self
            .introspection_client_secret
            .as_ref()
            .is_some_and(|s| s.expose().is_empty())
        {
            return bad(format!(
                "provider {a}: introspection_client_secret must not be empty"
            ));
        }
        if self.opaque_tokens_via_userinfo {
            // The opt-in only ever applies to opaque tokens that cannot be introspected.
            if self.access_token_format != AccessTokenFormat::Opaque {
                return bad(format!(
                    "provider {a}: opaque_tokens_via_userinfo needs access_token_format = \"opaque\""
                ));
            }
            if self.introspection_client_secret.is_some() {
                return bad(format!(
                    "provider {a}: opaque_tokens_via_userinfo has no effect with introspection_client_secret (introspection is used)"
                ));
            }
        }
        if self.jit_provisioning
            && self.jit_orgs.is_empty()
            && self.group_mappings.is_empty()
            && self.claims.org.is_none()
        {
            return bad(format!(
                "provider {a}: jit_provisioning needs jit_orgs, group_mappings or claims.org"
            ));
        }
        if let Some(b) = &self.browser_sso {
            b.validate(self)?;
        }
        Ok(())
    }
}
