//! The client registry's rules (docs/design/oidc-clients.md): what an operator or an org admin
//! may register ([`ClientSpec`], [`ClientPatch`]) and how it becomes an [`OAuthClient`], client
//! secrets, and the two checks the protocol endpoints make against a registered client
//! ([`match_redirect_uri`], [`verify_client_secret`]).
//!
//! Every refusal is a `CoreError::InvalidArgument` naming the field and the rule.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::crypto;
use crate::error::{CoreError, CoreResult};
use crate::model::*;

mod config;
mod declared;
mod exchange_policy;
mod registration_config;
mod uris;

#[cfg(test)]
mod tests;

pub use config::OidcConfig;
pub use declared::{DeclaredClient, LoadedClient};
pub use exchange_policy::{ImpersonationPolicy, TokenExchangeConfig};
pub use registration_config::{
    MetadataDocumentConfig, REGISTRABLE_SCOPES, RegistrationConfig, RegistrationMode,
};
pub use uris::{MAX_URI_LEN, match_post_logout_redirect_uri, match_redirect_uri};

/// The scopes a client may be allowed to ask for.
pub const KNOWN_SCOPES: &[&str] = &["openid", "profile", "email", "orgs", "offline_access"];
pub const SCOPE_OPENID: &str = "openid";
pub const SCOPE_OFFLINE: &str = "offline_access";
/// Shortest access-token lifetime: shorter only multiplies refreshes.
pub const MIN_ACCESS_TOKEN_SECS: i64 = 30;
pub const MIN_REFRESH_TOKEN_SECS: i64 = 60;
pub const MAX_NAME_CHARS: usize = 200;
/// Random bytes in a generated secret (256 bits).
pub const SECRET_BYTES: usize = 32;
/// Random bytes in a generated client id (144 bits: 24 base64url characters).
const GENERATED_ID_BYTES: usize = 18;

/// What an operator or an org admin asks for. Absent fields take defaults: the auth method
/// from the kind, the grant `authorization_code` (plus `refresh_token` with `allowOffline`),
/// the scopes `openid profile email` (plus `offline_access` with `allowOffline`), the
/// lifetimes of `[core.oidc]`, ID tokens signed RS256 (OpenID Connect's default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientSpec {
    /// `[A-Za-z0-9._-]{3,64}`; generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    pub name: String,
    pub kind: ClientKind,
    #[serde(default, rename = "tokenEndpointAuthMethod")]
    pub token_endpoint_auth: Option<TokenEndpointAuth>,
    /// The client's public keys, for `private_key_jwt` only.
    #[serde(default)]
    pub jwks: Option<Value>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Option<BTreeSet<GrantType>>,
    #[serde(default)]
    pub scopes: Option<BTreeSet<String>>,
    #[serde(default)]
    pub org_id: Option<OrgId>,
    #[serde(default)]
    pub first_party: bool,
    #[serde(default)]
    pub id_token_alg: Option<IdTokenAlg>,
    #[serde(default)]
    pub access_token_secs: Option<i64>,
    #[serde(default)]
    pub refresh_token_secs: Option<i64>,
    #[serde(default)]
    pub allow_offline: bool,
    #[serde(default)]
    pub introspect_any: bool,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    /// RFC 8693: the `audience`/`resource` values the client may exchange tokens for; needs
    /// the token-exchange grant.
    #[serde(default)]
    pub token_exchange_audiences: Vec<String>,
}

/// A change to a registered client: a JSON merge patch (RFC 7396) over its [`ClientSpec`]'s
/// camelCase fields. Each member replaces that field; `null` resets an optional one to its
/// default. The client id and the kind never change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ClientPatch(pub serde_json::Map<String, Value>);

impl ClientPatch {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `spec` with this patch's fields in place; an unknown or ill-typed field is refused.
    pub fn apply(&self, spec: &ClientSpec) -> CoreResult<ClientSpec> {
        for fixed in ["clientId", "kind"] {
            if self.0.contains_key(fixed) {
                return Err(invalid(format!("{fixed} cannot change")));
            }
        }
        let Value::Object(mut fields) = serde_json::to_value(spec)
            .map_err(|e| CoreError::Internal(format!("client spec: {e}")))?
        else {
            return Err(CoreError::Internal("client spec is not an object".into()));
        };
        fields.extend(self.0.clone());
        serde_json::from_value(Value::Object(fields)).map_err(|e| invalid(e.to_string()))
    }
}

