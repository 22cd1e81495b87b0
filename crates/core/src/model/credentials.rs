//! Long-lived credentials and the signing and CA keys.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A Nominal API key.
    ApiKey,
    /// A Parsable persistent token.
    Persistent,
}

impl CredentialKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::ApiKey => "api_key",
            CredentialKind::Persistent => "persistent",
        }
    }
}

impl FromStr for CredentialKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "api_key" => Ok(CredentialKind::ApiKey),
            "persistent" => Ok(CredentialKind::Persistent),
            other => Err(format!("unknown credential kind {other:?}")),
        }
    }
}

/// A long-lived credential. Only the SHA-256 of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: CredentialId,
    pub kind: CredentialKind,
    /// The user the credential acts as.
    pub user_id: UserId,
    pub org_id: OrgId,
    pub creator_id: UserId,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: [u8; 32],
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<UserId>,
}

impl Credential {
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// A signing or CA key, its private half sealed under the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub kid: String,
    pub purpose: KeyPurpose,
    pub algorithm: String,
    /// Ciphertext of the private key (see `crypto::seal`).
    pub sealed_private: Vec<u8>,
    /// Public key: raw bytes for Ed25519, SubjectPublicKeyInfo DER for RSA, the uncompressed
    /// SEC1 point for P-256; certificate PEM for the CA.
    pub public: Vec<u8>,
    pub created_at: Timestamp,
    /// Set when a newer key took over signing; the public half stays published for verification.
    pub retired_at: Option<Timestamp>,
    /// Set by an emergency revocation: the key verifies nothing from then on.
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Ed25519 (`EdDSA`): access tokens, and ID tokens of clients that ask for EdDSA.
    TokenSigning,
    CertificateAuthority,
    /// RSA-2048 (`RS256`): ID and logout tokens.
    IdTokenRs256,
    /// P-256 (`ES256`): ID and logout tokens.
    IdTokenEs256,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::TokenSigning => "token_signing",
            KeyPurpose::CertificateAuthority => "certificate_authority",
            KeyPurpose::IdTokenRs256 => "id_token_rs256",
            KeyPurpose::IdTokenEs256 => "id_token_es256",
        }
    }
}

impl FromStr for KeyPurpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "token_signing" => Ok(KeyPurpose::TokenSigning),
            "certificate_authority" => Ok(KeyPurpose::CertificateAuthority),
            "id_token_rs256" => Ok(KeyPurpose::IdTokenRs256),
            "id_token_es256" => Ok(KeyPurpose::IdTokenEs256),
            other => Err(format!("unknown key purpose {other:?}")),
        }
    }
}
