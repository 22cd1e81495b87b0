//! The OpenID provider's records: registered clients and their secrets, authorization codes,
//! refresh tokens, remembered consents and back-channel logout notices
//! (docs/design/oidc-provider.md).

use super::*;

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used on the wire, in configuration and in the store.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} {other:?}", stringify!($name))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// RFC 6749 §2.1: whether a client can keep a secret.
    ClientKind { Confidential = "confidential", Public = "public" }
);

wire_enum!(
    /// How a client authenticates at the token, introspection and revocation endpoints.
    TokenEndpointAuth {
        ClientSecretBasic = "client_secret_basic",
        ClientSecretPost = "client_secret_post",
        PrivateKeyJwt = "private_key_jwt",
        None = "none",
    }
);

wire_enum!(
    /// The grants a client may use at the token endpoint (the last: RFC 8628's device grant).
    GrantType {
        AuthorizationCode = "authorization_code",
        RefreshToken = "refresh_token",
        ClientCredentials = "client_credentials",
        TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange",
        DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
    }
);

wire_enum!(
    /// The algorithm a client's ID tokens are signed with (`id_token_signed_response_alg`).
    IdTokenAlg { Rs256 = "RS256", Es256 = "ES256", EdDsa = "EdDSA" }
);

/// One client secret, stored only as the SHA-256 of its 256 random bits. A rotated secret keeps
/// working until `expires_at` (the grace period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSecret {
    /// Hex SHA-256 of the secret.
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl ClientSecret {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|e| e > now)
    }
}

/// A registered relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub client_id: String,
    pub name: String,
    pub kind: ClientKind,
    pub token_endpoint_auth: TokenEndpointAuth,
    /// Live and grace-period secrets (confidential clients with a secret method).
    pub secrets: Vec<ClientSecret>,
    /// The client's public keys for `private_key_jwt` (a JWK Set).
    pub jwks: Option<serde_json::Value>,
    /// Exact-match redirect URIs.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: BTreeSet<GrantType>,
    /// The scopes the client may ask for.
    pub scopes: BTreeSet<String>,
    /// The org the client belongs to; `None` for a global client.
    pub org_id: Option<OrgId>,
    /// First-party clients skip the consent screen.
    pub first_party: bool,
    pub id_token_alg: IdTokenAlg,
    pub access_token_secs: i64,
    pub refresh_token_secs: i64,
    /// May ask for `offline_access` (refresh tokens that outlive the browser session).
    pub allow_offline: bool,
    /// May introspect every token, not only its own.
    pub introspect_any: bool,
    pub backchannel_logout_uri: Option<String>,
    /// The audiences (`audience` / `resource` values) the client may exchange tokens for
    /// (RFC 8693); empty: none.
    pub token_exchange_audiences: Vec<String>,
    /// Declared in the configuration file: the file is its source of truth.
    pub declarative: bool,
    pub disabled_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl OAuthClient {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// An authorization code, stored by the hash of the code. Single use: redeeming sets
/// `consumed_at` and the grant session it started, so a replay can revoke that session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// Hex SHA-256 of the code.
    pub code_hash: String,
    pub client_id: String,
    /// The browser sign-in the code was issued in.
    pub browser_session: SessionId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// S256 PKCE challenge (base64url).
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub consumed_at: Option<Timestamp>,
    /// The session the redemption started.
    pub grant_session: Option<SessionId>,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now consumed.
    Redeemed(AuthorizationCode),
    /// The code was already used: a replay.
    AlreadyUsed(AuthorizationCode),
    Unknown,
}

/// A refresh token, stored by its hash. Its family is the grant session: every rotation issues
/// a new token in the same session, and reuse of a rotated one ends the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    pub grant_session: SessionId,
    pub client_id: String,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub scopes: Vec<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// Set when it was exchanged for a successor.
    pub rotated_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRedemption {
    /// The current token of its family: it is now rotated.
    Current(RefreshToken),
    /// Already rotated or revoked: reuse.
    Reused(RefreshToken),
    Unknown,
}

/// Scopes a user granted a third-party client, remembered until revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub user_id: UserId,
    pub client_id: String,
    pub scopes: BTreeSet<String>,
    pub granted_at: Timestamp,
}

/// A back-channel logout token to deliver to a client (an outbox row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutNotice {
    pub id: Uuid,
    pub client_id: String,
    pub uri: String,
    pub user_id: UserId,
    /// The `sid` the client saw in its ID tokens (the browser session).
    pub sid: SessionId,
    pub created_at: Timestamp,
    pub attempts: i32,
    pub next_attempt_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// Marks a session as the tokens one client got in one browser sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionGrant {
    pub client_id: String,
    /// The browser sign-in it came from; ending that ends this too, unless `offline`.
    pub parent: Option<SessionId>,
    pub offline: bool,
}