impl From<&OAuthClient> for ClientSpec {
    /// The spec that validates back into `c`'s settings.
    fn from(c: &OAuthClient) -> Self {
        ClientSpec {
            client_id: Some(c.client_id.clone()),
            name: c.name.clone(),
            kind: c.kind,
            token_endpoint_auth: Some(c.token_endpoint_auth),
            jwks: c.jwks.clone(),
            redirect_uris: c.redirect_uris.clone(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
            grant_types: Some(c.grant_types.clone()),
            scopes: Some(c.scopes.clone()),
            org_id: c.org_id,
            first_party: c.first_party,
            id_token_alg: Some(c.id_token_alg),
            access_token_secs: Some(c.access_token_secs),
            refresh_token_secs: Some(c.refresh_token_secs),
            allow_offline: c.allow_offline,
            introspect_any: c.introspect_any,
            backchannel_logout_uri: c.backchannel_logout_uri.clone(),
            token_exchange_audiences: c.token_exchange_audiences.clone(),
        }
    }
}

fn invalid(m: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument(m.into())
}

impl ClientSpec {
    /// The client this spec describes, checked against every rule: enabled, not declarative,
    /// without secrets (the caller adds one, see [`generate_client_secret`]), created at `now`.
    /// Whether `org_id` names an org is the caller's to check (it needs the store).
    pub fn validate(self, cfg: &OidcConfig, now: Timestamp) -> CoreResult<OAuthClient> {
        let client_id = match self.client_id {
            Some(id) => {
                check_client_id(&id)?;
                id
            }
            None => crypto::random_token(GENERATED_ID_BYTES),
        };
        let name = self.name.trim().to_owned();
        check_name(&name)?;
        let public = self.kind == ClientKind::Public;
        let auth = check_auth(self.kind, self.token_endpoint_auth)?;
        let jwks = match (auth, self.jwks) {
            (TokenEndpointAuth::PrivateKeyJwt, Some(j)) => Some(check_jwks(j)?),
            (TokenEndpointAuth::PrivateKeyJwt, None) => {
                return Err(invalid(
                    "private_key_jwt needs jwks, the client's public keys",
                ));
            }
            (_, Some(_)) => {
                return Err(invalid(
                    "jwks is only for clients that authenticate with private_key_jwt",
                ));
            }
            (_, None) => None,
        };
        if public && self.introspect_any {
            return Err(invalid("a public client cannot introspect other tokens"));
        }
        let grant_types = self.grant_types.unwrap_or_else(|| {
            let mut g = BTreeSet::from([GrantType::AuthorizationCode]);
            if self.allow_offline {
                g.insert(GrantType::RefreshToken);
            }
            g
        });
        check_grants(&grant_types, self.allow_offline)?;
        check_client_credentials(&grant_types, self.kind, self.org_id)?;
        check_token_exchange(self.kind, &grant_types, &self.token_exchange_audiences)?;
        uris::check_list("redirect_uris", &self.redirect_uris, public)?;
        if grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(invalid(
                "redirect_uris: at least one is needed for the authorization_code grant",
            ));
        }
        uris::check_list(
            "post_logout_redirect_uris",
            &self.post_logout_redirect_uris,
            public,
        )?;
        if let Some(u) = &self.backchannel_logout_uri {
            uris::check_backchannel(u)?;
        }
        let scopes = self.scopes.unwrap_or_else(|| {
            let mut s: BTreeSet<String> = ["openid", "profile", "email"].map(String::from).into();
            if self.allow_offline {
                s.insert(SCOPE_OFFLINE.into());
            }
            s
        });
        check_scopes(&scopes, self.allow_offline)?;
        let access_token_secs = self.access_token_secs.unwrap_or(cfg.access_token_secs);
        if !(MIN_ACCESS_TOKEN_SECS..=cfg.max_access_token_secs).contains(&access_token_secs) {
            return Err(invalid(format!(
                "access_token_secs must be from {MIN_ACCESS_TOKEN_SECS} to {} \
                 (core.oidc.max_access_token_secs)",
                cfg.max_access_token_secs
            )));
        }
        // Never longer than an offline grant: also keeps expiry arithmetic far from overflow.
        let max_refresh = cfg.offline_secs.max(cfg.refresh_token_secs);
        let refresh_token_secs = self.refresh_token_secs.unwrap_or(cfg.refresh_token_secs);
        if !(MIN_REFRESH_TOKEN_SECS..=max_refresh).contains(&refresh_token_secs) {
            return Err(invalid(format!(
                "refresh_token_secs must be from {MIN_REFRESH_TOKEN_SECS} to {max_refresh} \
                 (core.oidc.offline_secs)"
            )));
        }
        Ok(OAuthClient {
            client_id,
            name,
            kind: self.kind,
            token_endpoint_auth: auth,
            secrets: Vec::new(),
            jwks,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types,
            scopes,
            org_id: self.org_id,
            first_party: self.first_party,
            id_token_alg: self.id_token_alg.unwrap_or(IdTokenAlg::Rs256),
            access_token_secs,
            refresh_token_secs,
            allow_offline: self.allow_offline,
            introspect_any: self.introspect_any,
            backchannel_logout_uri: self.backchannel_logout_uri,
            token_exchange_audiences: self.token_exchange_audiences,
            declarative: false,
            disabled_at: None,
            created_at: now,
            updated_at: now,
        })
    }
}

