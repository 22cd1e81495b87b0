//! Clients registered without an operator (docs/design/oidc-provider.md, "Registration"):
//! dynamic registration (RFC 7591/7592) and Client ID Metadata Documents, and the initial
//! access tokens that may be required to register.

use super::*;

/// How a client came to be registered without an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegistrationSource {
    /// `POST /register` (RFC 7591); managed with its registration access token (RFC 7592).
    #[serde(rename = "dynamic")]
    Dynamic,
    /// The client id is an https URL whose JSON document describes the client.
    #[serde(rename = "metadata_document")]
    MetadataDocument,
}

impl RegistrationSource {
    /// The name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationSource::Dynamic => "dynamic",
            RegistrationSource::MetadataDocument => "metadata_document",
        }
    }
}

impl FromStr for RegistrationSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dynamic" => Ok(RegistrationSource::Dynamic),
            "metadata_document" => Ok(RegistrationSource::MetadataDocument),
            other => Err(format!("unknown registration source {other:?}")),
        }
    }
}

/// What a self-registered client registered, beside its [`OAuthClient`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistration {
    pub client_id: String,
    pub source: RegistrationSource,
    /// The client metadata as accepted (RFC 7591 member names), answered on RFC 7592 reads.
    pub metadata: serde_json::Value,
    /// Hex SHA-256 of the registration access token (dynamic clients); `None` once the
    /// registration was deleted.
    pub access_token_hash: Option<String>,
    /// A metadata document is fetched again after this instant.
    pub refresh_after: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A token an operator hands out so that someone may register one or more clients
/// (`core.oidc.registration.mode = "initial_token"`). Stored only as its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialAccessToken {
    pub id: Uuid,
    /// Hex SHA-256 of the token.
    pub token_hash: String,
    /// The operator's note on whom it was for.
    pub label: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// How many registrations it allows; `None`: any number until it expires.
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<Timestamp>,
}

impl InitialAccessToken {
    /// Not revoked, not expired and with a use left.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && self.expires_at.is_none_or(|e| e > now)
            && self.max_uses.is_none_or(|m| self.uses < m)
    }
}