/// `[A-Za-z0-9._-]{3,64}`.
pub fn check_client_id(id: &str) -> CoreResult<()> {
    let ok = (3..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "client_id {id:?} must be 3 to 64 of A-Z a-z 0-9 . _ -"
        )))
    }
}

fn check_name(name: &str) -> CoreResult<()> {
    if name.is_empty() {
        return Err(invalid("name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "name must be at most {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

/// Whether the method authenticates with a client secret.
pub fn uses_secret(auth: TokenEndpointAuth) -> bool {
    matches!(
        auth,
        TokenEndpointAuth::ClientSecretBasic | TokenEndpointAuth::ClientSecretPost
    )
}

/// A public client cannot keep a secret (RFC 6749 §2.1), so it authenticates with nothing; a
/// confidential one must authenticate.
fn check_auth(kind: ClientKind, auth: Option<TokenEndpointAuth>) -> CoreResult<TokenEndpointAuth> {
    match (kind, auth) {
        (ClientKind::Public, None | Some(TokenEndpointAuth::None)) => Ok(TokenEndpointAuth::None),
        (ClientKind::Public, Some(a)) => Err(invalid(format!(
            "a public client has no secret or key: tokenEndpointAuthMethod must be none, not {a}"
        ))),
        (ClientKind::Confidential, None) => Ok(TokenEndpointAuth::ClientSecretBasic),
        (ClientKind::Confidential, Some(TokenEndpointAuth::None)) => Err(invalid(
            "a confidential client must authenticate: tokenEndpointAuthMethod \
             client_secret_basic, client_secret_post or private_key_jwt",
        )),
        (ClientKind::Confidential, Some(a)) => Ok(a),
    }
}

fn check_grants(grants: &BTreeSet<GrantType>, allow_offline: bool) -> CoreResult<()> {
    if grants.is_empty() {
        return Err(invalid("grant_types must not be empty"));
    }
    if grants.contains(&GrantType::RefreshToken)
        && !grants.contains(&GrantType::AuthorizationCode)
        && !grants.contains(&GrantType::DeviceCode)
    {
        return Err(invalid(
            "grant_types: refresh_token needs authorization_code or the device code grant \
             (refresh tokens come from codes)",
        ));
    }
    if allow_offline && !grants.contains(&GrantType::RefreshToken) {
        return Err(invalid(
            "allow_offline needs the refresh_token grant (offline access is a refresh token)",
        ));
    }
    Ok(())
}

/// A client-credentials client acts as a service account of its org: it must be able to
/// authenticate (confidential) and have an org to act in.
fn check_client_credentials(
    grants: &BTreeSet<GrantType>,
    kind: ClientKind,
    org: Option<OrgId>,
) -> CoreResult<()> {
    if !grants.contains(&GrantType::ClientCredentials) {
        return Ok(());
    }
    if kind != ClientKind::Confidential {
        return Err(invalid(
            "grant_types: client_credentials is for confidential clients only \
             (a public client cannot prove who it is)",
        ));
    }
    if org.is_none() {
        return Err(invalid(
            "grant_types: client_credentials needs orgId (the client acts as a service \
             account of that org)",
        ));
    }
    Ok(())
}

/// At most this many token-exchange audiences per client, each at most this long.
const MAX_EXCHANGE_AUDIENCES: usize = 32;
const MAX_AUDIENCE_LEN: usize = 512;

/// RFC 8693 is for clients that can prove who they are (a public client could be anyone), and
/// the audiences must be unambiguous values: printable, no spaces, no duplicates.
fn check_token_exchange(
    kind: ClientKind,
    grants: &BTreeSet<GrantType>,
    audiences: &[String],
) -> CoreResult<()> {
    let exchanges = grants.contains(&GrantType::TokenExchange);
    if exchanges && kind == ClientKind::Public {
        return Err(invalid(
            "grant_types: a public client cannot use token exchange (it cannot authenticate)",
        ));
    }
    if !audiences.is_empty() && !exchanges {
        return Err(invalid(
            "token_exchange_audiences needs the urn:ietf:params:oauth:grant-type:token-exchange grant",
        ));
    }
    if audiences.len() > MAX_EXCHANGE_AUDIENCES {
        return Err(invalid(format!(
            "token_exchange_audiences: at most {MAX_EXCHANGE_AUDIENCES}"
        )));
    }
    let mut seen = BTreeSet::new();
    for a in audiences {
        let printable = a.bytes().all(|b| b.is_ascii_graphic());
        if a.is_empty() || a.len() > MAX_AUDIENCE_LEN || !printable {
            return Err(invalid(format!(
                "token_exchange_audiences: {a:?} must be 1 to {MAX_AUDIENCE_LEN} printable \
                 characters without spaces"
            )));
        }
        if !seen.insert(a.as_str()) {
            return Err(invalid(format!(
                "token_exchange_audiences: {a:?} is listed twice"
            )));
        }
    }
    Ok(())
}

fn check_scopes(scopes: &BTreeSet<String>, allow_offline: bool) -> CoreResult<()> {
    if let Some(s) = scopes.iter().find(|s| !KNOWN_SCOPES.contains(&s.as_str())) {
        return Err(invalid(format!(
            "scope {s:?} is not offered; choose from {}",
            KNOWN_SCOPES.join(" ")
        )));
    }
    if !scopes.contains(SCOPE_OPENID) {
        return Err(invalid(
            "scopes must include openid (this is an OpenID provider)",
        ));
    }
    if scopes.contains(SCOPE_OFFLINE) && !allow_offline {
        return Err(invalid("scope offline_access needs allow_offline"));
    }
    Ok(())
}

/// At most this many keys in a client's JWKS.
const MAX_JWKS_KEYS: usize = 16;
/// JWK members that hold private or symmetric key material (RFC 7518 §6).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A JWK Set of public signing keys only: RSA, EC or OKP, each usable by the JWT library, none
/// carrying a private part (a client that sends its private key has leaked it).
fn check_jwks(jwks: Value) -> CoreResult<Value> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("jwks must be a JWK Set: {\"keys\": [...]}"))?;
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return Err(invalid(format!(
            "jwks must hold 1 to {MAX_JWKS_KEYS} public keys"
        )));
    }
    for (i, key) in keys.iter().enumerate() {
        let kty = key.get("kty").and_then(Value::as_str).unwrap_or_default();
        if !matches!(kty, "RSA" | "EC" | "OKP") {
            return Err(invalid(format!(
                "jwks key {i}: kty {kty:?} is not a public-key type (RSA, EC or OKP)"
            )));
        }
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(invalid(format!(
                "jwks key {i} holds a private part ({m:?}): register public keys only"
            )));
        }
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.clone())
            .map_err(|e| invalid(format!("jwks key {i} is not a valid JWK: {e}")))?;
        jsonwebtoken::DecodingKey::from_jwk(&jwk)
            .map_err(|e| invalid(format!("jwks key {i} is not a usable key: {e}")))?;
    }
    Ok(jwks)
}

/// A secret shown once: the plaintext for the client's owner, and what the store keeps.
pub struct IssuedSecret {
    pub secret: Zeroizing<String>,
    pub stored: ClientSecret,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("secret", &"<redacted>")
            .field("stored", &self.stored)
            .finish()
    }
}

/// A new secret: 256 random bits, base64url; stored only as its hash.
pub fn generate_client_secret(now: Timestamp) -> IssuedSecret {
    let secret = Zeroizing::new(crypto::random_token(SECRET_BYTES));
    let stored = ClientSecret {
        hash: hash_client_secret(&secret),
        created_at: now,
        expires_at: None,
    };
    IssuedSecret { secret, stored }
}

/// Hex SHA-256 of a secret, as stored. A plain hash suffices: secrets are 256 random bits,
/// beyond any guessing, so a slow password hash would only cost every token request.
pub fn hash_client_secret(secret: &str) -> String {
    hex::encode(crypto::sha256(secret.as_bytes()))
}

/// Whether `presented` is one of the client's live secrets at `now`. Compares in constant time
/// against every stored secret (no early exit). `false` for a disabled client and for one that
/// does not authenticate with a secret.
pub fn verify_client_secret(client: &OAuthClient, presented: &str, now: Timestamp) -> bool {
    if client.is_disabled()
        || client.kind != ClientKind::Confidential
        || !uses_secret(client.token_endpoint_auth)
    {
        return false;
    }
    let hash = hash_client_secret(presented);
    client.secrets.iter().fold(false, |found, s| {
        let same = crypto::constant_time_eq(hash.as_bytes(), s.hash.as_bytes());
        found | (same & s.is_live(now))
    })
}
